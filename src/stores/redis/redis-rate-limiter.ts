import { RateLimiterMemory, RateLimiterRedis, RLWrapperTimeouts, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimiter, type BucketLimit, type RateLimitBucket } from '../../core/rate-limiter.js';
import { ConfigError } from '../../core/config-error.js';
import type { Logger } from '../../core/types.js';
import { isCluster, type RedisClient } from './redis-connection.js';
import { MicroBatcher } from './micro-batcher.js';

/**
 * rate-limiter-flexible's own increment script (`RateLimiterRedis`, `rlflxIncr`), applied to every
 * key of a batch in turn: the same commands, the same keys, the same `[consumed, ttlMs]` per key.
 * KEYS: one counter per consume; ARGV: points, secDuration per key, in the same order.
 */
const BATCH_INCR_LUA = `local out = {}
for i = 1, #KEYS do
  local key, points, secDuration = KEYS[i], ARGV[2 * i - 1], ARGV[2 * i]
  redis.call('set', key, 0, 'EX', secDuration, 'NX')
  local consumed = redis.call('incrby', key, points)
  local ttl = redis.call('pttl', key)
  if ttl == -1 then
    redis.call('expire', key, secDuration)
    ttl = 1000 * secDuration
  end
  out[i] = { consumed, ttl }
end
return out
`;

const BATCH_COMMAND = 'mde_rlflxIncrBatch_1';

/** Most consumes sent in one script call. */
const MAX_CONSUME_BATCH = 128;

type IncrArgs = readonly [key: string, points: string, secDuration: string, ...rest: string[]];
type BatchFn = (numKeys: number, ...args: string[]) => Promise<unknown[]>;

/**
 * The client as \`RateLimiterRedis\` sees it: everything passes through, except that its increment
 * (\`rlflxIncr\`, one script call per consume) is sent in batches: consumes that arrive while an earlier
 * batch is on its way to Redis go together as one script call (a lone consume goes out at once).
 * Each key's increment stays atomic and unchanged; Redis does one script call per batch instead of
 * one per request (a heartbeat with the Redis-backed \`manage\` limit). Cluster clients are left as
 * they are: their counters live in different slots.
 */
function batchingStoreClient(client: RedisClient): RedisClient {
  if (isCluster(client) || typeof client.defineCommand !== 'function') return client;
  client.defineCommand(BATCH_COMMAND, { lua: BATCH_INCR_LUA });
  const batcher = new MicroBatcher<IncrArgs, unknown>(async (items) => {
    const args: string[] = [];
    for (const item of items) args.push(item[0]);
    for (const item of items) args.push(item[1], item[2]);
    const run = (client as unknown as Record<string, BatchFn>)[BATCH_COMMAND]!;
    return run.call(client, items.length, ...args);
  }, MAX_CONSUME_BATCH);
  const rlflxIncr = (args: IncrArgs): Promise<unknown> => batcher.submit(args.map(String) as unknown as IncrArgs);
  return new Proxy(client, {
    get(target, property) {
      if (property === 'rlflxIncr') return rlflxIncr;
      // RateLimiterRedis defines its unbatched script on the client; not needed here.
      if (property === 'defineCommand') return () => {};
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * RateLimiterRedis keeps its windows in whole seconds: a duration under one second would become a
 * counter that never expires (a permanent lockout once the points run out), and 1,500 ms would
 * quietly become 1 s. Refuse both instead.
 */
function assertWholeSeconds(bucket: RateLimitBucket, limit: BucketLimit): void {
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

/**
 * A {@link RateLimiter} whose counters live in Redis, so limits hold across every worker process.
 * Built on rate-limiter-flexible's `RateLimiterRedis`; while Redis is unreachable (or does not answer
 * within `timeoutMs`) each process answers from an in-memory insurance limiter with the same limits
 * (per process, so the fleet as a whole admits up to N times the limit during an outage).
 *
 * @remarks
 * Consumes that arrive while an earlier one is still on its way to Redis are sent together as one
 * script call that runs rate-limiter-flexible's increment for each key in turn (same keys, same
 * counters; a lone consume goes out at once). A heartbeat with the Redis-backed `manage` limit
 * therefore costs Redis a few commands, not a script call of its own. No client option is needed
 * for this; ioredis `enableAutoPipelining` brings nothing on top (it measured slower in
 * `bench/`). On a Redis Cluster client each consume is its own call, as the counters of different
 * users live in different slots.
 *
 * Give it the same client as `createRedisStore` (not a Cluster) and a restart's `manage` point is
 * taken inside the store's restart script instead (one round trip per heartbeat, not two), on the
 * same counter with the same semantics; a refused restart leaves its event untouched.
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
  const storeClient = batchingStoreClient(client);
  const backend = (bucket: RateLimitBucket, limit: BucketLimit, keyPrefix: string): RateLimiterAbstract => {
    assertWholeSeconds(bucket, limit);
    const common = {
      keyPrefix: `${keyPrefix}:${bucket}`,
      points: limit.points,
      duration: limit.durationMs / 1000,
      blockDuration: (limit.blockDurationMs ?? 0) / 1000,
    };
    const insuranceLimiter = new RateLimiterMemory(common);
    const redis = new RateLimiterRedis({
      ...common,
      storeClient,
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
