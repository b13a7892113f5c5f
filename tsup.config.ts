import { rmSync } from 'node:fs';
import { defineConfig } from 'tsup';
import type { Options } from 'tsup';

/** Entries built as ESM and as CJS. */
const dualEntries = {
  index: 'src/index.ts',
  testing: 'src/testing/index.ts',
  redis: 'src/redis/index.ts',
  express: 'src/adapters/express/index.ts',
  node: 'src/adapters/node/index.ts',
  prometheus: 'src/prometheus/index.ts',
  fetch: 'src/adapters/fetch/index.ts',
  fastify: 'src/adapters/fastify/index.ts',
};

const shared: Options = {
  dts: true,
  sourcemap: true,
  target: 'node20',
  // Without splitting, tsup gives each CJS entry its own copy of the error classes (tsup#408).
  splitting: true,
  external: ['ioredis', 'express', 'fastify', 'vitest', 'fast-check', 'rate-limiter-flexible', 'prom-client'],
  // Two configs write into one dist/: tsup's own `clean` runs per config, at times that race with the other
  // config's output (its dts step deletes every .d.ts it finds), so dist/ is emptied once, below, instead.
  clean: false,
};

export default defineConfig(() => {
  rmSync('dist', { recursive: true, force: true });
  return [
    // The conformance suite is ESM-only: Vitest cannot be require()d, so a CJS build of it could never load.
    { ...shared, format: ['esm'], entry: { ...dualEntries, 'testing/conformance': 'src/testing/conformance.ts' } },
    { ...shared, format: ['cjs'], entry: dualEntries },
  ];
});
