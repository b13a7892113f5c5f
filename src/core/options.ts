import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { ConfigError } from './config-error.js';
import { DEFAULT_MAX_OUTSTANDING_PER_USER } from './max-outstanding-guard.js';
import type { FinalOutcome, Logger, SendEventFn, DueDelayedEvent } from './types.js';
import type { DelayedEventStore } from './store.js';
import type { RateLimiterLike } from './rate-limiter.js';
import type { SchedulerMetrics } from './metrics.js';

/**
 * Which pending delayed state events a newer state event on the same (room, type, state key) cancels.
 * - `"other-senders"`: only when the newer event comes from another user. What Synapse and the
 *   Complement suite do, and what MatrixRTC needs (a client schedules its delayed leave, then sends its
 *   own join on the same key).
 * - `"any-sender"`: always (the literal text of MSC4140, 2024-07-25).
 * - `"never"`: never.
 */
export type CancelOnNewerStatePolicy = 'other-senders' | 'any-sender' | 'never';

/**
 * The MSC4140 revision a deployment follows. In the core it only chooses defaults (the wire format is
 * the HTTP layer's): `"msc4140-2026"` keeps finalised events for lookup and does not cancel delayed
 * state on newer state, as that revision says.
 */
export type SpecProfile = 'msc4140-2024' | 'msc4140-2026';

/** The spec profiles, default first. */
export const SPEC_PROFILES: readonly SpecProfile[] = ['msc4140-2024', 'msc4140-2026'];

/** How long finalised events stay available for lookup. */
export interface RetentionPolicy {
  /**
   * Keep a finalised event this long, in ms.
   * @defaultValue 604800000 (7 days)
   */
  readonly maxAgeMs?: number;
  /**
   * Keep at most this many finalised events per user (the newest).
   * @defaultValue 1000
   */
  readonly maxPerUser?: number;
}

/** What happens to a due event when its owner's `delivery` rate-limit bucket is empty. */
export type DeliveryRateLimitPolicy = 'defer' | 'fail';

/** Retry of a delivery that failed with a transient (non-4xx) error. */
export interface DeliveryRetryOptions {
  /**
   * Total delivery attempts before the event is finalised as failed.
   * @defaultValue 5
   */
  readonly attempts?: number;
  /**
   * Backoff before the second attempt, in ms; doubled for each further attempt.
   * @defaultValue 1000
   */
  readonly initialBackoffMs?: number;
  /**
   * Upper bound of the backoff, in ms.
   * @defaultValue 60000
   */
  readonly maxBackoffMs?: number;
}

/** Options of {@link DelayedEventScheduler}. */
export interface DelayedEventSchedulerOptions {
  /** Inserts a due event into its room, checking power levels at that moment. Required. */
  readonly sendEvent: SendEventFn;
  /**
   * Where the schedule lives: `createMemoryStore()` for one process, `createRedisStore()` (from
   * `matrix-delayed-events/redis`) for several. Required.
   */
  readonly store: DelayedEventStore;
  /**
   * Source of time and timers.
   * @defaultValue `systemClock`
   */
  readonly clock?: Clock;
  /**
   * Where diagnostics go.
   * @defaultValue a logger that discards everything
   */
  readonly logger?: Logger;
  /**
   * Largest delay a client may ask for, in ms (must be \> 0).
   * @defaultValue 86400000 (24 hours)
   */
  readonly maxDelayMs?: number;
  /**
   * Most outstanding (pending or being sent) delayed events per user; 0 disables scheduling, which is
   * then answered with `M_FORBIDDEN`. A function decides per user (e.g. to exempt a bridge).
   * @defaultValue 100
   */
  readonly maxOutstandingPerUser?: number | ((userId: string) => number);
  /**
   * Rate limits: a `RateLimiter` (e.g. one backed by Redis, shared by workers) or any object of the
   * {@link RateLimiterLike} shape.
   * @defaultValue a memory-backed `RateLimiter` with its default buckets
   */
  readonly rateLimiter?: RateLimiterLike;
  /**
   * The MSC4140 revision followed; it chooses the defaults of `cancelOnNewerState` and
   * `retainFinalised`. Give the HTTP handler the same profile.
   * @defaultValue `"msc4140-2024"`
   */
  readonly profile?: SpecProfile;
  /**
   * Which pending delayed state events a newer state event cancels.
   * @defaultValue `"other-senders"`; `"never"` under the `msc4140-2026` profile
   */
  readonly cancelOnNewerState?: CancelOnNewerStatePolicy;
  /**
   * Keep finalised (sent, cancelled, failed) events for lookup by their owner, which also lets a
   * repeated management action be answered by the outcome. Needs a store with `retain`.
   * `true` takes the default policy.
   * @defaultValue `false`; 7 days or 1000 per user under the `msc4140-2026` profile
   */
  readonly retainFinalised?: boolean | RetentionPolicy;
  /**
   * What to do with a due event whose owner's `delivery` bucket is empty: `"defer"` it until the
   * limiter allows (its listed time moves), or `"fail"` it (finalised and reported to `onFinalised`).
   * It is never dropped silently.
   * @defaultValue `"defer"`
   */
  readonly deliveryRateLimitPolicy?: DeliveryRateLimitPolicy;
  /** Retry of transient delivery failures. */
  readonly deliveryRetry?: DeliveryRetryOptions;
  /**
   * How long a claim on a due event holds before another worker may send it, in ms. Must exceed the
   * time to send two claimed batches (the next batch is claimed while the current one is sent), so
   * well above the longest `sendEvent` call you expect.
   * @defaultValue 30000
   */
  readonly leaseMs?: number;
  /**
   * How many due events are claimed from the store at once.
   * @defaultValue 256
   */
  readonly claimBatchSize?: number;
  /**
   * How many `sendEvent` calls may run at once. Events of one room are always sent one after another,
   * in send-time order.
   * @defaultValue 16
   */
  readonly maxConcurrentSends?: number;
  /**
   * How long transaction IDs are remembered for idempotent scheduling, in ms.
   * @defaultValue 86400000 (24 hours)
   */
  readonly txnTtlMs?: number;
  /**
   * For stores shared across processes: the longest the scheduler waits before asking the store for
   * the earliest due time again, in case a notification from another worker was missed, in ms.
   * @defaultValue 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * Page size of {@link DelayedEventScheduler.list} when the caller gives none (and its upper bound).
   * @defaultValue 100
   */
  readonly listPageSize?: number;
  /** Called once for each event leaving the schedule: sent, cancelled or failed. Must not throw. */
  readonly onFinalised?: (event: DueDelayedEvent, outcome: FinalOutcome) => void;
  /**
   * Where counts and timings go, e.g. `createPrometheusMetrics()` from
   * `matrix-delayed-events/prometheus`, or any object of the {@link SchedulerMetrics} shape.
   * @defaultValue none: nothing is measured, and the hot path pays one `if` per call site
   */
  readonly metrics?: SchedulerMetrics;
}

/** {@link DelayedEventSchedulerOptions} after defaults and validation. */
export interface ResolvedSchedulerOptions {
  /** See {@link DelayedEventSchedulerOptions.sendEvent}. */
  readonly sendEvent: SendEventFn;
  /** See {@link DelayedEventSchedulerOptions.clock}. */
  readonly clock: Clock;
  /** See {@link DelayedEventSchedulerOptions.logger}. */
  readonly logger: Logger;
  /** See {@link DelayedEventSchedulerOptions.maxDelayMs}. */
  readonly maxDelayMs: number;
  /** See {@link DelayedEventSchedulerOptions.maxOutstandingPerUser}. */
  readonly maxOutstandingPerUser: number | ((userId: string) => number);
  /** See {@link DelayedEventSchedulerOptions.profile}. */
  readonly profile: SpecProfile;
  /** See {@link DelayedEventSchedulerOptions.cancelOnNewerState}. */
  readonly cancelOnNewerState: CancelOnNewerStatePolicy;
  /** See {@link DelayedEventSchedulerOptions.retainFinalised}; `undefined` when off. */
  readonly retainFinalised: Required<RetentionPolicy> | undefined;
  /** See {@link DelayedEventSchedulerOptions.deliveryRateLimitPolicy}. */
  readonly deliveryRateLimitPolicy: DeliveryRateLimitPolicy;
  /** See {@link DelayedEventSchedulerOptions.deliveryRetry}. */
  readonly deliveryRetry: Required<DeliveryRetryOptions>;
  /** See {@link DelayedEventSchedulerOptions.leaseMs}. */
  readonly leaseMs: number;
  /** See {@link DelayedEventSchedulerOptions.claimBatchSize}. */
  readonly claimBatchSize: number;
  /** See {@link DelayedEventSchedulerOptions.maxConcurrentSends}. */
  readonly maxConcurrentSends: number;
  /** See {@link DelayedEventSchedulerOptions.txnTtlMs}. */
  readonly txnTtlMs: number;
  /** See {@link DelayedEventSchedulerOptions.pollIntervalMs}. */
  readonly pollIntervalMs: number;
  /** See {@link DelayedEventSchedulerOptions.listPageSize}. */
  readonly listPageSize: number;
  /** See {@link DelayedEventSchedulerOptions.onFinalised}. */
  readonly onFinalised: ((event: DueDelayedEvent, outcome: FinalOutcome) => void) | undefined;
  /** See {@link DelayedEventSchedulerOptions.metrics}. */
  readonly metrics: SchedulerMetrics | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const silentLogger: Logger = {};

function positiveInteger(value: unknown, name: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new ConfigError(
      'ERR_DE_OPTION_INVALID',
      `${name} must be an integer ${allowZero ? '>= 0' : '> 0'} (got ${String(value)})`,
    );
  }
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `${name} must be one of ${allowed.join(', ')} (got ${String(value)})`);
  }
  return value as T;
}

function resolveRetention(input: boolean | RetentionPolicy): Required<RetentionPolicy> | undefined {
  if (input === false) return undefined;
  if (input !== true && (typeof input !== 'object' || input === null)) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', 'retainFinalised must be a boolean or { maxAgeMs, maxPerUser }');
  }
  const policy = input === true ? {} : input;
  return Object.freeze({
    maxAgeMs: positiveInteger(policy.maxAgeMs, 'retainFinalised.maxAgeMs', 7 * DAY_MS),
    maxPerUser: positiveInteger(policy.maxPerUser, 'retainFinalised.maxPerUser', 1000),
  });
}

/**
 * Applies defaults to scheduler options and validates them once.
 *
 * @throws {@link ConfigError} with a stable `code` when an option is invalid.
 */
export function resolveSchedulerOptions(input: DelayedEventSchedulerOptions): ResolvedSchedulerOptions {
  if (typeof input?.sendEvent !== 'function') {
    throw new ConfigError('ERR_DE_SEND_EVENT_MISSING', 'sendEvent must be a function that inserts an event into its room');
  }
  if (typeof input.store?.add !== 'function') {
    throw new ConfigError('ERR_DE_OPTION_INVALID', 'store must be a DelayedEventStore, e.g. createMemoryStore()');
  }
  const maxDelayMs = input.maxDelayMs ?? DAY_MS;
  if (typeof maxDelayMs !== 'number' || !Number.isSafeInteger(maxDelayMs) || maxDelayMs <= 0) {
    throw new ConfigError('ERR_DE_MAX_DELAY_INVALID', `maxDelayMs must be an integer > 0 (got ${String(maxDelayMs)})`);
  }
  const cap = input.maxOutstandingPerUser ?? DEFAULT_MAX_OUTSTANDING_PER_USER;
  if (typeof cap !== 'function' && (typeof cap !== 'number' || !Number.isSafeInteger(cap) || cap < 0)) {
    throw new ConfigError(
      'ERR_DE_MAX_PER_USER_INVALID',
      `maxOutstandingPerUser must be an integer >= 0 or a function (got ${String(cap)})`,
    );
  }
  const profile = oneOf(input.profile, 'profile', SPEC_PROFILES, 'msc4140-2024');
  const retainFinalised = resolveRetention(input.retainFinalised ?? profile === 'msc4140-2026');
  if (retainFinalised !== undefined && (typeof input.store.retain !== 'function' || typeof input.store.getFinalised !== 'function')) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', 'retainFinalised needs a store with retain() and getFinalised()');
  }
  const retry = input.deliveryRetry ?? {};
  const initialBackoffMs = positiveInteger(retry.initialBackoffMs, 'deliveryRetry.initialBackoffMs', 1000);
  const resolved: ResolvedSchedulerOptions = {
    sendEvent: input.sendEvent,
    clock: input.clock ?? systemClock,
    logger: input.logger ?? silentLogger,
    maxDelayMs,
    maxOutstandingPerUser: cap,
    profile,
    cancelOnNewerState: oneOf(
      input.cancelOnNewerState,
      'cancelOnNewerState',
      ['other-senders', 'any-sender', 'never'] as const,
      profile === 'msc4140-2026' ? 'never' : 'other-senders',
    ),
    retainFinalised,
    deliveryRateLimitPolicy: oneOf(input.deliveryRateLimitPolicy, 'deliveryRateLimitPolicy', ['defer', 'fail'] as const, 'defer'),
    deliveryRetry: Object.freeze({
      attempts: positiveInteger(retry.attempts, 'deliveryRetry.attempts', 5),
      initialBackoffMs,
      maxBackoffMs: Math.max(initialBackoffMs, positiveInteger(retry.maxBackoffMs, 'deliveryRetry.maxBackoffMs', 60_000)),
    }),
    leaseMs: positiveInteger(input.leaseMs, 'leaseMs', 30_000),
    claimBatchSize: positiveInteger(input.claimBatchSize, 'claimBatchSize', 256),
    maxConcurrentSends: positiveInteger(input.maxConcurrentSends, 'maxConcurrentSends', 16),
    txnTtlMs: positiveInteger(input.txnTtlMs, 'txnTtlMs', DAY_MS),
    pollIntervalMs: positiveInteger(input.pollIntervalMs, 'pollIntervalMs', 1000),
    listPageSize: positiveInteger(input.listPageSize, 'listPageSize', 100),
    onFinalised: input.onFinalised,
    metrics: input.metrics,
  };
  const metricsHooks = ['scheduled', 'restarted', 'rejected', 'deferred', 'finalised', 'sendFinished'] as const;
  if (input.metrics !== undefined && (typeof input.metrics !== 'object' || input.metrics === null || metricsHooks.some((hook) => typeof input.metrics?.[hook] !== 'function'))) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `metrics must be an object with the methods ${metricsHooks.join(', ')}`);
  }
  if (input.onFinalised !== undefined && typeof input.onFinalised !== 'function') {
    throw new ConfigError('ERR_DE_OPTION_INVALID', 'onFinalised must be a function');
  }
  return Object.freeze(resolved);
}
