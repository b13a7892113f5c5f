import { RateLimitedError } from '../core/errors.js';
import { counterKey, type RateLimitBucket, type RateLimiter, type RateLimiterLike, type ConsumeResult } from '../core/rate-limiter.js';
import type { Logger, Requester } from '../core/types.js';
import { ChargeLink, type FusedCharge } from '../stores/redis/fused-charge.js';
import { isCluster, type RedisClient } from '../stores/redis/redis-connection.js';
import { newRedisStore, type RedisStore } from '../stores/redis/redis-store.js';
import { checkTimeout, createRedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter.js';

/** Options of {@link createRedisDelayedEvents}. */
export interface RedisDelayedEventsOptions {
  /**
   * A ready ioredis client (`Redis` or `Cluster`), for the store and the rate limits alike. Neither
   * creates or closes it. Recommended: `enableOfflineQueue: false` and `maxRetriesPerRequest: 1`
   * (see `docs/guide/operations.md`).
   */
  readonly client: RedisClient;
  /**
   * First part of every key; use one per deployment sharing a Redis. Rate-limit counters are
   * `<keyPrefix>:rl:<bucket>:<user>|<device>`.
   * @defaultValue `"mde"`
   */
  readonly keyPrefix?: string;
  /**
   * Hash tag in every store key (see `RedisStoreOptions.hashTag`).
   * @defaultValue the `keyPrefix`
   */
  readonly hashTag?: string;
  /**
   * Per-bucket limits; `false` turns a bucket off. Buckets not named keep their default. Windows and
   * blocks must be whole seconds.
   * @defaultValue the defaults of `RateLimiter`
   */
  readonly buckets?: RedisRateLimiterOptions['buckets'];
  /**
   * How long a store command may go unanswered before the call rejects, in ms.
   * @defaultValue 5000
   */
  readonly commandTimeoutMs?: number;
  /**
   * How long a rate-limit consume waits for Redis before the in-memory insurance limiter answers, in ms.
   * @defaultValue 1000
   */
  readonly limiterTimeoutMs?: number;
  /** Where connection problems and limiter faults are reported. */
  readonly logger?: Logger;
}

/** What {@link createRedisDelayedEvents} returns: pass both to `DelayedEventScheduler`. */
export interface RedisDelayedEvents {
  /** The Redis store. */
  readonly store: RedisStore;
  /** The Redis-backed rate limiter, whose `manage` point rides in the store's restart script. */
  readonly rateLimiter: RateLimiterLike;
}

/**
 * The pair's limiter: every bucket as the plain Redis limiter, except that `guard('manage', …)`
 * offers its point to the store through the link for the duration of the synchronous start of its
 * action (see `src/stores/redis/fused-charge.ts`).
 */
class FusedRateLimiter implements RateLimiterLike {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly link: ChargeLink,
    private readonly keyPrefix: string,
  ) {}

  isEnabled(bucket: RateLimitBucket): boolean {
    return this.limiter.isEnabled(bucket);
  }

  tryConsume(bucket: RateLimitBucket, who: Requester): Promise<ConsumeResult> {
    return this.limiter.tryConsume(bucket, who);
  }

  guard<T>(bucket: RateLimitBucket, who: Requester, action: () => Promise<T>): Promise<T> {
    // Called from the action of an enclosing `guard('manage', …)`: its point comes first.
    const outer = this.link.take();
    if (outer !== undefined) return outer.chargeSeparately().then(() => this.guard(bucket, who, action));
    const limit = bucket === 'manage' ? this.limiter.limits.get(bucket) : undefined;
    if (limit === undefined) return this.limiter.guard(bucket, who, action);
    const charge: FusedCharge = {
      key: `${this.keyPrefix}:${bucket}:${counterKey(who)}`,
      limit: limit.points,
      secDuration: limit.durationMs / 1000,
      blockMs: limit.blockDurationMs ?? 0,
      refused: (retryAfterMs) => new RateLimitedError(bucket, Math.max(1, retryAfterMs)),
      chargeSeparately: () =>
        this.limiter.tryConsume(bucket, who).then((result) => {
          if (!result.ok) throw new RateLimitedError(bucket, result.retryAfterMs);
        }),
    };
    this.link.offer(charge);
    let result: Promise<T>;
    try {
      result = action();
    } catch (error) {
      this.link.withdraw(charge);
      return Promise.reject(error);
    }
    if (!this.link.withdraw(charge)) return result;
    // The action answered without the store (e.g. an implausible delay ID): charge as usual.
    result.catch(() => undefined);
    return charge.chargeSeparately().then(() => result);
  }
}

/**
 * Creates the Redis store and a Redis-backed rate limiter as a pair on one client: a heartbeat
 * (`restart`) with the `manage` limit is one script call, the point taken inside the store's restart
 * script on the very counter the limiter keeps (rate-limiter-flexible's `RateLimiterRedis` counter);
 * a refused restart leaves its event untouched and throws `RateLimitedError`. Every other charge
 * (cancel, send, listing, scheduling, delivery) goes through the limiter as usual.
 *
 * @remarks
 * On a Redis Cluster client nothing is fused (the counters live in other slots than the store's
 * keys): the pair is then a plain `createRedisStore` plus `createRedisRateLimiter`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { DelayedEventScheduler } from 'matrix-delayed-events';
 * import { createRedisDelayedEvents } from 'matrix-delayed-events/redis';
 *
 * const client = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const { store, rateLimiter } = createRedisDelayedEvents({ client, keyPrefix: 'mde' });
 * const scheduler = new DelayedEventScheduler({ store, rateLimiter, sendEvent: (event) => homeserver.sendAs(event.userId, event) });
 * await scheduler.start();
 * ```
 *
 * @throws `ConfigError` `ERR_DE_OPTION_INVALID` for a missing client, a malformed prefix, tag or
 * timeout; `ERR_DE_RATE_LIMIT_INVALID` for a malformed limit or one not in whole seconds.
 */
export function createRedisDelayedEvents(options: RedisDelayedEventsOptions): RedisDelayedEvents {
  const client = options?.client;
  const keyPrefix = options?.keyPrefix ?? 'mde';
  const fused = client !== undefined && client !== null && !isCluster(client);
  const link = fused ? new ChargeLink() : undefined;
  const store = newRedisStore(
    { client, keyPrefix, hashTag: options.hashTag, commandTimeoutMs: options.commandTimeoutMs, logger: options.logger },
    link,
  );
  const limiterPrefix = `${keyPrefix}:rl`;
  const limiter = createRedisRateLimiter({
    client,
    keyPrefix: limiterPrefix,
    buckets: options.buckets,
    timeoutMs: checkTimeout('limiterTimeoutMs', options.limiterTimeoutMs ?? 1000),
    logger: options.logger,
  });
  return { store, rateLimiter: link === undefined ? limiter : new FusedRateLimiter(limiter, link, limiterPrefix) };
}
