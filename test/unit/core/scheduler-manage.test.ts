import { describe, expect, it } from 'vitest';
import { DelayedEventNotFoundError, MatrixError } from '../../../src/core/errors.js';
import type { ListCursor } from '../../../src/core/store.js';
import { ALICE, BOB, callMember, message, ROOM } from '../../helpers/fixtures.js';
import { createHarness } from '../../helpers/scheduler-harness.js';

describe('DelayedEventScheduler management', () => {
  it('restart: running since now, due at now + the original delay', async () => {
    const { scheduler, clock, sent } = await createHarness();
    const { delayId } = await scheduler.schedule(message(5000));
    await clock.advanceAsync(3000);
    await scheduler.restart(ALICE, delayId);
    const [listed] = (await scheduler.list(ALICE)).events;
    expect(listed).toMatchObject({ delayId, delayMs: 5000, runningSinceMs: clock.now() });
    await clock.advanceAsync(4999);
    expect(sent).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(sent.map((e) => e.delayId)).toEqual([delayId]);
    expect(sent[0]!.sendAtMs).toBe(clock.now());
  });

  it('a heartbeat keeps the event from firing; stopping it lets it fire', async () => {
    const { scheduler, clock, sent } = await createHarness();
    const { delayId } = await scheduler.schedule(callMember('_alice', 8000));
    for (let i = 0; i < 20; i++) {
      await clock.advanceAsync(5000);
      await scheduler.restart(ALICE, delayId);
    }
    expect(sent).toHaveLength(0);
    await clock.advanceAsync(8000);
    expect(sent).toHaveLength(1);
  });

  describe.each(['send', 'cancel', 'restart'] as const)('%s answers M_NOT_FOUND (never 403)', (action) => {
    it('for an unknown ID, another user\'s event, and a sent or cancelled one', async () => {
      const { scheduler, clock } = await createHarness();
      const expectNotFound = async (who: typeof ALICE | typeof BOB, id: string) => {
        const error = await scheduler[action](who, id).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DelayedEventNotFoundError);
        expect(error).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
      };
      await expectNotFound(ALICE, 'no-such-id');
      await expectNotFound(ALICE, '');
      await expectNotFound(ALICE, 'x'.repeat(10_000));
      const { delayId: alices } = await scheduler.schedule(message(1000));
      await expectNotFound(BOB, alices);
      await clock.advanceAsync(1000);
      await expectNotFound(ALICE, alices);
      const { delayId: cancelled } = await scheduler.schedule(message(1000));
      await scheduler.cancel(ALICE, cancelled);
      await expectNotFound(ALICE, cancelled);
    });
  });

  it('cancel: never sent, reported to onFinalised', async () => {
    const { scheduler, clock, sent, finalised } = await createHarness();
    const { delayId } = await scheduler.schedule(message(1500));
    await clock.advanceAsync(1000);
    await scheduler.cancel(ALICE, delayId);
    await clock.advanceAsync(10_000);
    expect(sent).toHaveLength(0);
    expect(finalised).toEqual([expect.objectContaining({ outcome: { kind: 'cancelled', reason: 'action' } })]);
  });

  it('send: sent at once with trigger "action", and never again', async () => {
    const { scheduler, clock, sent, finalised } = await createHarness();
    const { delayId } = await scheduler.schedule(message(100_000));
    await scheduler.send(ALICE, delayId);
    expect(sent).toEqual([expect.objectContaining({ delayId, trigger: 'action' })]);
    expect(finalised[0]?.outcome).toEqual({ kind: 'sent' });
    await clock.advanceAsync(200_000);
    expect(sent).toHaveLength(1);
  });

  it('send: a refusal goes back to the caller and the event stays scheduled as it was', async () => {
    const harness = await createHarness();
    const { scheduler, clock } = harness;
    const { delayId } = await scheduler.schedule(message(10_000));
    const [before] = (await scheduler.list(ALICE)).events;
    harness.sendImpl = () => {
      throw new MatrixError(403, 'M_FORBIDDEN', 'You may not send that here');
    };
    await expect(scheduler.send(ALICE, delayId)).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
    expect((await scheduler.list(ALICE)).events).toEqual([before]);
    expect(harness.finalised).toHaveLength(0);
    harness.sendImpl = () => undefined;
    await clock.advanceAsync(10_000);
    expect(harness.sent.map((e) => e.delayId)).toEqual([delayId]);
  });

  describe('list', () => {
    it('shows only the caller\'s pending events, in send-time order, with their fields', async () => {
      const { scheduler } = await createHarness();
      const late = await scheduler.schedule(message(3000));
      const early = await scheduler.schedule({ ...ALICE, roomId: ROOM, type: 'm.call.member', stateKey: 'k', content: { memberships: [] }, delayMs: 1000 });
      await scheduler.schedule(message(2000, BOB));
      const { events, next } = await scheduler.list(ALICE);
      expect(next).toBeUndefined();
      expect(events.map((e) => e.delayId)).toEqual([early.delayId, late.delayId]);
      expect(events[0]).toEqual({
        delayId: early.delayId,
        roomId: ROOM,
        type: 'm.call.member',
        stateKey: 'k',
        delayMs: 1000,
        runningSinceMs: 1_700_000_000_000,
        content: { memberships: [] },
      });
      expect(events[1]?.stateKey).toBeUndefined();
      expect((await scheduler.list(BOB.userId)).events).toHaveLength(1);
    });

    it('paginates with the next cursor without duplicates or gaps while events come and go', async () => {
      const { scheduler } = await createHarness({ listPageSize: 4 });
      const throughout: string[] = [];
      for (let i = 0; i < 10; i++) throughout.push((await scheduler.schedule(message(1000 * (i + 1)))).delayId);
      const seen: string[] = [];
      let after: ListCursor | undefined;
      let pages = 0;
      do {
        const page = await scheduler.list(ALICE, { after });
        seen.push(...page.events.map((e) => e.delayId));
        after = page.next;
        // Change the schedule between pages: add events before and after the cursor, cancel a transient one.
        const transient = await scheduler.schedule(message(500 + pages));
        await scheduler.schedule(message(20_000 + pages));
        await scheduler.cancel(ALICE, transient.delayId);
        pages++;
      } while (after !== undefined && pages < 20);
      for (const id of throughout) expect(seen.filter((s) => s === id)).toHaveLength(1);
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('honours a smaller limit and says where the next page starts', async () => {
      const { scheduler } = await createHarness();
      for (let i = 0; i < 5; i++) await scheduler.schedule(message(1000 + i));
      const page = await scheduler.list(ALICE, { limit: 2 });
      expect(page.events).toHaveLength(2);
      expect(page.next).toEqual({ sendAtMs: 1_700_000_000_000 + 1001, delayId: page.events[1]?.delayId });
    });
  });
});
