import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/config-error.js';
import { DelayedEventScheduler } from '../../../src/core/delayed-event-scheduler.js';
import { DelayedEventNotFoundError, MatrixError } from '../../../src/core/errors.js';
import type { DelayedEventStore } from '../../../src/core/store.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { ALICE, BOB, message, ROOM } from '../../helpers/fixtures.js';
import { createHarness } from '../../helpers/scheduler-harness.js';

const DAY_MS = 24 * 60 * 60 * 1000;

async function notFound(promise: Promise<unknown>): Promise<DelayedEventNotFoundError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DelayedEventNotFoundError);
  return error as DelayedEventNotFoundError;
}

describe('finalised events (retainFinalised, the msc4140-2026 defaults)', () => {
  it('chooses its defaults by profile: 2026 retains 7 days / 1000 per user and never cancels on newer state', async () => {
    const h2026 = await createHarness({ profile: 'msc4140-2026' }, false);
    expect(h2026.scheduler.options.retainFinalised).toEqual({ maxAgeMs: 7 * DAY_MS, maxPerUser: 1000 });
    expect(h2026.scheduler.options.cancelOnNewerState).toBe('never');
    const h2024 = await createHarness({}, false);
    expect(h2024.scheduler.options.retainFinalised).toBeUndefined();
    expect(h2024.scheduler.options.cancelOnNewerState).toBe('other-senders');
    const overridden = await createHarness({ profile: 'msc4140-2026', cancelOnNewerState: 'other-senders', retainFinalised: { maxPerUser: 5 } }, false);
    expect(overridden.scheduler.options.cancelOnNewerState).toBe('other-senders');
    expect(overridden.scheduler.options.retainFinalised).toEqual({ maxAgeMs: 7 * DAY_MS, maxPerUser: 5 });
  });

  it('refuses retention on a store that cannot retain, and a bad policy', () => {
    // A store without the optional retention methods.
    const store: DelayedEventStore = Object.assign(createMemoryStore(), { retain: undefined, getFinalised: undefined });
    const build = (options: object) => () => new DelayedEventScheduler({ store, sendEvent: () => undefined, ...options });
    expect(build({ retainFinalised: true })).toThrow(ConfigError);
    expect(build({ profile: 'msc4140-2026' })).toThrow(/retain/);
    expect(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined, retainFinalised: { maxAgeMs: 0 } })).toThrow(ConfigError);
    expect(() => new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined, profile: 'msc4140-2030' as never })).toThrow(ConfigError);
  });

  it('shows a sent event with the event ID the host returned, and reports it to onFinalised', async () => {
    const h = await createHarness({ profile: 'msc4140-2026', sendEvent: () => Promise.resolve('$sent:example.org') });
    const { delayId } = await h.scheduler.schedule(message(1000));
    const pending = await h.scheduler.lookup(ALICE, delayId);
    expect(pending).toMatchObject({ delayId, roomId: ROOM, delayMs: 1000, runningSinceMs: h.clock.now() });
    expect(pending.finalised).toBeUndefined();
    await h.clock.advanceAsync(1000);
    expect(h.finalised.map((f) => f.outcome)).toEqual([{ kind: 'sent', eventId: '$sent:example.org' }]);
    expect(await h.scheduler.lookup(ALICE, delayId)).toEqual({
      ...pending,
      finalised: { outcome: 'sent', atMs: h.clock.now(), eventId: '$sent:example.org', error: undefined },
    });
    // A repeated action learns how the event ended; the owner's only.
    expect((await notFound(h.scheduler.send(ALICE, delayId))).finalisedOutcome).toBe('sent');
    expect((await notFound(h.scheduler.cancel(ALICE, delayId))).finalisedOutcome).toBe('sent');
    expect((await notFound(h.scheduler.send(BOB, delayId))).finalisedOutcome).toBeUndefined();
    await notFound(h.scheduler.lookup(BOB, delayId));
  });

  it('shows cancelled and failed events, the failure with its Matrix error', async () => {
    const h = await createHarness({ profile: 'msc4140-2026' });
    h.sendImpl = () => {
      throw new MatrixError(403, 'M_FORBIDDEN', 'Power levels forbid it');
    };
    const cancelled = await h.scheduler.schedule(message(5000));
    const failed = await h.scheduler.schedule(message(1000));
    await h.scheduler.cancel(ALICE, cancelled.delayId);
    await h.clock.advanceAsync(1000);
    expect((await h.scheduler.lookup(ALICE, cancelled.delayId)).finalised).toMatchObject({ outcome: 'cancelled', eventId: undefined, error: undefined });
    expect((await h.scheduler.lookup(ALICE, failed.delayId)).finalised).toMatchObject({
      outcome: 'failed',
      error: { errcode: 'M_FORBIDDEN', message: 'Power levels forbid it' },
    });
    expect((await notFound(h.scheduler.restart(ALICE, cancelled.delayId))).finalisedOutcome).toBe('cancelled');
    expect((await notFound(h.scheduler.cancel(ALICE, failed.delayId))).finalisedOutcome).toBe('failed');
  });

  it('forgets finalised events after maxAgeMs', async () => {
    const h = await createHarness({ retainFinalised: { maxAgeMs: 60_000 } });
    const { delayId } = await h.scheduler.schedule(message(0));
    await h.clock.advanceAsync(0);
    expect((await h.scheduler.lookup(ALICE, delayId)).finalised?.outcome).toBe('sent');
    await h.clock.advanceAsync(60_001);
    const error = await notFound(h.scheduler.lookup(ALICE, delayId));
    expect(error.finalisedOutcome).toBeUndefined();
  });

  it('without retention a finalised event is simply not found', async () => {
    const h = await createHarness();
    const { delayId } = await h.scheduler.schedule(message(0));
    await h.clock.advanceAsync(0);
    expect(h.sent).toHaveLength(1);
    expect((await notFound(h.scheduler.send(ALICE, delayId))).finalisedOutcome).toBeUndefined();
    await notFound(h.scheduler.lookup(ALICE, delayId));
  });
});

describe('the signal handed to sendEvent', () => {
  it('is aborted when the claim runs out while the host hangs, and not before', async () => {
    const signals: AbortSignal[] = [];
    const h = await createHarness({ leaseMs: 30_000, sendEvent: (_event, signal) => (signals.push(signal), new Promise(() => undefined)) });
    await h.scheduler.schedule(message(1000));
    h.clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(false);
    h.clock.advance(29_999);
    expect(signals[0]?.aborted).toBe(false);
    h.clock.advance(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('is handed to the send action too, and is not aborted once the send is done', async () => {
    const signals: AbortSignal[] = [];
    const h = await createHarness({ sendEvent: (_event, signal) => void signals.push(signal) });
    const { delayId } = await h.scheduler.schedule(message(100_000));
    const timersBefore = h.clock.pendingTimers;
    await h.scheduler.send(ALICE, delayId);
    // The lease timer is gone with the send.
    expect(h.clock.pendingTimers).toBe(timersBefore);
    h.clock.advance(60_000);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(false);
  });
});
