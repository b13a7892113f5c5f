/**
 * Test helpers with no peer dependencies: a {@link ManualClock} for deterministic time. The store
 * conformance suite, which needs Vitest and fast-check, lives in `matrix-delayed-events/testing/conformance`
 * so that this entry loads anywhere, under `import` and `require()` alike.
 *
 * @module
 */
export { ManualClock } from './manual-clock.js';
