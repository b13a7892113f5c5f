import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/setup/redis-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: real-Redis and multi-process tests must not starve each other.
    maxWorkers: 2,
    // The JSON report feeds the "N passed, N failed" line that .ci/run prints.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    // The Redis Cluster tests (test/cluster: 6 redis-servers and 3 worker processes each) run after
    // everything else, so they never take CPU from the timing-sensitive tests.
    projects: [
      { extends: true, test: { name: 'main', sequence: { groupOrder: 0 }, include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', 'test/cluster/**'] } },
      { extends: true, test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
