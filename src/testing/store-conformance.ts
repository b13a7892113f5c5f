import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';
import type { ClaimedDelayedEvent, DelayedEventStore, FinalisedDelayedEvent, NewDelayedEvent } from '../core/store.js';

/** What a conformance test gives the store factory. */
export interface StoreTestContext {
  /** A fresh manual clock for the test. */
  readonly clock: ManualClock;
  /** A key prefix unique to the test, so tests never see each other's data. */
  readonly keyPrefix: string;
}

/** What the store factory returns. */
export interface StoreUnderTest {
  /** The store to test. */
  readonly store: DelayedEventStore;
  /** Deletes everything the test wrote (Redis: `SCAN` + `DEL` of the prefix, never `FLUSHDB`). */
  readonly cleanup: () => Promise<void>;
  /**
   * For shared stores: opens a second instance on the same data, as another process would.
   * Required when `capabilities.sharedAcrossProcesses` is true.
   */
  readonly reopen?: () => Promise<DelayedEventStore>;
}

/** Options of {@link describeStoreConformance}. */
export interface StoreConformanceOptions {
  /** Registers store-specific cases inside the suite; `current()` gives the running test's store. */
  readonly extra?: (current: () => StoreUnderTest & StoreTestContext) => void;
  /**
   * Runs of the property-based test (random operation sequences against a model).
   * @defaultValue 40
   */
  readonly propertyRuns?: number;
}

const TXN_TTL_MS = 24 * 60 * 60 * 1000;
const LEASE_MS = 30_000;
let prefixCounter = 0;

/**
 * Registers the store conformance suite with Vitest: the same cases for every
 * {@link DelayedEventStore}, including property-based tests against a simple model. Run it on your
 * own store (say, on Postgres) to check it honours the contract.
 *
 * @example
 * ```ts
 * import { describeStoreConformance } from 'matrix-delayed-events/testing/conformance';
 * describeStoreConformance('my store', async ({ keyPrefix }) => {
 *   const store = await createMyStore({ prefix: keyPrefix });
 *   return { store, cleanup: () => store.dropAll() };
 * });
 * ```
 */
export function describeStoreConformance(
  name: string,
  factory: (context: StoreTestContext) => Promise<StoreUnderTest>,
  options: StoreConformanceOptions = {},
): void {
  describe(`store conformance: ${name}`, () => {
    let current: (StoreUnderTest & StoreTestContext) | undefined;
    const cleanups: (() => Promise<void>)[] = [];

    beforeEach(async () => {
      const context: StoreTestContext = { clock: new ManualClock(1_700_000_000_000), keyPrefix: `conf${process.pid}x${++prefixCounter}` };
      current = { ...(await factory(context)), ...context };
      cleanups.push(current.cleanup);
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    const ctx = (): StoreUnderTest & StoreTestContext => {
      if (current === undefined) throw new Error('store not created');
      return current;
    };
    let idCounter = 0;
    const event = (overrides: Partial<NewDelayedEvent> = {}): NewDelayedEvent => ({
      delayId: `id${String(++idCounter).padStart(6, '0')}`,
      userId: '@alice:example.org',
      deviceId: 'DEV',
      roomId: '!room:example.org',
      type: 'm.room.message',
      stateKey: undefined,
      contentJson: '{"body":"hi"}',
      delayMs: 1000,
      txnKey: undefined,
      ...overrides,
    });
    const add = (e: NewDelayedEvent, maxPerUser = 100) =>
      ctx().store.add(e, { nowMs: ctx().clock.now(), maxPerUser, txnTtlMs: TXN_TTL_MS });
    const claimOpts = (token = 'tok') => ({ nowMs: ctx().clock.now(), leaseMs: LEASE_MS, claimToken: token });

    it('round-trips an event byte-exactly, with all its fields', async () => {
      const content = JSON.stringify({ body: 'héllo 🎉 中文 \u0000 "quoted"', n: 1.5, nested: { a: [1, 2] } });
      const e = event({ stateKey: '', type: 'm.call.member', contentJson: content, deviceId: undefined });
      const result = await add(e);
      expect(result).toMatchObject({ ok: true, delayId: e.delayId, duplicate: false });
      const stored = await ctx().store.get(e.delayId);
      const now = ctx().clock.now();
      expect(stored).toEqual({
        delayId: e.delayId,
        userId: e.userId,
        deviceId: undefined,
        roomId: e.roomId,
        type: 'm.call.member',
        stateKey: '',
        contentJson: content,
        delayMs: 1000,
        runningSinceMs: now,
        sendAtMs: now + 1000,
        attempts: 0,
      });
      expect(await ctx().store.get('missing')).toBeUndefined();
    });

    it('admits exactly the cap under 50 concurrent adds for one user', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => add(event({ delayMs: 1000 + i }), 10)));
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      const refused = results.find((r) => !r.ok);
      expect(refused).toMatchObject({ ok: false, reason: 'max_outstanding' });
      expect(refused && !refused.ok ? refused.userNextSendAtMs : undefined).toBe(ctx().clock.now() + 1000);
      // Other users are not affected by alice's cap.
      expect(await add(event({ userId: '@bob:example.org' }), 10)).toMatchObject({ ok: true });
    });

    it('remembers transaction keys: a repeat returns the first ID, even at the cap and after a cancel', async () => {
      const first = event({ txnKey: 'alice|DEV|send:1' });
      expect(await add(first, 1)).toMatchObject({ ok: true, delayId: first.delayId, duplicate: false });
      const repeat = await add(event({ txnKey: 'alice|DEV|send:1', contentJson: '{"other":true}' }), 1);
      expect(repeat).toMatchObject({ ok: true, delayId: first.delayId, duplicate: true });
      expect(await ctx().store.findTxn('alice|DEV|send:1', ctx().clock.now())).toBe(first.delayId);
      expect(await ctx().store.findTxn('alice|DEV|send:2', ctx().clock.now())).toBeUndefined();
      await ctx().store.cancel(first.delayId, first.userId);
      expect(await add(event({ txnKey: 'alice|DEV|send:1' }), 1)).toMatchObject({ delayId: first.delayId, duplicate: true });
      ctx().clock.advance(TXN_TTL_MS + 1);
      expect(await ctx().store.findTxn('alice|DEV|send:1', ctx().clock.now())).toBeUndefined();
      const fresh = event({ txnKey: 'alice|DEV|send:1' });
      expect(await add(fresh, 1)).toMatchObject({ ok: true, delayId: fresh.delayId, duplicate: false });
    });

    it('restarts a pending event to now + its delay, only for its owner', async () => {
      const e = event({ delayMs: 5000 });
      await add(e);
      ctx().clock.advance(3000);
      const now = ctx().clock.now();
      expect(await ctx().store.restart(e.delayId, e.userId, now)).toMatchObject({ ok: true, sendAtMs: now + 5000, nextDueAtMs: now + 5000 });
      expect(await ctx().store.get(e.delayId)).toMatchObject({ runningSinceMs: now, sendAtMs: now + 5000 });
      expect(await ctx().store.restart(e.delayId, '@mallory:example.org', now)).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.restart('missing', e.userId, now)).toEqual({ ok: false, reason: 'not_found' });
    });

    it('cancels a pending event once, only for its owner, and frees its cap slot', async () => {
      const e = event();
      await add(e, 1);
      expect(await add(event(), 1)).toMatchObject({ ok: false });
      expect(await ctx().store.cancel(e.delayId, '@mallory:example.org')).toEqual({ ok: false, reason: 'not_found' });
      const cancelled = await ctx().store.cancel(e.delayId, e.userId);
      expect(cancelled).toMatchObject({ ok: true, event: { delayId: e.delayId }, nextDueAtMs: undefined });
      expect(await ctx().store.cancel(e.delayId, e.userId)).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.get(e.delayId)).toBeUndefined();
      expect(await add(event(), 1)).toMatchObject({ ok: true });
    });

    it('claims due events in due order, at most max, and none early', async () => {
      const late = event({ delayMs: 3000 });
      const early = event({ delayMs: 1000 });
      const middle = event({ delayMs: 2000 });
      for (const e of [late, early, middle]) await add(e);
      expect(await ctx().store.nextDueAtMs()).toBe(ctx().clock.now() + 1000);
      ctx().clock.advance(999);
      expect(await ctx().store.claimDue({ ...claimOpts(), max: 10 })).toEqual([]);
      ctx().clock.advance(2001);
      const batch = await ctx().store.claimDue({ ...claimOpts(), max: 2 });
      expect(batch.map((e) => e.delayId)).toEqual([early.delayId, middle.delayId]);
      expect(batch[0]).toMatchObject({ claimToken: 'tok', leaseUntilMs: ctx().clock.now() + LEASE_MS });
      expect((await ctx().store.claimDue({ ...claimOpts(), max: 2 })).map((e) => e.delayId)).toEqual([late.delayId]);
    });

    it('never hands one event to two concurrent claimers', async () => {
      for (let i = 0; i < 40; i++) await add(event({ delayMs: i }));
      ctx().clock.advance(100);
      const claims = await Promise.all(Array.from({ length: 4 }, (_, i) => ctx().store.claimDue({ ...claimOpts(`t${i}`), max: 15 })));
      const ids = claims.flat().map((e) => e.delayId);
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
    });

    it('keeps a claimed event out of reach of restart, cancel, claim and listing, but counts it for the cap', async () => {
      const e = event({ delayMs: 0 });
      await add(e, 1);
      const [claimed] = await ctx().store.claimDue({ ...claimOpts(), max: 1 });
      expect(claimed?.delayId).toBe(e.delayId);
      const now = ctx().clock.now();
      expect(await ctx().store.restart(e.delayId, e.userId, now)).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.cancel(e.delayId, e.userId)).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.claim(e.delayId, e.userId, claimOpts('other'))).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.listForUser(e.userId, { limit: 10 })).toEqual([]);
      expect(await add(event(), 1)).toMatchObject({ ok: false, reason: 'max_outstanding' });
      expect(await ctx().store.get(e.delayId)).toMatchObject({ delayId: e.delayId });
    });

    it('makes a claim due again when its lease lapses, and ignores the stale holder', async () => {
      const e = event({ delayMs: 0 });
      await add(e);
      await ctx().store.claimDue({ ...claimOpts('first'), max: 1 });
      expect(await ctx().store.nextDueAtMs()).toBe(ctx().clock.now() + LEASE_MS);
      ctx().clock.advance(LEASE_MS - 1);
      expect(await ctx().store.claimDue({ ...claimOpts('second'), max: 1 })).toEqual([]);
      ctx().clock.advance(1);
      const [again] = await ctx().store.claimDue({ ...claimOpts('second'), max: 1 });
      expect(again).toMatchObject({ delayId: e.delayId, claimToken: 'second' });
      const now = ctx().clock.now();
      expect(await ctx().store.finalise(e.delayId, 'first')).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.reschedule(e.delayId, 'first', { sendAtMs: now, attempts: 1, nowMs: now })).toEqual({ ok: false, reason: 'not_found' });
      expect(await ctx().store.finalise(e.delayId, 'second')).toMatchObject({ ok: true });
      expect(await ctx().store.get(e.delayId)).toBeUndefined();
      expect(await ctx().store.nextDueAtMs()).toBeUndefined();
    });

    it('finalises several claimed events in one call (finaliseMany, when offered), each on its own', async (testContext) => {
      const store = ctx().store;
      if (store.finaliseMany === undefined) return testContext.skip();
      const state = { type: 'm.call.member', stateKey: '_@alice:example.org_DEV_m.call' };
      const a = event({ delayMs: 0, ...state });
      const b = event({ delayMs: 0 });
      const c = event({ delayMs: 0, userId: '@bob:example.org' });
      const later = event({ delayMs: 5000 });
      for (const e of [a, b, c, later]) await add(e, 3);
      const claimedB = await store.claim(b.delayId, b.userId, claimOpts('first'));
      ctx().clock.advance(LEASE_MS / 2);
      const first = await store.claimDue({ ...claimOpts('first'), max: 2 });
      expect(first.map((e) => e.delayId).sort()).toEqual([a.delayId, c.delayId].sort());
      // b's lease lapses and another worker claims it: the first holder's item must not touch it.
      ctx().clock.advance(LEASE_MS / 2);
      const retaken = await store.claimDue({ ...claimOpts('second'), max: 3 });
      const claimedA = first.find((e) => e.delayId === a.delayId)!;
      const results = await store.finaliseMany(
        [claimedA, claimedB.ok ? claimedB.event : claimedA, first.find((e) => e.delayId === c.delayId)!, claimedA],
      );
      const stillDue = await store.nextDueAtMs();
      expect(results).toEqual([
        { ok: true, nextDueAtMs: stillDue },
        { ok: false, reason: 'not_found' },
        { ok: true, nextDueAtMs: stillDue },
        { ok: false, reason: 'not_found' },
      ]);
      expect(retaken.map((e) => e.delayId)).toEqual([later.delayId, b.delayId]);
      expect(await store.get(a.delayId)).toBeUndefined();
      expect(await store.get(c.delayId)).toBeUndefined();
      expect(await store.get(b.delayId)).toBeDefined();
      // Every index let go of the removed events: alice's cap has room again and the state key is free.
      expect(await add(event(), 3)).toMatchObject({ ok: true });
      const next = event({ delayMs: 1000, ...state });
      expect(await add(next, 100)).toMatchObject({ ok: true });
      const { cancelled } = await store.cancelByStateKey({ roomId: next.roomId, ...state, keepUserId: undefined });
      expect(cancelled.map((e) => e.delayId)).toEqual([next.delayId]);
      expect(await store.finaliseMany([])).toEqual([]);
    });

    it('counts outstanding events and reports the earliest due time (stats, when offered)', async (testContext) => {
      const store = ctx().store;
      if (store.stats === undefined) return testContext.skip();
      expect(await store.stats()).toEqual({ outstanding: 0, nextDueAtMs: undefined });
      const now = ctx().clock.now();
      const a = event({ delayMs: 0 });
      const b = event({ delayMs: 2000, userId: '@bob:example.org' });
      const c = event({ delayMs: 5000 });
      for (const e of [a, b, c]) await add(e);
      expect(await store.stats()).toEqual({ outstanding: 3, nextDueAtMs: now });
      // A claimed event is still outstanding; its lease end is a due time like any other.
      const [claimed] = await store.claimDue({ ...claimOpts(), max: 1 });
      expect(await store.stats()).toEqual({ outstanding: 3, nextDueAtMs: now + 2000 });
      await store.finalise(claimed!.delayId, claimed!.claimToken);
      await store.cancel(b.delayId, b.userId);
      expect(await store.stats()).toEqual({ outstanding: 1, nextDueAtMs: now + 5000 });
      await store.cancel(c.delayId, c.userId);
      expect(await store.stats()).toEqual({ outstanding: 0, nextDueAtMs: undefined });
    });

    it('releases held claims at once, only while the claim token matches (release, when offered)', async (testContext) => {
      const store = ctx().store;
      if (store.release === undefined) return testContext.skip();
      const now = ctx().clock.now();
      const a = event({ delayMs: 0 });
      const b = event({ delayMs: 0, userId: '@bob:example.org' });
      const c = event({ delayMs: 5000 });
      for (const e of [a, b, c]) await add(e);
      const held = await store.claimDue({ ...claimOpts('mine'), max: 2 });
      expect(held).toHaveLength(2);
      const action = await store.claim(c.delayId, c.userId, claimOpts('mine'));
      if (!action.ok) throw new Error('claim failed');
      // Nothing is due until the leases lapse...
      expect(await store.claimDue({ ...claimOpts('other'), max: 10 })).toEqual([]);
      const results = await store.release([...held, action.event], now);
      expect(results).toEqual([
        { ok: true, nextDueAtMs: now },
        { ok: true, nextDueAtMs: now },
        { ok: true, nextDueAtMs: now },
      ]);
      // ...but released claims are due again at once: due events now, the `send` action's at its own time.
      expect(await store.get(c.delayId)).toMatchObject({ sendAtMs: now + 5000, attempts: 0 });
      expect((await store.listForUser(c.userId, { limit: 10 })).map((e) => e.delayId)).toContain(c.delayId);
      const retaken = await store.claimDue({ ...claimOpts('other'), max: 10 });
      expect(retaken.map((e) => e.delayId).sort()).toEqual([a.delayId, b.delayId].sort());
      // A claim no longer held is left alone: the stale holder's release is a no-op.
      expect(await store.release(held, now)).toEqual([
        { ok: false, reason: 'not_found' },
        { ok: false, reason: 'not_found' },
      ]);
      expect(await store.claimDue({ ...claimOpts('third'), max: 10 })).toEqual([]);
      const [first] = retaken;
      expect(await store.finalise(first!.delayId, first!.claimToken)).toMatchObject({ ok: true });
      expect(await store.release([], now)).toEqual([]);
    });

    describe('retention of finalised events (retain, when offered)', () => {
      const DAY = 24 * 60 * 60 * 1000;
      const finalisedRecord = (overrides: Partial<FinalisedDelayedEvent> = {}): FinalisedDelayedEvent => ({
        delayId: `fin${String(++idCounter).padStart(6, '0')}`,
        userId: '@alice:example.org',
        roomId: '!room:example.org',
        type: 'm.call.member',
        stateKey: '_@alice:example.org_DEV',
        contentJson: '{"memberships":[],"emoji":"\u{1F44B}"}',
        delayMs: 5000,
        runningSinceMs: ctx().clock.now() - 5000,
        outcome: 'sent',
        finalisedAtMs: ctx().clock.now(),
        eventId: '$event:example.org',
        error: undefined,
        ...overrides,
      });
      const policy = (maxPerUser = 1000, maxAgeMs = 7 * DAY) => ({ nowMs: ctx().clock.now(), maxAgeMs, maxPerUser });
      const lookup = (delayId: string, userId = '@alice:example.org', maxAgeMs = 7 * DAY) =>
        ctx().store.getFinalised!(delayId, userId, { nowMs: ctx().clock.now(), maxAgeMs });

      it('keeps every field of sent, cancelled and failed events, for their owner only', async (testContext) => {
        const store = ctx().store;
        if (store.retain === undefined || store.getFinalised === undefined) return testContext.skip();
        const sent = finalisedRecord();
        const cancelled = finalisedRecord({ outcome: 'cancelled', eventId: undefined, stateKey: undefined, type: 'm.room.message' });
        const failed = finalisedRecord({ outcome: 'failed', eventId: undefined, error: { errcode: 'M_FORBIDDEN', message: 'Power levels forbid it' } });
        await store.retain([sent, cancelled, failed], policy());
        expect(await lookup(sent.delayId)).toEqual(sent);
        expect(await lookup(cancelled.delayId)).toEqual(cancelled);
        expect(await lookup(failed.delayId)).toEqual(failed);
        expect(await lookup(sent.delayId, '@mallory:example.org')).toBeUndefined();
        expect(await lookup('unknown')).toBeUndefined();
      });

      it('keeps only the newest maxPerUser of each user', async (testContext) => {
        const store = ctx().store;
        if (store.retain === undefined || store.getFinalised === undefined) return testContext.skip();
        const mine = Array.from({ length: 5 }, () => finalisedRecord());
        const bobs = finalisedRecord({ userId: '@bob:example.org' });
        for (const record of mine) {
          await store.retain([record], policy(3));
          ctx().clock.advance(1);
        }
        await store.retain([bobs], policy(3));
        const kept = await Promise.all(mine.map((record) => lookup(record.delayId)));
        expect(kept.map((record) => record?.delayId)).toEqual([undefined, undefined, mine[2]?.delayId, mine[3]?.delayId, mine[4]?.delayId]);
        expect(await lookup(bobs.delayId, '@bob:example.org')).toEqual(bobs);
      });

      it('forgets events finalised more than maxAgeMs ago', async (testContext) => {
        const store = ctx().store;
        if (store.retain === undefined || store.getFinalised === undefined) return testContext.skip();
        const old = finalisedRecord();
        await store.retain([old], policy());
        ctx().clock.advance(DAY);
        const recent = finalisedRecord({ userId: '@bob:example.org' });
        await store.retain([recent], policy(1000, DAY));
        expect(await lookup(old.delayId, old.userId, DAY + 1)).toEqual(old);
        ctx().clock.advance(1);
        expect(await lookup(old.delayId, old.userId, DAY)).toBeUndefined();
        expect(await lookup(recent.delayId, recent.userId, DAY)).toEqual(recent);
      });

      it('replaces the record of a delay ID finalised again', async (testContext) => {
        const store = ctx().store;
        if (store.retain === undefined || store.getFinalised === undefined) return testContext.skip();
        const first = finalisedRecord({ outcome: 'failed', eventId: undefined, error: { errcode: 'M_UNKNOWN', message: 'x' } });
        await store.retain([first], policy());
        const again = { ...first, outcome: 'sent' as const, eventId: '$sent', error: undefined, finalisedAtMs: first.finalisedAtMs + 1 };
        await store.retain([again], policy(1));
        expect(await lookup(first.delayId)).toEqual(again);
      });
    });

    it('claims one pending event for the send action, whether due or not, only for its owner', async () => {
      const e = event({ delayMs: 100_000 });
      await add(e);
      expect(await ctx().store.claim(e.delayId, '@mallory:example.org', claimOpts())).toEqual({ ok: false, reason: 'not_found' });
      const claimed = await ctx().store.claim(e.delayId, e.userId, claimOpts('action'));
      expect(claimed).toMatchObject({ ok: true, event: { delayId: e.delayId, claimToken: 'action', sendAtMs: ctx().clock.now() + 100_000 } });
    });

    it('reschedules a claimed event back to pending with its new time and attempt count', async () => {
      const e = event({ delayMs: 1000 });
      await add(e);
      ctx().clock.advance(1000);
      await ctx().store.claimDue({ ...claimOpts(), max: 1 });
      const now = ctx().clock.now();
      expect(await ctx().store.reschedule(e.delayId, 'tok', { sendAtMs: now + 4000, attempts: 2, nowMs: now })).toEqual({
        ok: true,
        nextDueAtMs: now + 4000,
      });
      const [listed] = await ctx().store.listForUser(e.userId, { limit: 10 });
      expect(listed).toMatchObject({ delayId: e.delayId, sendAtMs: now + 4000, runningSinceMs: now + 3000, attempts: 2 });
      expect(await ctx().store.restart(e.delayId, e.userId, now)).toMatchObject({ ok: true });
    });

    it('lists pending events of one user in (sendAtMs, delayId) order, from a cursor, up to a limit', async () => {
      const ids: string[] = [];
      for (const delayMs of [500, 100, 300, 300, 200]) {
        const e = event({ delayMs });
        ids.push(e.delayId);
        await add(e);
      }
      await add(event({ userId: '@bob:example.org' }));
      const all = await ctx().store.listForUser('@alice:example.org', { limit: 100 });
      expect(all.map((e) => e.delayMs)).toEqual([100, 200, 300, 300, 500]);
      expect(all[2]!.delayId < all[3]!.delayId).toBe(true);
      const firstPage = await ctx().store.listForUser('@alice:example.org', { limit: 2 });
      expect(firstPage.map((e) => e.delayMs)).toEqual([100, 200]);
      const last = firstPage[1]!;
      const rest = await ctx().store.listForUser('@alice:example.org', { after: { sendAtMs: last.sendAtMs, delayId: last.delayId }, limit: 100 });
      expect(rest.map((e) => e.delayId)).toEqual(all.slice(2).map((e) => e.delayId));
      const third = all[2]!;
      const afterTie = await ctx().store.listForUser('@alice:example.org', { after: { sendAtMs: third.sendAtMs, delayId: third.delayId }, limit: 100 });
      expect(afterTie.map((e) => e.delayId)).toEqual([all[3]!.delayId, all[4]!.delayId]);
      expect(await ctx().store.listForUser('@nobody:example.org', { limit: 10 })).toEqual([]);
    });

    it('cancels pending state events of one (room, type, state key), keeping the given user\'s own', async () => {
      const target = { roomId: '!r:x', type: 'm.call.member', stateKey: '_@alice:x_DEV' };
      const mine = event({ ...target });
      const bobs = event({ ...target, userId: '@bob:x' });
      const otherKey = event({ ...target, stateKey: 'other' });
      const otherRoom = event({ ...target, roomId: '!elsewhere:x' });
      const message = event({ roomId: target.roomId, type: target.type });
      for (const e of [mine, bobs, otherKey, otherRoom, message]) await add(e);
      const kept = await ctx().store.cancelByStateKey({ ...target, keepUserId: mine.userId });
      expect(kept.cancelled.map((e) => e.delayId)).toEqual([bobs.delayId]);
      const all = await ctx().store.cancelByStateKey({ ...target, keepUserId: undefined });
      expect(all.cancelled.map((e) => e.delayId)).toEqual([mine.delayId]);
      for (const e of [otherKey, otherRoom, message]) expect(await ctx().store.get(e.delayId)).toBeDefined();
      expect((await ctx().store.cancelByStateKey({ ...target, keepUserId: undefined })).cancelled).toEqual([]);
    });

    it('leaves a claimed state event alone when cancelling by state key', async () => {
      const e = event({ roomId: '!r:x', type: 't', stateKey: 'k', delayMs: 0 });
      await add(e);
      await ctx().store.claimDue({ ...claimOpts(), max: 1 });
      const result = await ctx().store.cancelByStateKey({ roomId: '!r:x', type: 't', stateKey: 'k', keepUserId: undefined });
      expect(result.cancelled).toEqual([]);
    });

    it('reports the earliest due time after every mutation', async () => {
      const a = event({ delayMs: 1000 });
      const b = event({ delayMs: 2000 });
      expect(await add(a)).toMatchObject({ nextDueAtMs: ctx().clock.now() + 1000 });
      expect(await add(b)).toMatchObject({ nextDueAtMs: ctx().clock.now() + 1000 });
      ctx().clock.advance(1500);
      const now = ctx().clock.now();
      expect(await ctx().store.restart(a.delayId, a.userId, now)).toMatchObject({ nextDueAtMs: now + 500 });
      expect(await ctx().store.cancel(b.delayId, b.userId)).toMatchObject({ nextDueAtMs: now + 1000 });
      expect(await ctx().store.nextDueAtMs()).toBe(now + 1000);
    });

    it('agrees with a simple model over random operation sequences (property-based)', async () => {
      type Op =
        | { kind: 'add'; user: number; delayMs: number; state: number | null }
        | { kind: 'restart' | 'cancel' | 'claim'; pick: number }
        | { kind: 'advance'; ms: number }
        | { kind: 'claimDue'; max: number }
        | { kind: 'finish'; pick: number; reschedule: boolean }
        | { kind: 'finishAll'; stale: boolean }
        | { kind: 'state'; state: number; keepUser: number | null };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('add' as const), user: fc.nat(2), delayMs: fc.nat(3000), state: fc.option(fc.nat(2)) }),
        fc.record({ kind: fc.constantFrom('restart' as const, 'cancel' as const, 'claim' as const), pick: fc.nat(50) }),
        fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(2000) }),
        fc.record({ kind: fc.constant('claimDue' as const), max: fc.integer({ min: 1, max: 5 }) }),
        fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(50), reschedule: fc.boolean() }),
        fc.record({ kind: fc.constant('finishAll' as const), stale: fc.boolean() }),
        fc.record({ kind: fc.constant('state' as const), state: fc.nat(2), keepUser: fc.option(fc.nat(2)) }),
      );
      interface ModelEvent {
        id: string;
        user: string;
        delayMs: number;
        sendAtMs: number;
        dueAtMs: number;
        stateKey: string | undefined;
        claim: string | undefined;
      }
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
          const run = await factory({ clock: new ManualClock(1_700_000_000_000), keyPrefix: `prop${process.pid}x${++prefixCounter}` });
          const { store } = run;
          let now = 1_700_000_000_000;
          const model = new Map<string, ModelEvent>();
          const cap = 4;
          let seq = 0;
          const users = ['@u0:x', '@u1:x', '@u2:x'];
          const sorted = () => [...model.values()].sort((a, b) => a.dueAtMs - b.dueAtMs || (a.id < b.id ? -1 : 1));
          try {
            for (const op of ops) {
              const existing = [...model.values()];
              const picked = existing.length ? existing[('pick' in op ? op.pick : 0) % existing.length] : undefined;
              switch (op.kind) {
                case 'add': {
                  const user = users[op.user]!;
                  const id = `p${String(++seq).padStart(4, '0')}`;
                  const stateKey = op.state === null ? undefined : `k${op.state}`;
                  const result = await store.add(
                    { ...event({ delayId: id, userId: user, delayMs: op.delayMs, stateKey }), roomId: '!r:x', type: 't' },
                    { nowMs: now, maxPerUser: cap, txnTtlMs: TXN_TTL_MS },
                  );
                  const owned = existing.filter((e) => e.user === user).length;
                  expect(result.ok).toBe(owned < cap);
                  if (result.ok) model.set(id, { id, user, delayMs: op.delayMs, sendAtMs: now + op.delayMs, dueAtMs: now + op.delayMs, stateKey, claim: undefined });
                  break;
                }
                case 'restart': {
                  if (!picked) break;
                  const result = await store.restart(picked.id, picked.user, now);
                  expect(result.ok).toBe(picked.claim === undefined);
                  if (result.ok) picked.sendAtMs = picked.dueAtMs = now + picked.delayMs;
                  break;
                }
                case 'cancel': {
                  if (!picked) break;
                  const result = await store.cancel(picked.id, picked.user);
                  expect(result.ok).toBe(picked.claim === undefined);
                  if (result.ok) model.delete(picked.id);
                  break;
                }
                case 'claim': {
                  if (!picked) break;
                  const token = `c${++seq}`;
                  const result = await store.claim(picked.id, picked.user, { nowMs: now, leaseMs: LEASE_MS, claimToken: token });
                  expect(result.ok).toBe(picked.claim === undefined);
                  if (result.ok) Object.assign(picked, { claim: token, dueAtMs: now + LEASE_MS });
                  break;
                }
                case 'advance':
                  now += op.ms;
                  break;
                case 'claimDue': {
                  const token = `d${++seq}`;
                  const due = sorted().filter((e) => e.dueAtMs <= now);
                  const claimed: ClaimedDelayedEvent[] = await store.claimDue({ nowMs: now, leaseMs: LEASE_MS, claimToken: token, max: op.max });
                  // Due order; events due at the same millisecond may come in any order.
                  const claimedModels = claimed.map((c) => model.get(c.delayId));
                  expect(claimedModels.every((e) => e !== undefined && e.dueAtMs <= now)).toBe(true);
                  expect(new Set(claimed.map((c) => c.delayId)).size).toBe(claimed.length);
                  expect(claimedModels.map((e) => e?.dueAtMs)).toEqual(due.slice(0, op.max).map((e) => e.dueAtMs));
                  for (const e of claimedModels) Object.assign(e!, { claim: token, dueAtMs: now + LEASE_MS });
                  break;
                }
                case 'finish': {
                  const held = existing.filter((e) => e.claim !== undefined);
                  const target = held[op.pick % Math.max(1, held.length)];
                  if (!target) break;
                  if (op.reschedule) {
                    const result = await store.reschedule(target.id, target.claim!, { sendAtMs: now + 10, attempts: 1, nowMs: now });
                    expect(result.ok).toBe(true);
                    Object.assign(target, { claim: undefined, sendAtMs: now + 10, dueAtMs: now + 10 });
                  } else {
                    expect((await store.finalise(target.id, target.claim!)).ok).toBe(true);
                    model.delete(target.id);
                  }
                  break;
                }
                case 'finishAll': {
                  // Every held claim in one finaliseMany call (one finalise each for stores without it),
                  // plus an item whose claim token is stale when asked.
                  const held = existing.filter((e) => e.claim !== undefined);
                  const items = held.map((e) => ({ id: e.id, user: e.user, token: e.claim!, stateKey: e.stateKey }));
                  if (op.stale && held[0]) items.push({ ...items[0]!, token: 'stale' });
                  const claimedEvents = items.map(
                    (item): ClaimedDelayedEvent => ({
                      ...event({ delayId: item.id, userId: item.user, stateKey: item.stateKey }),
                      roomId: '!r:x',
                      type: 't',
                      runningSinceMs: 0,
                      sendAtMs: 0,
                      attempts: 0,
                      claimToken: item.token,
                      leaseUntilMs: 0,
                    }),
                  );
                  const results = store.finaliseMany
                    ? await store.finaliseMany(claimedEvents)
                    : await Promise.all(claimedEvents.map((e) => store.finalise(e.delayId, e.claimToken)));
                  expect(results.map((r) => r.ok)).toEqual(items.map((item) => item.token !== 'stale'));
                  for (const e of held) model.delete(e.id);
                  break;
                }
                case 'state': {
                  const keepUserId = op.keepUser === null ? undefined : users[op.keepUser];
                  const result = await store.cancelByStateKey({ roomId: '!r:x', type: 't', stateKey: `k${op.state}`, keepUserId });
                  const expected = existing.filter((e) => e.stateKey === `k${op.state}` && e.claim === undefined && e.user !== keepUserId);
                  expect(result.cancelled.map((e) => e.delayId).sort()).toEqual(expected.map((e) => e.id).sort());
                  for (const e of expected) model.delete(e.id);
                  break;
                }
              }
              expect(await store.nextDueAtMs()).toBe(sorted()[0]?.dueAtMs);
            }
            for (const user of users) {
              const listed = await store.listForUser(user, { limit: 100 });
              const expected = sorted()
                .filter((e) => e.user === user && e.claim === undefined)
                .sort((a, b) => a.sendAtMs - b.sendAtMs || (a.id < b.id ? -1 : 1));
              expect(listed.map((e) => [e.delayId, e.sendAtMs])).toEqual(expected.map((e) => [e.id, e.sendAtMs]));
            }
          } finally {
            await run.cleanup();
          }
        }),
        { numRuns: options.propertyRuns ?? 40 },
      );
    });

    describe('shared across processes', () => {
      it('lets a second instance see and claim what the first added', async (testContext) => {
        if (!ctx().store.capabilities.sharedAcrossProcesses) return testContext.skip();
        const reopen = ctx().reopen;
        expect(reopen, 'shared stores must provide reopen()').toBeDefined();
        const other = await reopen!();
        const e = event({ delayMs: 0 });
        await add(e);
        expect(await other.get(e.delayId)).toMatchObject({ delayId: e.delayId });
        const [mine, theirs] = await Promise.all([
          ctx().store.claimDue({ ...claimOpts('a'), max: 1 }),
          other.claimDue({ ...claimOpts('b'), max: 1 }),
        ]);
        expect(mine.length + theirs.length).toBe(1);
        await other.close?.();
      });
    });

    options.extra?.(ctx);
  });
}
