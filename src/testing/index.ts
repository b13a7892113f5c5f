/**
 * Test helpers: a {@link ManualClock} for deterministic time and {@link describeStoreConformance}, the
 * store conformance suite (Vitest and fast-check are optional peer dependencies needed only here).
 *
 * @module
 */
export { ManualClock } from './manual-clock.js';
export { describeStoreConformance } from './store-conformance.js';
export type { StoreTestContext, StoreUnderTest, StoreConformanceOptions } from './store-conformance.js';
