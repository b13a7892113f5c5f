import { describe, expect, it } from 'vitest';
import { DelayedEventScheduler } from '../../../src/core/delayed-event-scheduler.js';
import { ConfigError } from '../../../src/core/config-error.js';
import { ForbiddenError, InvalidRequestError, MaxDelayExceededError, MaxOutstandingError } from '../../../src/core/errors.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { ALICE, BOB, message, ROOM } from '../../helpers/fixtures.js';
import { createHarness } from '../../helpers/scheduler-harness.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('DelayedEventScheduler.schedule', () => {
  it('returns unguessable, URL-safe delay IDs of at least 128 bits', async () => {
    const { scheduler } = await createHarness({ maxOutstandingPerUser: 1000 });
    const ids = new Set<string>();
    for (let i = 0; i < 500; i++) ids.add((await scheduler.schedule(message(1000))).delayId);
    expect(ids.size).toBe(500);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(id, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    }
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '1000'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['above MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER + 2],
  ])('rejects a %s delay with M_INVALID_PARAM', async (_name, delayMs) => {
    const { scheduler } = await createHarness();
    const error = await scheduler.schedule(message(0, { delayMs })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ errcode: 'M_INVALID_PARAM', httpStatus: 400 });
  });

  it('accepts a delay of 0 and the maximum itself', async () => {
    const { scheduler } = await createHarness({ maxDelayMs: 60_000 });
    await expect(scheduler.schedule(message(0))).resolves.toHaveProperty('delayId');
    await expect(scheduler.schedule(message(60_000))).resolves.toHaveProperty('delayId');
  });

  it('rejects a delay above maxDelayMs (default 24 h) with M_MAX_DELAY_EXCEEDED carrying the maximum', async () => {
    const { scheduler } = await createHarness();
    const error = await scheduler.schedule(message(DAY_MS + 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaxDelayExceededError);
    expect(error).toMatchObject({ errcode: 'M_MAX_DELAY_EXCEEDED', httpStatus: 400, maxDelayMs: DAY_MS });
    await expect(scheduler.schedule(message(DAY_MS))).resolves.toHaveProperty('delayId');
  });

  it('rejects content that is not a JSON object, and malformed identifiers', async () => {
    const { scheduler } = await createHarness();
    for (const content of [null, [1], 'text', 5]) {
      await expect(scheduler.schedule(message(10, { content }))).rejects.toMatchObject({ errcode: 'M_BAD_JSON' });
    }
    await expect(scheduler.schedule(message(10, { roomId: '' }))).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    await expect(scheduler.schedule(message(10, { type: 'x'.repeat(256) }))).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    await expect(scheduler.schedule(message(10, { stateKey: 7 }))).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('returns the same delay ID for a repeated transaction from the same user and device, whatever the body', async () => {
    const { scheduler, clock } = await createHarness();
    const first = await scheduler.schedule(message(5000, { txnId: 'send:t1' }));
    const repeat = await scheduler.schedule(message(9000, { txnId: 'send:t1', content: { different: true } }));
    expect(repeat.delayId).toBe(first.delayId);
    expect(await scheduler.findTransaction(ALICE, 'send:t1')).toBe(first.delayId);
    expect((await scheduler.list(ALICE)).events).toHaveLength(1);
    const otherDevice = await scheduler.schedule(message(5000, { txnId: 'send:t1', deviceId: 'OTHER' }));
    expect(otherDevice.delayId).not.toBe(first.delayId);
    const otherUser = await scheduler.schedule(message(5000, { ...BOB, txnId: 'send:t1' }));
    expect(otherUser.delayId).not.toBe(first.delayId);
    // Remembered for 24 hours, even after the event was sent.
    await clock.advanceAsync(DAY_MS - 1);
    expect((await scheduler.schedule(message(5000, { txnId: 'send:t1' }))).delayId).toBe(first.delayId);
    await clock.advanceAsync(2);
    expect(await scheduler.findTransaction(ALICE, 'send:t1')).toBeUndefined();
  });

  describe('per-user cap (MaxOutstandingGuard)', () => {
    it('admits exactly the cap out of 50 concurrent schedules', async () => {
      const { scheduler } = await createHarness({ maxOutstandingPerUser: 10 });
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => scheduler.schedule(message(1000 + i))));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const refusal = results.find((r) => r.status === 'rejected');
      expect(refusal?.status === 'rejected' && refusal.reason).toBeInstanceOf(MaxOutstandingError);
      expect(refusal?.status === 'rejected' && refusal.reason).toMatchObject({ errcode: 'M_MAX_DELAYED_EVENTS_EXCEEDED', httpStatus: 400 });
    });

    it('defaults to 100 per user', async () => {
      const { scheduler } = await createHarness();
      for (let i = 0; i < 100; i++) await scheduler.schedule(message(1000));
      await expect(scheduler.schedule(message(1000))).rejects.toBeInstanceOf(MaxOutstandingError);
      await expect(scheduler.schedule(message(1000, BOB))).resolves.toHaveProperty('delayId');
    });

    it('answers M_FORBIDDEN when the cap is 0 (scheduling disabled), per user when given a function', async () => {
      const { scheduler } = await createHarness({ maxOutstandingPerUser: (userId) => (userId === BOB.userId ? 0 : 5) });
      await expect(scheduler.schedule(message(10, BOB))).rejects.toBeInstanceOf(ForbiddenError);
      await expect(scheduler.schedule(message(10, BOB))).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
      await expect(scheduler.schedule(message(10))).resolves.toHaveProperty('delayId');
    });

    it('still allows restart, cancel, send and list at the cap', async () => {
      const { scheduler, sent } = await createHarness({ maxOutstandingPerUser: 3 });
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await scheduler.schedule(message(10_000))).delayId);
      await scheduler.restart(ALICE, ids[0]!);
      expect((await scheduler.list(ALICE)).events).toHaveLength(3);
      await scheduler.send(ALICE, ids[1]!);
      expect(sent).toHaveLength(1);
      await scheduler.cancel(ALICE, ids[2]!);
      expect((await scheduler.list(ALICE)).events).toHaveLength(1);
    });

    it('counts an event being sent until it is finalised', async () => {
      const harness = await createHarness({ maxOutstandingPerUser: 1 });
      let release!: () => void;
      harness.sendImpl = () => new Promise<void>((resolve) => (release = resolve));
      await harness.scheduler.schedule(message(100));
      const delivering = harness.clock.advanceAsync(100);
      await new Promise((resolve) => setImmediate(resolve));
      await expect(harness.scheduler.schedule(message(100))).rejects.toBeInstanceOf(MaxOutstandingError);
      release();
      await delivering;
      expect(harness.sent).toHaveLength(1);
      await expect(harness.scheduler.schedule(message(100))).resolves.toHaveProperty('delayId');
    });
  });

  it('validates options once, with stable config error codes', () => {
    const sendEvent = () => undefined;
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent, maxDelayMs: 0 }))).toBe('ERR_DE_MAX_DELAY_INVALID');
    expect(codeOf(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent, maxDelayMs: 1.5 }))).toBe('ERR_DE_MAX_DELAY_INVALID');
    expect(codeOf(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent, maxOutstandingPerUser: -1 }))).toBe('ERR_DE_MAX_PER_USER_INVALID');
    expect(codeOf(() => new DelayedEventScheduler({} as never))).toBe('ERR_DE_SEND_EVENT_MISSING');
    expect(codeOf(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent, cancelOnNewerState: 'sometimes' as never }))).toBe('ERR_DE_OPTION_INVALID');
    expect(codeOf(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent, leaseMs: 0 }))).toBe('ERR_DE_OPTION_INVALID');
    expect(codeOf(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent, deliveryRetry: { attempts: 0 } }))).toBe('ERR_DE_OPTION_INVALID');
    expect(Object.isFrozen(new DelayedEventScheduler({ store: createMemoryStore(), sendEvent }).options)).toBe(true);
  });

  it('keeps state keys, including the empty one, and hands the room and type through', async () => {
    const { scheduler, clock, sent } = await createHarness();
    await scheduler.schedule({ ...ALICE, roomId: ROOM, type: 'm.room.topic', stateKey: '', content: { topic: 't' }, delayMs: 5 });
    await clock.advanceAsync(5);
    expect(sent[0]).toMatchObject({ roomId: ROOM, type: 'm.room.topic', stateKey: '', content: { topic: 't' } });
  });
});
