/**
 * Prometheus metrics for the scheduler, on prom-client (an optional peer dependency, needed only for
 * this entry point): `createPrometheusMetrics()` returns the scheduler's `metrics` hook and registers
 * the counters, gauges and histograms below.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * import { createPrometheusMetrics } from 'matrix-delayed-events/prometheus';
 *
 * const scheduler = new DelayedEventScheduler({ store, sendEvent, metrics: createPrometheusMetrics() });
 * app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()));
 * ```
 *
 * @module
 */
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import type { MetricsOperation, MetricsSource, SchedulerMetrics } from '../core/metrics.js';
import type { StoreStats } from '../core/store.js';
import type { FinalOutcome } from '../core/types.js';

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * The registry the metrics are registered in.
   * @defaultValue prom-client's global registry (`register`)
   */
  readonly registry?: Registry;
  /**
   * Prefix of every metric name. Give each scheduler in one registry its own prefix.
   * @defaultValue `"mde_"`
   */
  readonly prefix?: string;
  /**
   * Bucket bounds of the delivery lateness histogram, in seconds.
   * @defaultValue `[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]`
   */
  readonly latenessBuckets?: readonly number[];
  /**
   * Bucket bounds of the `sendEvent` duration histogram, in seconds.
   * @defaultValue `[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]`
   */
  readonly sendDurationBuckets?: readonly number[];
}

/** The hook {@link createPrometheusMetrics} returns: pass it as the scheduler's `metrics` option. */
export interface PrometheusMetrics extends SchedulerMetrics {
  /** The registry the metrics are in: serve `await registry.metrics()` with `registry.contentType`. */
  readonly registry: Registry;
}

const DEFAULT_LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const DEFAULT_SEND_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Creates the Prometheus binding of the scheduler's metrics hook and registers its metrics (names with
 * the default prefix):
 *
 * | Metric | Type | Labels |
 * | --- | --- | --- |
 * | `mde_delayed_events_scheduled_total` | counter | |
 * | `mde_delayed_events_restarted_total` | counter | |
 * | `mde_delayed_events_sent_total` | counter | |
 * | `mde_delayed_events_cancelled_total` | counter | `reason` (`action`, `newer-state`) |
 * | `mde_delayed_events_failed_total` | counter | `errcode` |
 * | `mde_delayed_events_deferred_total` | counter | |
 * | `mde_delayed_events_rejected_total` | counter | `operation`, `errcode` |
 * | `mde_delayed_events_outstanding` | gauge, read from the store when scraped | |
 * | `mde_delayed_events_next_due_timestamp_seconds` | gauge, read from the store when scraped; absent when nothing is scheduled | |
 * | `mde_delayed_events_store_up` | gauge: 1 when the scrape's store read succeeded, else 0 | |
 * | `mde_delayed_events_delivery_lateness_seconds` | histogram: hand-over time − due time | |
 * | `mde_delayed_events_send_duration_seconds` | histogram of the host's `sendEvent` calls | `result` (`ok`, `error`) |
 *
 * The gauges need a store with `stats()` (the memory and Redis stores have it); with a shared store
 * every worker reports the same fleet-wide values, so aggregate them with `max`, not `sum`.
 *
 * @throws prom-client's error when a metric of the same name is already registered (use another
 * `prefix` or `registry`).
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = options.registry ?? globalRegistry;
  const registers = [registry];
  const name = (suffix: string): string => `${options.prefix ?? 'mde_'}delayed_events_${suffix}`;
  let source: MetricsSource | undefined;

  // One store read per scrape, shared by the gauges that the registry collects concurrently.
  let reading: Promise<StoreStats | undefined> | undefined;
  const readStats = (): Promise<StoreStats | undefined> => {
    if (source === undefined) return Promise.resolve(undefined);
    reading ??= source.stats().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  const scheduled = new Counter({ name: name('scheduled_total'), help: 'Delayed events added to the schedule.', registers });
  const restarted = new Counter({ name: name('restarted_total'), help: 'Delays restarted (heartbeats).', registers });
  const sent = new Counter({ name: name('sent_total'), help: 'Delayed events sent into their room.', registers });
  const cancelled = new Counter({
    name: name('cancelled_total'),
    help: 'Delayed events cancelled, by their owner (action) or by a newer state event (newer-state).',
    labelNames: ['reason'],
    registers,
  });
  const failed = new Counter({
    name: name('failed_total'),
    help: 'Delayed events given up (refused by the host, out of retries, or rate-limited under policy fail), by Matrix error code.',
    labelNames: ['errcode'],
    registers,
  });
  const deferred = new Counter({ name: name('deferred_total'), help: 'Due delayed events put off by the delivery rate limit.', registers });
  const rejected = new Counter({
    name: name('rejected_total'),
    help: 'Requests the scheduler refused, by operation and Matrix error code.',
    labelNames: ['operation', 'errcode'],
    registers,
  });
  new Gauge({
    name: name('store_up'),
    help: 'Whether the store answered the last scrape (1) or not (0).',
    registers,
    async collect() {
      try {
        await readStats();
        this.set(1);
      } catch {
        this.set(0);
      }
    },
  });
  new Gauge({
    name: name('outstanding'),
    help: 'Outstanding delayed events (pending or being sent) in the store, of every user.',
    registers,
    async collect() {
      const stats = await readStats().catch(() => undefined);
      if (stats !== undefined) this.set(stats.outstanding);
    },
  });
  new Gauge({
    name: name('next_due_timestamp_seconds'),
    help: 'When the earliest delayed event is due, Unix time in seconds; absent when nothing is scheduled.',
    registers,
    async collect() {
      const stats = await readStats().catch(() => undefined);
      if (stats === undefined) return;
      if (stats.nextDueAtMs === undefined) this.remove();
      else this.set(stats.nextDueAtMs / 1000);
    },
  });
  const lateness = new Histogram({
    name: name('delivery_lateness_seconds'),
    help: 'How long after its due time a delayed event was handed to sendEvent, in seconds.',
    buckets: [...(options.latenessBuckets ?? DEFAULT_LATENESS_BUCKETS)],
    registers,
  });
  const sendDuration = new Histogram({
    name: name('send_duration_seconds'),
    help: 'Duration of the host sendEvent calls, in seconds, by result.',
    labelNames: ['result'],
    buckets: [...(options.sendDurationBuckets ?? DEFAULT_SEND_DURATION_BUCKETS)],
    registers,
  });
  // Known label values start at zero, so rates work from the first scrape.
  cancelled.inc({ reason: 'action' }, 0);
  cancelled.inc({ reason: 'newer-state' }, 0);
  sendDuration.zero({ result: 'ok' });
  sendDuration.zero({ result: 'error' });
  const sendOk = sendDuration.labels('ok');
  const sendError = sendDuration.labels('error');

  return {
    registry,
    scheduled: () => scheduled.inc(),
    restarted: () => restarted.inc(),
    rejected: (operation: MetricsOperation, errcode: string) => rejected.labels(operation, errcode).inc(),
    deferred: () => deferred.inc(),
    finalised(outcome: FinalOutcome, errcode: string | undefined) {
      if (outcome.kind === 'sent') sent.inc();
      else if (outcome.kind === 'cancelled') cancelled.labels(outcome.reason).inc();
      else failed.labels(errcode ?? 'M_UNKNOWN').inc();
    },
    sendFinished(ok: boolean, durationMs: number, latenessMs: number | undefined) {
      (ok ? sendOk : sendError).observe(durationMs / 1000);
      if (ok && latenessMs !== undefined) lateness.observe(Math.max(0, latenessMs) / 1000);
    },
    attach(scheduler: MetricsSource) {
      source = scheduler;
    },
  };
}
