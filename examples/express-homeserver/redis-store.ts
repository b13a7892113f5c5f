/**
 * EXAMPLE HOMESERVER — opens the Redis store and Redis-backed rate limits (`DELAYED_EVENTS_STORE=redis`).
 * `main.ts` loads this module with a dynamic import only when Redis is asked for, so the memory path
 * never loads ioredis.
 */
import { Redis } from 'ioredis';
import type { BucketLimit, RateLimitBucket, RateLimiterLike } from '../../src/core/rate-limiter.js';
import type { Logger } from '../../src/core/types.js';
import { createRedisDelayedEvents } from '../../src/redis/index.js';
import type { RedisStore } from '../../src/redis/index.js';

/** What {@link openRedis} opened. */
export interface OpenedRedis {
  readonly store: RedisStore;
  /**
   * Rate limits shared by every process on this Redis (the library's default buckets unless
   * configured); paired with the store, so a heartbeat's `manage` point is charged in its restart call.
   */
  readonly rateLimiter: RateLimiterLike;
  /** Closes the store and the client. */
  close(): Promise<void>;
}

/**
 * Connects to Redis at `url` (failing fast when unreachable) and opens the store and rate limiter as
 * one pair (`createRedisDelayedEvents`: a MatrixRTC heartbeat is one Redis round trip). Counters live
 * under `mde-example:rl:`.
 *
 * @param buckets - Rate limits per bucket, as configured.
 */
export async function openRedis(
  url: string,
  buckets: Partial<Record<RateLimitBucket, BucketLimit | false>> | undefined,
  logger: Logger,
): Promise<OpenedRedis> {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  client.on('error', (error: Error) => logger.warn?.(`redis: ${error.message}`));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new Error(`cannot connect to Redis at ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { store, rateLimiter } = createRedisDelayedEvents({ client, keyPrefix: 'mde-example', logger, ...(buckets ? { buckets } : {}) });
  return {
    store,
    rateLimiter,
    async close() {
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
