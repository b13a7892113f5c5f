import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing/index.ts',
    redis: 'src/stores/redis/index.ts',
    express: 'src/adapters/express/index.ts',
    node: 'src/adapters/node/index.ts',
    fetch: 'src/adapters/fetch/index.ts',
    fastify: 'src/adapters/fastify/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Without splitting, tsup gives each CJS entry its own copy of the error classes (tsup#408).
  splitting: true,
  external: ['ioredis', 'express', 'fastify', 'vitest', 'rate-limiter-flexible'],
});
