import { RateLimiterMemory, RateLimiterRedis, RLWrapperTimeouts, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimiter, type BucketLimit, type RateLimitBucket } from '../../core/rate-limiter.js';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/types.js';
import type { RedisClient } from './redis-connection.js';

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  /** The ioredis client the counters live on (usually the one the store uses). */
  readonly client: RedisClient;
  /**
   * Per-bucket limits; `false` turns a bucket off. Buckets not named keep their default.
   * @defaultValue the defaults of `RateLimiter`
   */
  readonly buckets?: Partial<Record<RateLimitBucket, BucketLimit | false>>;
  /**
   * Prefix of every counter key (`<keyPrefix>:<bucket>:<user>|<device>`).
   * @defaultValue `"mde:rl"`
   */
  readonly keyPrefix?: string;
  /**
   * How long to wait for Redis before answering from the in-memory insurance limiter, in ms (a Redis
   * that accepts connections but does not answer must not stall requests).
   * @defaultValue 1000
   */
  readonly timeoutMs?: number;
  /** Where limiter faults are reported. */
  readonly logger?: Logger;
}

/**
 * A {@link RateLimiter} whose counters live in Redis, so limits hold across every worker process.
 * Built on rate-limiter-flexible's `RateLimiterRedis`; while Redis is unreachable (or does not answer
 * within `timeoutMs`) each process answers from an in-memory insurance limiter with the same limits
 * (per process, so the fleet as a whole admits up to N times the limit during an outage).
 *
 * @example
 * ```ts
 * const rateLimiter = createRedisRateLimiter({ client, buckets: { manage: { points: 20, durationMs: 10_000 } } });
 * const scheduler = new DelayedEventScheduler({ store, rateLimiter, sendEvent });
 * ```
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RateLimiter {
  const client = options.client;
  const timeoutMs = options.timeoutMs ?? 1000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `timeoutMs must be an integer > 0 (got ${String(timeoutMs)})`);
  }
  const backend = (bucket: RateLimitBucket, limit: BucketLimit, keyPrefix: string): RateLimiterAbstract => {
    const common = {
      keyPrefix: `${keyPrefix}:${bucket}`,
      points: limit.points,
      duration: limit.durationMs / 1000,
      blockDuration: (limit.blockDurationMs ?? 0) / 1000,
    };
    const insuranceLimiter = new RateLimiterMemory(common);
    const redis = new RateLimiterRedis({
      ...common,
      storeClient: client,
      // Don't queue behind a reconnecting client: use the insurance limiter at once.
      rejectIfRedisNotReady: true,
      insuranceLimiter,
    });
    return new RLWrapperTimeouts({ limiter: redis, timeoutMs, insuranceLimiter });
  };
  return new RateLimiter({
    buckets: options.buckets,
    keyPrefix: options.keyPrefix ?? 'mde:rl',
    createBackend: backend,
    logger: options.logger,
  });
}
