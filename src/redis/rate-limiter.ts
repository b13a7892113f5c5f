import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ConfigError } from '../core/config-error.js';
import { RateLimiter, type BucketLimit, type RateLimitBackend, type RateLimitBucket } from '../core/rate-limiter.js';
import type { Logger } from '../core/types.js';
import { MicroBatcher } from '../stores/redis/micro-batcher.js';
import { isCluster, RedisConnection, type RedisClient } from '../stores/redis/redis-connection.js';

/** Most consumes sent in one script call. */
const MAX_CONSUME_BATCH = 128;

/** One consume, as the script takes it (`lua/consume-rate-limits-n.lua`). */
interface ConsumeItem {
  /** The counter key, `<keyPrefix>:<bucket>:<user>|<device>`. */
  readonly key: string;
  readonly points: number;
  readonly limit: number;
  readonly secDuration: number;
  readonly blockMs: number;
}

/**
 * Sends consumes to Redis: those that arrive while an earlier call is on the wire go together as one
 * script call (a lone consume goes out at once). On a Cluster client each consume is its own call,
 * as the counters of different users live in different slots.
 */
class CounterClient {
  private readonly redis: RedisConnection;
  private readonly batcher: MicroBatcher<ConsumeItem, RateLimiterRes> | undefined;

  constructor(
    readonly client: RedisClient,
    timeoutMs: number,
  ) {
    this.redis = new RedisConnection(client, timeoutMs);
    this.batcher = isCluster(client) ? undefined : new MicroBatcher((items) => this.run(items), MAX_CONSUME_BATCH);
  }

  /** Resolves with the counter's state after the consume; `msBeforeNext` \> 0 only when refused. */
  consume(item: ConsumeItem): Promise<RateLimiterRes> {
    if (this.batcher !== undefined) return this.batcher.submit(item);
    return this.run([item]).then((results) => results[0]!);
  }

  private async run(items: readonly ConsumeItem[]): Promise<RateLimiterRes[]> {
    const args: number[] = [];
    for (const item of items) args.push(item.points, item.limit, item.secDuration, item.blockMs);
    const reply = (await this.redis.script(
      'consumeRateLimits',
      items.map((item) => item.key),
      args,
    )) as readonly unknown[];
    return items.map((item, i) => {
      const consumed = Number(reply[2 * i]);
      const refusedFor = reply[2 * i + 1];
      const msBeforeNext = typeof refusedFor === 'number' ? refusedFor : 0;
      return new RateLimiterRes(Math.max(item.limit - consumed, 0), msBeforeNext, consumed, consumed === item.points);
    });
  }
}

/**
 * One bucket's counters in Redis, with rate-limiter-flexible's `RateLimiterRedis` semantics (same
 * key, fixed window in whole seconds, block, `msBeforeNext`), and its behaviour with
 * `rejectIfRedisNotReady` and `RLWrapperTimeouts`: while the client is not ready, or when Redis does
 * not answer within `timeoutMs`, the in-memory insurance limiter (same limits, this process only)
 * answers instead.
 */
class RedisRateLimitBackend implements RateLimitBackend {
  private readonly insurance: RateLimiterMemory;
  private readonly secDuration: number;
  private readonly blockMs: number;

  constructor(
    private readonly counters: CounterClient,
    private readonly keyPrefix: string,
    private readonly limit: BucketLimit,
    private readonly timeoutMs: number,
  ) {
    this.secDuration = limit.durationMs / 1000;
    this.blockMs = limit.blockDurationMs ?? 0;
    this.insurance = new RateLimiterMemory({ keyPrefix, points: limit.points, duration: this.secDuration, blockDuration: this.blockMs / 1000 });
  }

  consume(key: string, points = 1): Promise<RateLimiterRes> {
    if (!Number.isSafeInteger(points) || points <= 0) return Promise.reject(new TypeError(`points must be an integer > 0 (got ${String(points)})`));
    // Don't queue behind a reconnecting client: answer from memory at once.
    if (this.counters.client.status !== 'ready') return this.insurance.consume(key, points);
    return new Promise<RateLimiterRes>((resolve, reject) => {
      let settled = false;
      const fallBack = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.insurance.consume(key, points).then(resolve, reject);
      };
      const timer = setTimeout(fallBack, this.timeoutMs);
      const { points: limit } = this.limit;
      this.counters.consume({ key: `${this.keyPrefix}:${key}`, points, limit, secDuration: this.secDuration, blockMs: this.blockMs }).then((res) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (res.consumedPoints > limit) reject(res);
        else resolve(res);
      }, fallBack);
    });
  }
}

/**
 * Redis keeps these windows in whole seconds: a duration under one second would become a counter
 * that never expires (a permanent lockout once the points run out), and 1,500 ms would quietly
 * become 1 s. Refuse both instead.
 *
 * @internal
 */
export function assertWholeSeconds(bucket: RateLimitBucket, limit: BucketLimit): void {
  const block = limit.blockDurationMs ?? 0;
  if (limit.durationMs % 1000 !== 0 || block % 1000 !== 0) {
    throw new ConfigError(
      'ERR_DE_RATE_LIMIT_INVALID',
      `rate limit "${bucket}" shared through Redis needs durationMs and blockDurationMs in whole seconds (got ${JSON.stringify(limit)})`,
    );
  }
}

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

/** Checks a timeout option. @internal */
export function checkTimeout(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `${name} must be an integer > 0 (got ${String(value)})`);
  }
  return value;
}

/**
 * A {@link RateLimiter} whose counters live in Redis, so limits hold across every worker process.
 * Each counter is exactly rate-limiter-flexible's `RateLimiterRedis` counter (same key, value, expiry
 * and block); while Redis is unreachable (or does not answer within `timeoutMs`) each process answers
 * from an in-memory insurance limiter with the same limits (per process, so the fleet as a whole
 * admits up to N times the limit during an outage).
 *
 * @remarks
 * Consumes that arrive while an earlier one is still on its way to Redis are sent together as one
 * script call (a lone consume goes out at once). On a Redis Cluster client each consume is its own
 * call, as the counters of different users live in different slots.
 *
 * With the Redis store, prefer `createRedisDelayedEvents`, whose limiter takes a heartbeat's `manage`
 * point inside the store's restart script (one round trip per heartbeat instead of two).
 *
 * @example
 * ```ts
 * const rateLimiter = createRedisRateLimiter({ client, buckets: { manage: { points: 20, durationMs: 10_000 } } });
 * const scheduler = new DelayedEventScheduler({ store, rateLimiter, sendEvent });
 * ```
 *
 * @throws `ConfigError` `ERR_DE_RATE_LIMIT_INVALID` for a malformed limit or one not in whole seconds,
 * `ERR_DE_OPTION_INVALID` for a malformed `timeoutMs`.
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RateLimiter {
  const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? 1000);
  const counters = new CounterClient(options.client, timeoutMs);
  return new RateLimiter({
    buckets: options.buckets,
    keyPrefix: options.keyPrefix ?? 'mde:rl',
    createBackend: (bucket, limit, keyPrefix) => {
      assertWholeSeconds(bucket, limit);
      return new RedisRateLimitBackend(counters, `${keyPrefix}:${bucket}`, limit, timeoutMs);
    },
    logger: options.logger,
  });
}
