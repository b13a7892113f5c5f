import { describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY_MS, systemClock } from '../../../src/core/clock.js';
import { DelayedEventScheduler } from '../../../src/core/delayed-event-scheduler.js';
import { MatrixError, RateLimitedError } from '../../../src/core/errors.js';
import { RateLimiter } from '../../../src/core/rate-limiter.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import type { DelayedEventStore } from '../../../src/core/store.js';
import type { DueDelayedEvent } from '../../../src/core/types.js';
import { ALICE, BOB, CALL_MEMBER, callMember as call, message, noLimits, ROOM } from '../../helpers/fixtures.js';
import { condition, createHarness } from '../../helpers/scheduler-harness.js';

describe('DelayedEventScheduler delivery', () => {
  it('sends nothing a millisecond early and exactly once on time, with every field', async () => {
    const { scheduler, clock, sent } = await createHarness();
    const { delayId } = await scheduler.schedule(call('_alice', 5000, ALICE, { memberships: [] }));
    const scheduledAt = clock.now();
    await clock.advanceAsync(4999);
    expect(sent).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(sent).toEqual([
      {
        delayId,
        userId: ALICE.userId,
        deviceId: ALICE.deviceId,
        roomId: ROOM,
        type: CALL_MEMBER,
        stateKey: '_alice',
        content: { memberships: [] },
        contentJson: '{"memberships":[]}',
        sendAtMs: scheduledAt + 5000,
        trigger: 'timeout',
      },
    ]);
    await clock.advanceAsync(60_000);
    expect(sent).toHaveLength(1);
    // Content is parsed once, on first read, and survives spreading and serialising the event.
    expect(sent[0]!.content).toBe(sent[0]!.content);
    expect({ ...sent[0] }.content).toEqual({ memberships: [] });
    expect(JSON.parse(JSON.stringify(sent[0]))).toMatchObject({ content: { memberships: [] } });
  });

  it('hands over content that is parsed on first read, even from an event the host froze', async () => {
    const { scheduler, clock, sent } = await createHarness();
    await scheduler.schedule(call('_a', 1000, ALICE, { n: 1 }));
    await scheduler.schedule(call('_b', 1000, ALICE, { n: 2 }));
    await clock.advanceAsync(1000);
    const [first, second] = sent as [DueDelayedEvent, DueDelayedEvent];
    Object.freeze(second);
    expect(second.content).toEqual({ n: 2 });
    expect(Object.keys(first)).toContain('content');
    expect(first.content).toEqual({ n: 1 });
    expect(first.content).toBe(first.content);
    expect(() => {
      (first as { content: unknown }).content = {};
    }).toThrow(TypeError);
  });

  it('keeps one wake-up timer however many events are pending', async () => {
    const { scheduler, clock } = await createHarness({ maxOutstandingPerUser: 1000 });
    for (let i = 0; i < 300; i++) await scheduler.schedule(message(1000 + ((i * 7919) % 5000)));
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(2000);
    expect(clock.pendingTimers).toBe(1);
  });

  it('clamps delays beyond setTimeout\'s limit and re-arms', async () => {
    const fortyDays = 40 * 24 * 60 * 60 * 1000;
    const { scheduler, clock, sent } = await createHarness({ maxDelayMs: fortyDays });
    await scheduler.schedule(message(fortyDays));
    await clock.advanceAsync(MAX_TIMER_DELAY_MS);
    expect(sent).toHaveLength(0);
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(fortyDays - MAX_TIMER_DELAY_MS - 1);
    expect(sent).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(sent).toHaveLength(1);
  });

  it('sends due events in send-time order, including several for one state key', async () => {
    const { scheduler, clock, sent } = await createHarness();
    await scheduler.schedule(call('k', 300, ALICE, { n: 3 }));
    await scheduler.schedule(call('k', 100, ALICE, { n: 1 }));
    await scheduler.schedule(message(150, { content: { n: 1.5 } }));
    await scheduler.schedule(call('k', 200, ALICE, { n: 2 }));
    await clock.advanceAsync(1000);
    expect(sent.map((e) => e.content['n'])).toEqual([1, 1.5, 2, 3]);
  });

  it('start() sends what fell due while stopped, oldest first, with the scheduled time', async () => {
    const harness = await createHarness({}, false);
    const { scheduler, clock, sent } = harness;
    await scheduler.schedule(message(3000, { content: { n: 2 } }));
    await scheduler.schedule(message(1000, { content: { n: 1 } }));
    const t0 = clock.now();
    await clock.advanceAsync(10_000);
    expect(sent).toHaveLength(0);
    await scheduler.start();
    expect(sent.map((e) => [e.content['n'], e.sendAtMs])).toEqual([
      [1, t0 + 1000],
      [2, t0 + 3000],
    ]);
  });

  it('stop() clears the timer and waits for sends in flight', async () => {
    const harness = await createHarness();
    let release!: () => void;
    harness.sendImpl = () => new Promise<void>((resolve) => (release = resolve));
    await harness.scheduler.schedule(message(10));
    await harness.scheduler.schedule(message(5000));
    const delivering = harness.clock.advanceAsync(10);
    await new Promise((resolve) => setImmediate(resolve));
    let stopped = false;
    const stopping = harness.scheduler.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    await delivering;
    expect(harness.clock.pendingTimers).toBe(0);
    await harness.clock.advanceAsync(10_000);
    expect(harness.sent).toHaveLength(1);
  });

  it('finalises a 4xx refusal at sending time without retrying, and reports it', async () => {
    const harness = await createHarness();
    let calls = 0;
    harness.sendImpl = () => {
      calls++;
      throw new MatrixError(403, 'M_FORBIDDEN', 'power levels changed');
    };
    const { delayId } = await harness.scheduler.schedule(message(100));
    await harness.clock.advanceAsync(100_000);
    expect(calls).toBe(1);
    expect(harness.finalised).toEqual([
      { event: expect.objectContaining({ delayId }), outcome: { kind: 'failed', error: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) } },
    ]);
    expect((await harness.scheduler.list(ALICE)).events).toEqual([]);
  });

  it('retries a transient failure with exponential backoff, then finalises it', async () => {
    const harness = await createHarness({ deliveryRetry: { attempts: 3, initialBackoffMs: 1000, maxBackoffMs: 10_000 } });
    const attemptsAt: number[] = [];
    harness.sendImpl = () => {
      attemptsAt.push(harness.clock.now());
      throw new Error('database is down');
    };
    await harness.scheduler.schedule(message(0));
    const t0 = harness.clock.now();
    await harness.clock.advanceAsync(60_000);
    expect(attemptsAt.map((t) => t - t0)).toEqual([0, 1000, 3000]);
    expect(harness.finalised).toHaveLength(1);
    expect(harness.finalised[0]?.outcome).toMatchObject({ kind: 'failed', error: expect.objectContaining({ message: 'database is down' }) });
  });

  it('a transient failure that recovers is sent once', async () => {
    const harness = await createHarness();
    let failures = 2;
    harness.sendImpl = () => {
      if (failures-- > 0) throw new MatrixError(502, 'M_UNKNOWN', 'bad gateway');
    };
    await harness.scheduler.schedule(message(0));
    await harness.clock.advanceAsync(60_000);
    expect(harness.sent).toHaveLength(1);
    expect(harness.finalised.map((f) => f.outcome.kind)).toEqual(['sent']);
  });

  describe('delivery rate limit (at the point of sending)', () => {
    const limited = () => noLimits({ delivery: { points: 2, durationMs: 10_000 } });

    it('"defer" (default) re-queues events until the limiter allows, and list shows the new time', async () => {
      // RateLimiterMemory reads the real clock, so its window is driven with fake timers.
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        const harness = await createHarness({ rateLimiter: limited() });
        for (let i = 0; i < 5; i++) await harness.scheduler.schedule(message(1000 + i, { content: { n: i } }));
        await harness.clock.advanceAsync(1004);
        expect(harness.sent.map((e) => e.content['n'])).toEqual([0, 1]);
        const pending = (await harness.scheduler.list(ALICE)).events;
        expect(pending).toHaveLength(3);
        for (const e of pending) expect(e.runningSinceMs + e.delayMs).toBeGreaterThan(harness.clock.now());
        vi.advanceTimersByTime(10_001);
        await harness.clock.advanceAsync(10_001);
        expect(harness.sent.map((e) => e.content['n'])).toEqual([0, 1, 2, 3]);
        vi.advanceTimersByTime(10_001);
        await harness.clock.advanceAsync(10_001);
        expect(harness.sent).toHaveLength(5);
        expect(harness.finalised.every((f) => f.outcome.kind === 'sent')).toBe(true);
      } finally {
        vi.useRealTimers();
      }
    });

    it('"fail" finalises the excess with a RateLimitedError reported to onFinalised', async () => {
      const harness = await createHarness({ rateLimiter: limited(), deliveryRateLimitPolicy: 'fail' });
      for (let i = 0; i < 4; i++) await harness.scheduler.schedule(message(1000));
      await harness.clock.advanceAsync(1000);
      expect(harness.sent).toHaveLength(2);
      const failed = harness.finalised.filter((f) => f.outcome.kind === 'failed');
      expect(failed).toHaveLength(2);
      expect(failed[0]?.outcome.kind === 'failed' && failed[0].outcome.error).toBeInstanceOf(RateLimitedError);
      expect((await harness.scheduler.list(ALICE)).events).toEqual([]);
    });
  });

  describe('cancellation by newer state (onStateEvent)', () => {
    it('"other-senders" (default): the owner\'s own newer state keeps it; another user\'s cancels it', async () => {
      const { scheduler, clock, sent, finalised } = await createHarness();
      await scheduler.schedule(call('_alice', 1000));
      expect(await scheduler.onStateEvent({ roomId: ROOM, type: CALL_MEMBER, stateKey: '_alice', sender: ALICE.userId })).toBe(0);
      expect((await scheduler.list(ALICE)).events).toHaveLength(1);
      expect(await scheduler.onStateEvent({ roomId: ROOM, type: CALL_MEMBER, stateKey: '_alice', sender: BOB.userId })).toBe(1);
      await clock.advanceAsync(5000);
      expect(sent).toHaveLength(0);
      expect(finalised[0]?.outcome).toEqual({ kind: 'cancelled', reason: 'newer-state' });
    });

    it('"any-sender" cancels on the owner\'s own state too; "never" never cancels', async () => {
      const any = await createHarness({ cancelOnNewerState: 'any-sender' });
      await any.scheduler.schedule(call('k', 1000));
      expect(await any.scheduler.onStateEvent({ roomId: ROOM, type: CALL_MEMBER, stateKey: 'k', sender: ALICE.userId })).toBe(1);
      const never = await createHarness({ cancelOnNewerState: 'never' });
      await never.scheduler.schedule(call('k', 1000));
      expect(await never.scheduler.onStateEvent({ roomId: ROOM, type: CALL_MEMBER, stateKey: 'k', sender: BOB.userId })).toBe(0);
      await never.clock.advanceAsync(1000);
      expect(never.sent).toHaveLength(1);
    });

    it('only touches the same room, type and state key', async () => {
      const { scheduler } = await createHarness();
      await scheduler.schedule(call('k', 1000));
      await scheduler.schedule(message(1000));
      const cancelled = await Promise.all([
        scheduler.onStateEvent({ roomId: '!other:x', type: CALL_MEMBER, stateKey: 'k', sender: BOB.userId }),
        scheduler.onStateEvent({ roomId: ROOM, type: 'm.room.topic', stateKey: 'k', sender: BOB.userId }),
        scheduler.onStateEvent({ roomId: ROOM, type: CALL_MEMBER, stateKey: 'other', sender: BOB.userId }),
      ]);
      expect(cancelled).toEqual([0, 0, 0]);
      expect((await scheduler.list(ALICE)).events).toHaveLength(2);
    });
  });

  describe('finalising a storm', () => {
    /** The memory store with its finalise calls counted, and optionally held until released. */
    function watchedStore(options: { batched?: boolean; hold?: boolean; failOnce?: boolean } = {}) {
      const store = createMemoryStore();
      const calls = { finalise: 0, finaliseMany: 0 };
      let release: () => void = () => undefined;
      const held = options.hold ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
      let failures = options.failOnce ? 1 : 0;
      const watched: DelayedEventStore = Object.create(store) as DelayedEventStore;
      Object.assign(watched, {
        finalise: async (...args: Parameters<DelayedEventStore['finalise']>) => {
          calls.finalise++;
          await held;
          return store.finalise(...args);
        },
        finaliseMany:
          options.batched === false
            ? undefined
            : async (...args: Parameters<NonNullable<DelayedEventStore['finaliseMany']>>) => {
                calls.finaliseMany++;
                await held;
                if (failures-- > 0) throw new Error('ECONNRESET');
                return store.finaliseMany!(...args);
              },
      });
      return { store: watched, calls, release };
    }

    /**
     * The memory store with a promise for the moment it has handed out `count` non-empty batches: how a
     * test knows a batch was claimed ahead while the delivery run is still blocked in a send. (Empty
     * claims, such as start()'s, do not count.)
     */
    function claimWatchedStore() {
      const store = createMemoryStore();
      const answered = condition();
      let batches = 0;
      const watched: DelayedEventStore = Object.create(store) as DelayedEventStore;
      Object.assign(watched, {
        claimDue: async (...args: Parameters<DelayedEventStore['claimDue']>) => {
          const batch = await store.claimDue(...args);
          if (batch.length > 0) batches++;
          answered.poke();
          return batch;
        },
      });
      return { store: watched, untilBatches: (count: number) => answered.until(() => batches >= count) };
    }

    it('removes a claimed batch with one store call and reports every event', async () => {
      const { store, calls } = watchedStore();
      const harness = await createHarness({ store });
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await harness.scheduler.schedule({ ...message(1000), roomId: `!r${i % 3}:x` })).delayId);
      await harness.clock.advanceAsync(1000);
      await harness.scheduler.idle();
      expect(calls).toEqual({ finalise: 0, finaliseMany: 1 });
      expect(harness.finalised.map((f) => f.event.delayId).sort()).toEqual([...ids].sort());
      expect(harness.finalised.every((f) => f.outcome.kind === 'sent')).toBe(true);
      expect(await store.nextDueAtMs()).toBeUndefined();
    });

    it("sends a room's next event without waiting for the previous one's removal", async () => {
      const { store, release } = watchedStore({ hold: true });
      const harness = await createHarness({ store });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await harness.scheduler.schedule(message(1000))).delayId);
      // The delivery run cannot end while the store holds the removals, so the clock is not awaited yet.
      const advancing = harness.clock.advanceAsync(1000);
      // All three go out, in order, while the store still holds the first removal. (Were the second
      // send to wait for the first removal, this would never resolve and the test would time out.)
      await harness.untilSent(3);
      expect(harness.sent.map((e) => e.delayId)).toEqual(ids);
      expect(harness.finalised).toEqual([]);
      release();
      await advancing;
      await harness.scheduler.idle();
      expect(harness.finalised.map((f) => f.event.delayId)).toEqual(ids);
      expect(await store.nextDueAtMs()).toBeUndefined();
    });

    it('claims the next batch while the current one is sent, keeping the order', async () => {
      const { store, untilBatches } = claimWatchedStore();
      const harness = await createHarness({ store, claimBatchSize: 2 });
      let unblock: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (unblock = resolve));
      harness.sendImpl = (event) => (event.delayId === ids[0] ? blocked : undefined);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await harness.scheduler.schedule(message(1000))).delayId);
      const advancing = harness.clock.advanceAsync(1000);
      // While the first batch's first send hangs, the second batch is already claimed (claimed events
      // are not listed); the fifth event waits for the batch after. Two batches handed out are the first
      // and the one claimed ahead; were the claim not made ahead, the second would never come
      // while the send hangs, and the test would time out.
      await untilBatches(2);
      expect((await harness.scheduler.list(ALICE)).events.map((e) => e.delayId)).toEqual([ids[4]]);
      expect(harness.sent).toEqual([]);
      unblock();
      await advancing;
      await harness.scheduler.idle();
      expect(harness.sent.map((e) => e.delayId)).toEqual(ids);
      expect(harness.finalised).toHaveLength(5);
    });

    it('stop() during a storm sends the batch claimed ahead instead of leaving it to its lease', async () => {
      const { store, untilBatches } = claimWatchedStore();
      const harness = await createHarness({ store, claimBatchSize: 2 });
      let unblock: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (unblock = resolve));
      harness.sendImpl = () => blocked;
      for (let i = 0; i < 6; i++) await harness.scheduler.schedule(message(1000));
      const advancing = harness.clock.advanceAsync(1000);
      // The first batch is being sent (blocked) and the second is claimed ahead.
      await untilBatches(2);
      expect((await harness.scheduler.list(ALICE)).events).toHaveLength(2);
      const stopping = harness.scheduler.stop();
      unblock();
      await stopping;
      await advancing;
      // Both claimed batches went out; the third was never claimed and is still pending.
      expect(harness.sent).toHaveLength(4);
      expect(harness.finalised).toHaveLength(4);
      expect((await harness.scheduler.list(ALICE)).events).toHaveLength(2);
    });

    it('falls back to one finalise per event for a store without finaliseMany', async () => {
      const { store, calls } = watchedStore({ batched: false });
      const harness = await createHarness({ store });
      for (let i = 0; i < 4; i++) await harness.scheduler.schedule(message(1000));
      await harness.clock.advanceAsync(1000);
      await harness.scheduler.idle();
      expect(calls).toEqual({ finalise: 4, finaliseMany: 0 });
      expect(harness.finalised).toHaveLength(4);
      expect(await store.nextDueAtMs()).toBeUndefined();
    });

    it('loses nothing when removing a batch fails: the events are sent again after the lease', async () => {
      const { store } = watchedStore({ failOnce: true });
      const errors: string[] = [];
      const harness = await createHarness({ store, leaseMs: 5000, logger: { error: (record, message) => errors.push(`${message} ${JSON.stringify(record)}`) } });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await harness.scheduler.schedule(message(1000))).delayId);
      await harness.clock.advanceAsync(1000);
      await harness.scheduler.idle();
      expect(harness.sent).toHaveLength(3);
      expect(harness.finalised).toEqual([]);
      // One line for the failed batch, naming how many events wait for their lease.
      expect(errors).toEqual([expect.stringMatching(/^delayed events: store fault while finalising.*"count":3,"delayId":"\S{6}…"/)]);
      await harness.clock.advanceAsync(5000);
      await harness.scheduler.idle();
      expect(harness.sent.map((e) => e.delayId).sort()).toEqual([...ids, ...ids].sort());
      expect(harness.finalised.map((f) => f.event.delayId).sort()).toEqual([...ids].sort());
      expect(await store.nextDueAtMs()).toBeUndefined();
    });
  });

  describe('store faults', () => {
    function flakyStore() {
      const store = createMemoryStore();
      let broken = false;
      const proxy = new Proxy(store, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => (broken ? Promise.reject(new Error('ECONNREFUSED')) : (value as (...a: unknown[]) => unknown).apply(target, args));
        },
      });
      return { store: proxy, setBroken: (value: boolean) => (broken = value) };
    }

    it('fail fast with StoreUnavailableError (503 M_UNKNOWN) and lose nothing', async () => {
      const { store, setBroken } = flakyStore();
      const harness = await createHarness({ store });
      const { delayId } = await harness.scheduler.schedule(message(1000));
      setBroken(true);
      for (const attempt of [
        () => harness.scheduler.schedule(message(1000)),
        () => harness.scheduler.restart(ALICE, delayId),
        () => harness.scheduler.cancel(ALICE, delayId),
        () => harness.scheduler.send(ALICE, delayId),
        () => harness.scheduler.list(ALICE),
      ]) {
        await expect(attempt()).rejects.toMatchObject({ name: 'StoreUnavailableError', errcode: 'M_UNKNOWN', httpStatus: 503 });
      }
      await harness.clock.advanceAsync(3000);
      expect(harness.sent).toHaveLength(0);
      setBroken(false);
      await harness.clock.advanceAsync(5000);
      expect(harness.sent.map((e) => e.delayId)).toEqual([delayId]);
    });
  });

  it('delivers a due event with the default rate limiter (its delivery bucket on)', async () => {
    // No rateLimiter option, so the delivery goes through the default limiter's "delivery" bucket
    // (and the scheduling through its "schedule" bucket). The clock is manual so the test does not
    // wait on real time; that the default clock is the system clock is checked below.
    const clock = new ManualClock();
    const sent: string[] = [];
    const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), clock, sendEvent: (e) => void sent.push(e.delayId) });
    expect(scheduler.rateLimiter).toBeInstanceOf(RateLimiter);
    expect(scheduler.rateLimiter.isEnabled('delivery')).toBe(true);
    await scheduler.start();
    const { delayId } = await scheduler.schedule(message(1000));
    await clock.advanceAsync(999);
    expect(sent).toEqual([]);
    await clock.advanceAsync(1);
    expect(sent).toEqual([delayId]);
    await scheduler.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs on the system clock unless given another', () => {
    // What the old real-time "built from defaults" test also covered, checked without waiting.
    const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined });
    expect(scheduler.options.clock).toBe(systemClock);
  });

  it('runs on a store shared with a manual clock without leaking timers across restarts', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const sent: string[] = [];
    const first = new DelayedEventScheduler({ store, clock, rateLimiter: noLimits(), sendEvent: (e) => void sent.push(e.delayId) });
    await first.start();
    const { delayId } = await first.schedule(message(1000));
    await first.stop();
    expect(clock.pendingTimers).toBe(0);
    const second = new DelayedEventScheduler({ store, clock, rateLimiter: noLimits(), sendEvent: (e) => void sent.push(e.delayId) });
    await clock.advanceAsync(2000);
    await second.start();
    expect(sent).toEqual([delayId]);
  });
});
