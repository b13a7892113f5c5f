/**
 * The store conformance suite: {@link describeStoreConformance} registers Vitest cases, including a
 * fast-check property test, against any `DelayedEventStore` (from the main entry). Vitest and
 * fast-check are optional peer dependencies needed only here, and this entry is ESM-only because
 * Vitest cannot be `require()`d.
 *
 * @module
 */
export { describeStoreConformance } from './store-conformance.js';
export type { StoreTestContext, StoreUnderTest, StoreConformanceOptions } from './store-conformance.js';
