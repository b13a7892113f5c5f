import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: real-Redis and multi-process tests must not starve each other.
    maxWorkers: 2,
    // The JSON report feeds the "N passed, N failed" line that .ci/run prints.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'library',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/package/**'],
          globalSetup: ['test/setup/redis-global-setup.ts', 'test/setup/current-sdk-global-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          // Packing and installing load both cores for a minute; run alone, after the timing-sensitive
          // tests, instead of slowing them into failures.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
