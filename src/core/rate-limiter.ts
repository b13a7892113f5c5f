import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ConfigError } from './config-error.js';
import { RateLimitedError } from './errors.js';
import type { Logger, Requester } from './types.js';

/**
 * The named rate-limit buckets:
 * - `schedule`: scheduling a delayed event.
 * - `manage`: every management action (`send`, `cancel`, `restart`) and listing.
 * - `send`: the `send` action, on top of `manage`.
 * - `delivery`: each delayed event at the point it is sent into its room.
 */
export type RateLimitBucket = 'schedule' | 'manage' | 'send' | 'delivery';

/** The bucket names, in a stable order. */
export const RATE_LIMIT_BUCKETS: readonly RateLimitBucket[] = ['schedule', 'manage', 'send', 'delivery'];

/** One bucket's limit: `points` actions per `durationMs`, per user and device. */
export interface BucketLimit {
  /** Actions allowed per window. */
  readonly points: number;
  /** Window length, in ms. */
  readonly durationMs: number;
  /** Once exhausted, refuse for this long instead of until the window ends, in ms. */
  readonly blockDurationMs?: number;
}

/**
 * Default limits. `manage` allows a MatrixRTC client in a couple of calls to heartbeat every few seconds
 * (Synapse: 1/s, burst 5); `delivery` stops a user's flood of events scheduled for one instant.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<RateLimitBucket, BucketLimit>> = Object.freeze({
  schedule: { points: 20, durationMs: 10_000 },
  manage: { points: 10, durationMs: 5_000 },
  send: { points: 5, durationMs: 10_000 },
  delivery: { points: 30, durationMs: 10_000 },
});

/**
 * The counter store behind one bucket: rate-limiter-flexible's `RateLimiterMemory`, `RateLimiterRedis`
 * and their wrappers fit as they are.
 */
export interface RateLimitBackend {
  /**
   * Takes `points` (default 1) from `key`'s counter. Resolves when they were available; rejects with a
   * rate-limiter-flexible `RateLimiterRes` (its `msBeforeNext` says when to retry) when they were not,
   * and with anything else for a backend fault.
   */
  consume(key: string, points?: number): Promise<unknown>;
}

/**
 * What the scheduler needs of a rate limiter. {@link RateLimiter} is the default implementation; a
 * host may pass any object of this shape (e.g. one over its own limits service).
 */
export interface RateLimiterLike {
  /**
   * Runs one guarded action: takes a point from `who`'s `bucket`, then runs `action`.
   *
   * @remarks
   * `action` starts its store call synchronously; an implementation may rely on that to charge the
   * point inside the store's own call (see `createRedisDelayedEvents` in `matrix-delayed-events/redis`).
   *
   * @throws `RateLimitedError` (without running `action`) when the bucket is empty; otherwise whatever
   * `action` throws.
   */
  guard<T>(bucket: RateLimitBucket, who: Requester, action: () => Promise<T>): Promise<T>;
  /** Takes a point from `who`'s `bucket`, or reports how long to wait. Never throws. */
  tryConsume(bucket: RateLimitBucket, who: Requester): Promise<ConsumeResult>;
  /** True when the bucket limits anything (a bucket that is off costs nothing per event). */
  isEnabled(bucket: RateLimitBucket): boolean;
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /**
   * Per-bucket limits; `false` turns a bucket off. Buckets not named keep their default.
   * @defaultValue {@link DEFAULT_RATE_LIMITS}
   */
  readonly buckets?: Partial<Record<RateLimitBucket, BucketLimit | false>>;
  /**
   * Builds the rate-limiter-flexible limiter behind a bucket. The default keeps counters in this
   * process (`RateLimiterMemory`); `createRedisRateLimiter` from `matrix-delayed-events/redis` shares
   * them between workers.
   */
  readonly createBackend?: (bucket: RateLimitBucket, limit: BucketLimit, keyPrefix: string) => RateLimitBackend;
  /**
   * Prefix of every counter key.
   * @defaultValue `"mde"`
   */
  readonly keyPrefix?: string;
  /**
   * Where backend faults are reported. A faulty backend lets requests through rather than refuse
   * everyone.
   */
  readonly logger?: Logger;
}

/** Outcome of {@link RateLimiter.tryConsume}. */
export type ConsumeResult =
  | {
      /** The point was taken. */
      readonly ok: true;
    }
  | {
      /** The bucket is empty. */
      readonly ok: false;
      /** How long until a point is available, in ms. */
      readonly retryAfterMs: number;
    };

function validateLimit(bucket: string, limit: BucketLimit): BucketLimit {
  const valid =
    Number.isSafeInteger(limit.points) &&
    limit.points > 0 &&
    Number.isSafeInteger(limit.durationMs) &&
    limit.durationMs > 0 &&
    (limit.blockDurationMs === undefined || (Number.isSafeInteger(limit.blockDurationMs) && limit.blockDurationMs >= 0));
  if (!valid) {
    throw new ConfigError(
      'ERR_DE_RATE_LIMIT_INVALID',
      `rate limit "${bucket}" needs integer points > 0, durationMs > 0 and blockDurationMs >= 0 (got ${JSON.stringify(limit)})`,
    );
  }
  return limit;
}

/**
 * A requester's counter within a bucket: user and device, never an IP address. Stored by the backend
 * under `<keyPrefix>:<bucket>:<counterKey>`.
 */
export function counterKey(requester: Requester): string {
  return `${requester.userId}|${requester.deviceId ?? ''}`;
}

function memoryBackend(bucket: RateLimitBucket, limit: BucketLimit, keyPrefix: string): RateLimitBackend {
  return new RateLimiterMemory({
    keyPrefix: `${keyPrefix}:${bucket}`,
    points: limit.points,
    duration: limit.durationMs / 1000,
    blockDuration: (limit.blockDurationMs ?? 0) / 1000,
  });
}

/**
 * Named per-user rate-limit buckets over rate-limiter-flexible. Keys are the user ID plus the device
 * ID where known — never an IP address, which would throttle a whole office behind one NAT.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ buckets: { manage: { points: 20, durationMs: 10_000 }, send: false } });
 * await limiter.consume('manage', { userId: '@alice:example.org', deviceId: 'PHONE' }); // or RateLimitedError
 * ```
 */
export class RateLimiter implements RateLimiterLike {
  private readonly limiters = new Map<RateLimitBucket, RateLimitBackend>();
  /** The limits in force, per bucket (buckets that are off are absent). */
  readonly limits: ReadonlyMap<RateLimitBucket, BucketLimit>;
  private readonly logger: Logger;

  /**
   * @throws `ConfigError` `ERR_DE_RATE_LIMIT_INVALID` for a malformed limit.
   */
  constructor(options: RateLimiterOptions = {}) {
    const createBackend = options.createBackend ?? memoryBackend;
    const keyPrefix = options.keyPrefix ?? 'mde';
    this.logger = options.logger ?? {};
    const limits = new Map<RateLimitBucket, BucketLimit>();
    for (const name of Object.keys(options.buckets ?? {})) {
      if (!RATE_LIMIT_BUCKETS.includes(name as RateLimitBucket)) {
        throw new ConfigError('ERR_DE_RATE_LIMIT_INVALID', `unknown rate-limit bucket "${name}" (known: ${RATE_LIMIT_BUCKETS.join(', ')})`);
      }
    }
    for (const bucket of RATE_LIMIT_BUCKETS) {
      const configured = options.buckets?.[bucket];
      if (configured === false) continue;
      if (configured !== undefined && (typeof configured !== 'object' || configured === null)) {
        throw new ConfigError('ERR_DE_RATE_LIMIT_INVALID', `rate limit "${bucket}" must be an object or false`);
      }
      const limit = validateLimit(bucket, configured ?? DEFAULT_RATE_LIMITS[bucket]);
      limits.set(bucket, limit);
      this.limiters.set(bucket, createBackend(bucket, limit, keyPrefix));
    }
    this.limits = limits;
  }

  /** True when the bucket limits anything. */
  isEnabled(bucket: RateLimitBucket): boolean {
    return this.limiters.has(bucket);
  }

  /** Takes one point from the requester's bucket, or reports how long to wait. Never throws. */
  async tryConsume(bucket: RateLimitBucket, requester: Requester): Promise<ConsumeResult> {
    const limiter = this.limiters.get(bucket);
    if (limiter === undefined) return { ok: true };
    try {
      await limiter.consume(counterKey(requester));
      return { ok: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { ok: false, retryAfterMs: Math.max(1, rejection.msBeforeNext) };
      this.logger.warn?.({ bucket, err: rejection }, 'delayed events: rate limiter unavailable; letting the request through');
      return { ok: true };
    }
  }

  /**
   * Takes one point from the requester's bucket, then runs `action`.
   *
   * @throws {@link RateLimitedError} when the bucket is empty (`action` does not run).
   */
  guard<T>(bucket: RateLimitBucket, requester: Requester, action: () => Promise<T>): Promise<T> {
    // A bucket that is off runs the action at once, with no async frame of its own.
    if (!this.limiters.has(bucket)) return action();
    return this.tryConsume(bucket, requester).then((result) => {
      if (!result.ok) throw new RateLimitedError(bucket, result.retryAfterMs);
      return action();
    });
  }
}
