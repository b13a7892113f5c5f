/**
 * The metrics hook (each behaviour reported from its one place) and its Prometheus binding.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../../src/core/config-error.js';
import { DelayedEventScheduler } from '../../../src/core/delayed-event-scheduler.js';
import { MatrixError } from '../../../src/core/errors.js';
import type { MetricsSource, SchedulerMetrics } from '../../../src/core/metrics.js';
import { RateLimiter } from '../../../src/core/rate-limiter.js';
import type { DelayedEventStore } from '../../../src/core/store.js';
import { createPrometheusMetrics } from '../../../src/prometheus/index.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { ALICE, BOB, message, ROOM } from '../../helpers/fixtures.js';
import { createHarness } from '../../helpers/scheduler-harness.js';

/** A metrics hook that records every call. */
function recorder(): SchedulerMetrics & { calls: unknown[][]; source: MetricsSource | undefined } {
  const calls: unknown[][] = [];
  const hook = {
    calls,
    source: undefined as MetricsSource | undefined,
    scheduled: () => calls.push(['scheduled']),
    restarted: () => calls.push(['restarted']),
    rejected: (operation: string, errcode: string) => calls.push(['rejected', operation, errcode]),
    deferred: () => calls.push(['deferred']),
    finalised: (outcome: { kind: string; reason?: string }, errcode: string | undefined) =>
      calls.push(['finalised', outcome.kind === 'cancelled' ? `cancelled:${outcome.reason}` : outcome.kind, errcode]),
    sendFinished: (ok: boolean, durationMs: number, latenessMs: number | undefined) => calls.push(['sendFinished', ok, durationMs, latenessMs]),
    attach: (source: MetricsSource) => {
      hook.source = source;
    },
  };
  return hook;
}

const STATE = { type: 'org.matrix.msc3401.call.member', stateKey: '_alice' };

describe('metrics hook', () => {
  it('reports schedule, restart, rejections, sends with lateness and duration, failures by errcode and cancels', async () => {
    const metrics = recorder();
    const harness = await createHarness({ metrics, maxDelayMs: 60_000, deliveryRetry: { attempts: 1 } });
    const { clock, scheduler } = harness;
    expect(metrics.source).toBe(scheduler);

    const first = await scheduler.schedule(message(1000, { txnId: 't1' }));
    await scheduler.schedule(message(1000, { txnId: 't1' })); // a repeated transaction adds nothing
    await scheduler.restart(ALICE, first.delayId);
    await expect(scheduler.schedule(message(60_001))).rejects.toThrow();
    await expect(scheduler.restart(ALICE, 'unknown-delay-id-123456')).rejects.toThrow();
    await expect(scheduler.cancel(BOB, first.delayId)).rejects.toThrow();
    expect(metrics.calls.splice(0)).toEqual([
      ['scheduled'],
      ['restarted'],
      ['rejected', 'schedule', 'M_MAX_DELAY_EXCEEDED'],
      ['rejected', 'restart', 'M_NOT_FOUND'],
      ['rejected', 'cancel', 'M_NOT_FOUND'],
    ]);

    // Sent 300 ms late (the clock jumps past the due time), taking 7 ms.
    harness.sendImpl = () => clock.set(clock.now() + 7);
    clock.set(clock.now() + 1300);
    await clock.advanceAsync(0);
    await scheduler.idle();
    expect(metrics.calls.splice(0)).toEqual([['sendFinished', true, 7, 300], ['finalised', 'sent', undefined]]);

    // Refused by the host: failed, by errcode.
    harness.sendImpl = () => {
      throw new MatrixError(403, 'M_FORBIDDEN', 'no power');
    };
    await scheduler.schedule(message(0));
    await clock.advanceAsync(0);
    await scheduler.idle();
    expect(metrics.calls.splice(0)).toEqual([['scheduled'], ['sendFinished', false, 0, 0], ['finalised', 'failed', 'M_FORBIDDEN']]);

    // The send action: no lateness; a refusal is a rejection with the host's errcode.
    const early = await scheduler.schedule(message(5000));
    await expect(scheduler.send(ALICE, early.delayId)).rejects.toThrow('no power');
    harness.sendImpl = () => undefined;
    await scheduler.send(ALICE, early.delayId);
    expect(metrics.calls.splice(0)).toEqual([
      ['scheduled'],
      ['sendFinished', false, 0, undefined],
      ['rejected', 'send', 'M_FORBIDDEN'],
      ['sendFinished', true, 0, undefined],
      ['finalised', 'sent', undefined],
    ]);

    // Cancelled by the owner and by newer state.
    const cancelled = await scheduler.schedule(message(5000));
    await scheduler.cancel(ALICE, cancelled.delayId);
    await scheduler.schedule({ ...message(5000), ...STATE });
    await scheduler.onStateEvent({ roomId: ROOM, ...STATE, sender: BOB.userId });
    expect(metrics.calls.splice(0)).toEqual([
      ['scheduled'],
      ['finalised', 'cancelled:action', undefined],
      ['scheduled'],
      ['finalised', 'cancelled:newer-state', undefined],
    ]);
  });

  it('reports deferrals by the delivery rate limit, and rate-limited requests', async () => {
    const metrics = recorder();
    const rateLimiter = new RateLimiter({
      buckets: { schedule: false, send: false, manage: { points: 1, durationMs: 60_000 }, delivery: { points: 1, durationMs: 10_000 } },
    });
    const harness = await createHarness({ metrics, rateLimiter });
    const a = await harness.scheduler.schedule(message(1000));
    await harness.scheduler.schedule(message(1000));
    await harness.scheduler.restart(ALICE, a.delayId);
    await expect(harness.scheduler.restart(ALICE, a.delayId)).rejects.toThrow();
    await harness.clock.advanceAsync(2000);
    await harness.scheduler.idle();
    const calls = metrics.calls.map((c) => c[0] === 'sendFinished' ? 'sendFinished' : c.join(':'));
    expect(calls, JSON.stringify(calls)).toEqual(['scheduled', 'scheduled', 'restarted', 'rejected:restart:M_LIMIT_EXCEEDED', 'sendFinished', 'deferred', 'finalised:sent:']);
  });

  it('rejects a metrics option without the hook methods', () => {
    let error: unknown;
    try {
      new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined, metrics: { scheduled: () => undefined } as unknown as SchedulerMetrics });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
  });

  it('scheduler.stats() reads the store, or says undefined when the store cannot tell', async () => {
    const harness = await createHarness();
    await harness.scheduler.schedule(message(1000));
    expect(await harness.scheduler.stats()).toEqual({ outstanding: 1, nextDueAtMs: harness.clock.now() + 1000 });
    const store = createMemoryStore();
    const bare = Object.assign(Object.create(store) as DelayedEventStore, { stats: undefined });
    expect(await new DelayedEventScheduler({ store: bare, sendEvent: () => undefined }).stats()).toBeUndefined();
  });
});

/** One sample's value from the text exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus binding', () => {
  it('counts, observes in seconds, and reads the gauges from the store when scraped', async () => {
    const registry = new Registry();
    const metrics = createPrometheusMetrics({ registry });
    const harness = await createHarness({ metrics, deliveryRetry: { attempts: 1 } });
    const { clock, scheduler } = harness;
    let text = await registry.metrics();
    expect(sample(text, 'mde_delayed_events_outstanding')).toBe(0);
    expect(sample(text, 'mde_delayed_events_next_due_timestamp_seconds')).toBeUndefined();
    expect(sample(text, 'mde_delayed_events_store_up')).toBe(1);
    expect(sample(text, 'mde_delayed_events_cancelled_total{reason="newer-state"}')).toBe(0);

    const a = await scheduler.schedule(message(1000));
    await scheduler.schedule(message(2000));
    await scheduler.restart(ALICE, a.delayId);
    await expect(scheduler.restart(BOB, a.delayId)).rejects.toThrow();
    text = await registry.metrics();
    expect(sample(text, 'mde_delayed_events_scheduled_total')).toBe(2);
    expect(sample(text, 'mde_delayed_events_restarted_total')).toBe(1);
    expect(sample(text, 'mde_delayed_events_rejected_total{operation="restart",errcode="M_NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'mde_delayed_events_outstanding')).toBe(2);
    expect(sample(text, 'mde_delayed_events_next_due_timestamp_seconds')).toBe((clock.now() + 1000) / 1000);

    harness.sendImpl = (event) => {
      clock.set(clock.now() + 20);
      if (event.delayId !== a.delayId) throw new MatrixError(403, 'M_FORBIDDEN', 'no');
    };
    clock.set(clock.now() + 1250);
    await clock.advanceAsync(0);
    await clock.advanceAsync(2000);
    await scheduler.idle();
    text = await registry.metrics();
    expect(sample(text, 'mde_delayed_events_sent_total')).toBe(1);
    expect(sample(text, 'mde_delayed_events_failed_total{errcode="M_FORBIDDEN"}')).toBe(1);
    expect(sample(text, 'mde_delayed_events_delivery_lateness_seconds_count')).toBe(1);
    expect(sample(text, 'mde_delayed_events_delivery_lateness_seconds_sum')).toBeCloseTo(0.25);
    expect(sample(text, 'mde_delayed_events_delivery_lateness_seconds_bucket{le="0.1"}')).toBe(0);
    expect(sample(text, 'mde_delayed_events_delivery_lateness_seconds_bucket{le="0.25"}')).toBe(1);
    expect(sample(text, 'mde_delayed_events_send_duration_seconds_count{result="ok"}')).toBe(1);
    expect(sample(text, 'mde_delayed_events_send_duration_seconds_sum{result="error"}')).toBeCloseTo(0.02);
    expect(sample(text, 'mde_delayed_events_outstanding')).toBe(0);
    expect(sample(text, 'mde_delayed_events_next_due_timestamp_seconds')).toBeUndefined();
    expect(text).toContain('# TYPE mde_delayed_events_delivery_lateness_seconds histogram');
  });

  it('store_up is 0 and the gauges keep their last values while the store fails', async () => {
    const registry = new Registry();
    const store = createMemoryStore();
    let failing = false;
    const flaky = Object.assign(Object.create(store) as DelayedEventStore, {
      stats(this: DelayedEventStore) {
        return failing ? Promise.reject(new Error('down')) : store.stats!.call(this);
      },
    });
    const scheduler = new DelayedEventScheduler({ store: flaky, sendEvent: () => undefined, metrics: createPrometheusMetrics({ registry, prefix: 'x_' }) });
    await scheduler.schedule(message(1000));
    expect(sample(await registry.metrics(), 'x_delayed_events_outstanding')).toBe(1);
    failing = true;
    const text = await registry.metrics();
    expect(sample(text, 'x_delayed_events_store_up')).toBe(0);
    expect(sample(text, 'x_delayed_events_outstanding')).toBe(1);
  });

  it('a second binding in the same registry needs another prefix', () => {
    const registry = new Registry();
    createPrometheusMetrics({ registry });
    expect(() => createPrometheusMetrics({ registry })).toThrow(/already been registered/);
    expect(() => createPrometheusMetrics({ registry, prefix: 'other_' })).not.toThrow();
  });
});
