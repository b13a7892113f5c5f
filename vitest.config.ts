import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: real-Redis and multi-process tests must not starve each other.
    maxWorkers: 2,
    // The JSON report feeds the "N passed, N failed" line that .ci/run prints.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    // Heavy groups run one after another, after the timing-sensitive library tests, instead of taking
    // CPU from them: the Redis Cluster tests (6 redis-servers and 3 worker processes each), then the
    // packed-package tests (packing and installing load both cores for a minute).
    projects: [
      {
        extends: true,
        test: {
          name: 'library',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/package/**', 'test/cluster/**'],
          globalSetup: ['test/setup/redis-global-setup.ts', 'test/setup/current-sdk-global-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'package', include: ['test/package/**/*.test.ts'], sequence: { groupOrder: 2 } } },
    ],
  },
});
