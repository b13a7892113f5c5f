/**
 * Graceful shutdown (`stop({ deadlineMs })`: drain within the deadline, then abort and release every
 * claim still held) and `health()`, on a ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../../src/core/config-error.js';
import { DelayedEventScheduler } from '../../../src/core/delayed-event-scheduler.js';
import type { DelayedEventStore } from '../../../src/core/store.js';
import type { DueDelayedEvent } from '../../../src/core/types.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { message, noLimits } from '../../helpers/fixtures.js';

interface Worker {
  readonly scheduler: DelayedEventScheduler;
  readonly sent: string[];
  readonly signals: AbortSignal[];
  /** Resolves the hung sends. */
  release(): void;
}

/** A scheduler on a shared store whose sendEvent hangs for the events in `hang` until released. */
function worker(store: DelayedEventStore, clock: ManualClock, hang: Set<string> = new Set(), options = {}): Worker {
  const sent: string[] = [];
  const signals: AbortSignal[] = [];
  let unblock: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => (unblock = resolve));
  const scheduler = new DelayedEventScheduler({
    store,
    clock,
    rateLimiter: noLimits(),
    leaseMs: 30_000,
    maxConcurrentSends: 1,
    claimBatchSize: 3,
    ...options,
    sendEvent: async (event: DueDelayedEvent, signal: AbortSignal) => {
      signals.push(signal);
      if (hang.has(event.delayId)) await blocked;
      sent.push(event.delayId);
    },
  });
  return { scheduler, sent, signals, release: unblock };
}

/** Lets queued promise callbacks and `setImmediate` work run (the sends here may hang, so the clock's
 * `advanceAsync`, which awaits the drain, cannot be used). */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function scheduleMany(scheduler: DelayedEventScheduler, n: number, delayMs = 1000): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await scheduler.schedule(message(delayMs, { content: { i } }))).delayId);
  return ids;
}

describe('stop({ deadlineMs })', () => {
  it('after the deadline: aborts the sends, keeps what was sent, and releases the rest for another worker at once', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const hang = new Set<string>();
    const a = worker(store, clock, hang);
    const ids = await scheduleMany(a.scheduler, 6);
    hang.add(ids[1]!); // the second event of the first batch hangs
    await a.scheduler.start();
    clock.advance(1000);
    await turns();
    expect(a.sent).toEqual([ids[0]]);

    let stopped = false;
    const stopping = a.scheduler.stop({ deadlineMs: 5000 }).then(() => (stopped = true));
    clock.advance(4999);
    await turns();
    expect(stopped).toBe(false);
    clock.advance(1);
    await turns();
    await stopping;
    expect(a.signals.every((signal) => signal.aborted)).toBe(true);

    // Another worker takes over at once, not after the 30 s lease: the hung event, the one the batch
    // never started, and the batch claimed ahead. The event sent before the deadline is not sent again.
    const b = worker(store, clock);
    await b.scheduler.start();
    await b.scheduler.idle();
    expect(b.sent.sort()).toEqual(ids.slice(1).sort());
    expect((await store.stats!()).outstanding).toBe(0);
    a.release(); // the hung send returns late: its claim is gone, nothing is reported twice
    await a.scheduler.idle();
    await b.scheduler.stop();
  });

  it('within the deadline: waits for the sends, releases only the batch claimed ahead', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const hang = new Set<string>();
    const a = worker(store, clock, hang);
    const ids = await scheduleMany(a.scheduler, 6);
    hang.add(ids[1]!);
    await a.scheduler.start();
    clock.advance(1000);
    await turns();
    const stopping = a.scheduler.stop({ deadlineMs: 5000 });
    clock.advance(100);
    await turns();
    a.release();
    await stopping;
    expect(a.sent).toEqual(ids.slice(0, 3));
    expect(a.signals.some((signal) => signal.aborted)).toBe(false);
    const b = worker(store, clock);
    await b.scheduler.start();
    await b.scheduler.idle();
    expect(b.sent.sort()).toEqual(ids.slice(3).sort());
    await b.scheduler.stop();
  });

  it('without options: waits for every send in flight, as before (the batch claimed ahead is sent too)', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const hang = new Set<string>();
    const a = worker(store, clock, hang);
    const ids = await scheduleMany(a.scheduler, 9);
    hang.add(ids[0]!);
    await a.scheduler.start();
    clock.advance(1000);
    await turns();
    let stopped = false;
    const stopping = a.scheduler.stop().then(() => (stopped = true));
    clock.advance(10_000);
    await turns();
    expect(stopped).toBe(false);
    a.release();
    await stopping;
    expect(a.sent).toEqual(ids.slice(0, 6));
    const due = await store.claimDue({ nowMs: clock.now(), max: 10, leaseMs: 1000, claimToken: 'other' });
    expect(due.map((e) => e.delayId).sort()).toEqual(ids.slice(6).sort());
  });

  it('with a store without release: aborts at the deadline and leaves the claims to their lease', async () => {
    const clock = new ManualClock();
    const memory = createMemoryStore();
    const store = Object.assign(Object.create(memory) as DelayedEventStore, { release: undefined });
    const hang = new Set<string>();
    const a = worker(store, clock, hang);
    const ids = await scheduleMany(a.scheduler, 3);
    hang.add(ids[0]!);
    await a.scheduler.start();
    clock.advance(1000);
    await turns();
    const stopping = a.scheduler.stop({ deadlineMs: 1000 });
    clock.advance(1000);
    await turns();
    await stopping;
    expect(a.signals[0]?.aborted).toBe(true);
    expect(await store.claimDue({ nowMs: clock.now(), max: 10, leaseMs: 1000, claimToken: 'other' })).toEqual([]);
    clock.set(clock.now() + 30_000);
    expect(await store.claimDue({ nowMs: clock.now(), max: 10, leaseMs: 1000, claimToken: 'other' })).toHaveLength(3);
  });

  it('rejects an invalid deadline; stop() of a scheduler never started resolves at once', async () => {
    const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined, clock: new ManualClock() });
    await expect(scheduler.stop()).resolves.toBeUndefined();
    await expect(scheduler.stop({ deadlineMs: 0 })).resolves.toBeUndefined();
    const error = await scheduler.stop({ deadlineMs: -1 }).catch((e: unknown) => e);
    expect(isConfigError(error)).toBe(true);
  });
});

describe('health()', () => {
  it('reports the timer state, the store and the lag of the oldest due event', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const a = worker(store, clock);
    expect(await a.scheduler.health()).toEqual({ store: 'ok', timer: 'stopped' });
    await a.scheduler.start();
    expect(await a.scheduler.health()).toEqual({ store: 'ok', timer: 'idle' });
    await scheduleMany(a.scheduler, 1);
    expect(await a.scheduler.health()).toEqual({ store: 'ok', timer: 'armed', nextDueAtMs: clock.now() + 1000, oldestDueLagMs: 0 });
    await a.scheduler.stop();
    // Nobody delivers: the lag grows.
    clock.set(clock.now() + 4000);
    expect(await a.scheduler.health()).toMatchObject({ store: 'ok', timer: 'stopped', oldestDueLagMs: 3000 });
  });

  it('reports the store unreachable when it fails or does not answer in time', async () => {
    const clock = new ManualClock();
    const memory = createMemoryStore();
    let mode: 'fail' | 'hang' = 'fail';
    const store = Object.assign(Object.create(memory) as DelayedEventStore, {
      nextDueAtMs: () => (mode === 'fail' ? Promise.reject(new Error('ECONNREFUSED')) : new Promise(() => undefined)),
    });
    const scheduler = new DelayedEventScheduler({ store, sendEvent: () => undefined, clock });
    expect(await scheduler.health()).toEqual({ store: 'unreachable', timer: 'stopped' });
    mode = 'hang';
    const checking = scheduler.health({ timeoutMs: 500 });
    await clock.advanceAsync(500);
    expect(await checking).toEqual({ store: 'unreachable', timer: 'stopped' });
    expect(clock.pendingTimers).toBe(0);
  });
});
