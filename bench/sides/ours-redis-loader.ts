/**
 * Loads the library's Redis parts (`createRedisStore`, `createRedisRateLimiter` from
 * src/stores/redis/index.ts) only when a Redis side of ours runs.
 */
import type { Redis } from 'ioredis';
import type { DelayedEventStore } from '../../src/stores/store.js';
import type { RateLimiter, BucketLimit, RateLimitBucket } from '../../src/core/rate-limiter.js';

/** The two factories the benchmark uses. */
export interface RedisParts {
  createRedisStore(options: { client: Redis; keyPrefix?: string }): DelayedEventStore;
  createRedisRateLimiter(options: { client: Redis; buckets?: Partial<Record<RateLimitBucket, BucketLimit | false>> }): RateLimiter;
}

export async function loadRedisParts(): Promise<RedisParts> {
  const path = '../../src/stores/redis/index.js';
  return (await import(path)) as RedisParts;
}
