import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { describeStoreConformance } from '../../../src/testing/store-conformance.js';

describeStoreConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }), { propertyRuns: 200 });
