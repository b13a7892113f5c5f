/**
 * The metrics hook: what the scheduler reports as it works, for a metrics system to count. The core
 * knows no metrics library; `matrix-delayed-events/prometheus` binds this hook to prom-client.
 */
import type { StoreStats } from './store.js';
import type { FinalOutcome } from './types.js';

/**
 * What a refusal counted by {@link SchedulerMetrics.rejected} was for: a scheduler operation, or
 * `request` for one the HTTP layer refused before it reached the scheduler (malformed, too large,
 * unauthenticated, an unknown route under `…/delayed_events`).
 */
export type MetricsOperation = 'schedule' | 'restart' | 'cancel' | 'send' | 'list' | 'lookup' | 'request';

/** What the scheduler offers a metrics binding for values read at scrape time (gauges). */
export interface MetricsSource {
  /** Counts from the store, or `undefined` when the store cannot tell (it lacks `stats`). */
  stats(): Promise<StoreStats | undefined>;
}

/**
 * Callbacks the scheduler makes as it works, each from the one place the behaviour lives. Every
 * callback must be cheap and must not throw: they run on the hot path (a heartbeat, a delivery).
 *
 * @remarks
 * With no `metrics` option the scheduler pays one `if` per call site. Gauges (outstanding events, the
 * next due time) are not pushed: a binding reads them when scraped, through the {@link MetricsSource}
 * the scheduler hands to {@link SchedulerMetrics.attach}.
 */
export interface SchedulerMetrics {
  /** An event was added to the schedule (a repeated transaction adds nothing and is not counted). */
  scheduled(): void;
  /** A pending event's delay was restarted (a heartbeat). */
  restarted(): void;
  /**
   * The scheduler refused a request with this Matrix error code (`M_LIMIT_EXCEEDED`, `M_NOT_FOUND`,
   * `M_MAX_DELAYED_EVENTS_EXCEEDED`, …; `M_UNKNOWN` for anything that is not a Matrix error). A `send`
   * action the host refused is counted with the host's errcode.
   */
  rejected(operation: MetricsOperation, errcode: string): void;
  /** A due event was put off by its owner's `delivery` rate limit (policy `defer`). */
  deferred(): void;
  /**
   * An event left the schedule: sent, cancelled or failed. `errcode` is the failure's Matrix error code
   * (`M_UNKNOWN` when the last error was not a Matrix error); `undefined` unless failed.
   */
  finalised(outcome: FinalOutcome, errcode: string | undefined): void;
  /**
   * A call of the host's `sendEvent` returned (`ok`) or threw, after `durationMs`. `latenessMs` is how
   * long after the event's due time the call started (the timer's and the drain's delay; a retried or
   * deferred event is due at its new time); `undefined` for the `send` action, which sends early on
   * purpose.
   */
  sendFinished(ok: boolean, durationMs: number, latenessMs: number | undefined): void;
  /** Called once by the scheduler's constructor: where gauges read their values when scraped. */
  attach?(source: MetricsSource): void;
}
