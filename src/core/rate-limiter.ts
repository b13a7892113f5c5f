import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ConfigError, RateLimitedError } from './errors.js';
import type { RateLimitCharge } from '../stores/store.js';
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
  readonly createBackend?: (bucket: RateLimitBucket, limit: BucketLimit, keyPrefix: string) => RateLimiterAbstract;
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
  /**
   * The object the counters live on, when a store can update them inside its own calls: see
   * `DelayedEventStore.chargeTarget` and {@link RateLimiter.chargeFor}. The backend must then keep each
   * counter as rate-limiter-flexible's `RateLimiterRedis` does, under `<keyPrefix>:<bucket>:<key>`.
   * Set by `createRedisRateLimiter`; leave it unset otherwise.
   */
  readonly chargeTarget?: object;
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

const RESOLVED: Promise<void> = Promise.resolve();

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

/** A requester's counter within a bucket: user and device, never an IP address. */
function counterKey(requester: Requester): string {
  return `${requester.userId}|${requester.deviceId ?? ''}`;
}

function memoryBackend(bucket: RateLimitBucket, limit: BucketLimit, keyPrefix: string): RateLimiterAbstract {
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
export class RateLimiter {
  private readonly limiters = new Map<RateLimitBucket, RateLimiterAbstract>();
  private readonly limits = new Map<RateLimitBucket, BucketLimit>();
  private readonly logger: Logger;
  private readonly keyPrefix: string;
  private readonly chargeTarget: object | undefined;

  /**
   * @throws {@link ConfigError} `ERR_DE_RATE_LIMIT_INVALID` for a malformed limit.
   */
  constructor(options: RateLimiterOptions = {}) {
    const createBackend = options.createBackend ?? memoryBackend;
    const keyPrefix = options.keyPrefix ?? 'mde';
    this.keyPrefix = keyPrefix;
    this.chargeTarget = options.chargeTarget;
    this.logger = options.logger ?? {};
    for (const bucket of RATE_LIMIT_BUCKETS) {
      const configured = options.buckets?.[bucket];
      if (configured === false) continue;
      if (configured !== undefined && (typeof configured !== 'object' || configured === null)) {
        throw new ConfigError('ERR_DE_RATE_LIMIT_INVALID', `rate limit "${bucket}" must be an object or false`);
      }
      const limit = validateLimit(bucket, configured ?? DEFAULT_RATE_LIMITS[bucket]);
      this.limits.set(bucket, limit);
      this.limiters.set(bucket, createBackend(bucket, limit, keyPrefix));
    }
    for (const name of Object.keys(options.buckets ?? {})) {
      if (!RATE_LIMIT_BUCKETS.includes(name as RateLimitBucket)) {
        throw new ConfigError('ERR_DE_RATE_LIMIT_INVALID', `unknown rate-limit bucket "${name}" (known: ${RATE_LIMIT_BUCKETS.join(', ')})`);
      }
    }
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
      this.logger.warn?.(`rate limiter "${bucket}" unavailable; letting the request through`, rejection);
      return { ok: true };
    }
  }

  /**
   * What taking one point from the requester's bucket would do, for a store to apply inside its own
   * call (one round trip instead of two), on the same counter {@link RateLimiter.consume} uses.
   *
   * @param target - The store's `chargeTarget`.
   * @returns The charge, or `undefined` when the bucket is off or its counters do not live on
   * `target` (then call {@link RateLimiter.consume} as usual).
   */
  chargeFor(bucket: RateLimitBucket, requester: Requester, target: object | undefined): RateLimitCharge | undefined {
    if (target === undefined || target !== this.chargeTarget) return undefined;
    const limit = this.limits.get(bucket);
    if (limit === undefined) return undefined;
    return {
      key: `${this.keyPrefix}:${bucket}:${counterKey(requester)}`,
      points: 1,
      limit: limit.points,
      durationMs: limit.durationMs,
      blockDurationMs: limit.blockDurationMs ?? 0,
    };
  }

  /**
   * Takes one point from the requester's bucket.
   *
   * @throws {@link RateLimitedError} when the bucket is empty.
   */
  consume(bucket: RateLimitBucket, requester: Requester): Promise<void> {
    // A bucket that is off costs one resolved promise, not two async frames.
    if (!this.limiters.has(bucket)) return RESOLVED;
    return this.tryConsume(bucket, requester).then((result) => {
      if (!result.ok) throw new RateLimitedError(bucket, result.retryAfterMs);
    });
  }
}
