/**
 * `release` (graceful shutdown) and `stats` (metrics) of the Redis store beyond the conformance
 * suite: the spliced record keeps every field and index, large batches, the same event twice, the
 * wake-up to other workers, and stats as one script call.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../../src/redis/index.js';
import type { NewDelayedEvent } from '../../src/core/store.js';
import { redisKeys } from '../../src/stores/redis/keys.js';
import { ALICE, BOB, CALL_MEMBER, ROOM } from '../helpers/fixtures.js';
import { deleteByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
const NOW = 1_700_000_000_000;
const LEASE_MS = 30_000;
let counter = 0;
const prefixes: string[] = [];
const stores: RedisStore[] = [];

function open(prefix = `rel${process.pid}x${++counter}`, redis = client): RedisStore {
  if (!prefixes.includes(prefix)) prefixes.push(prefix);
  const store = createRedisStore({ client: redis, keyPrefix: prefix });
  stores.push(store);
  return store;
}

function event(overrides: Partial<NewDelayedEvent> = {}): NewDelayedEvent {
  return {
    delayId: `r${String(++counter).padStart(8, '0')}`,
    userId: ALICE.userId,
    deviceId: ALICE.deviceId,
    roomId: ROOM,
    type: 'm.room.message',
    stateKey: undefined,
    contentJson: '{"body":"hi"}',
    delayMs: 0,
    txnKey: undefined,
    ...overrides,
  };
}

const addOptions = { nowMs: NOW, maxPerUser: 1000, txnTtlMs: 60_000 };
const claimOptions = (claimToken: string, nowMs = NOW) => ({ nowMs, leaseMs: LEASE_MS, claimToken });

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const prefix of prefixes.splice(0)) await deleteByPrefix(client, `${prefix}:`);
});
afterAll(() => client.quit());

describe('release in Redis', () => {
  it('keeps every field and index of a released event: content, attempts, state key, owner', async () => {
    const store = open();
    const contentJson = JSON.stringify({ body: 'héllo 🎉 \u0000 ~3:x,', memberships: [] });
    const state = event({ type: CALL_MEMBER, stateKey: `_${ALICE.userId}_${ALICE.deviceId}_m.call`, contentJson, delayMs: 1000 });
    await store.add(state, addOptions);
    const pendingBefore = await store.get(state.delayId);
    // A failed attempt first, so the attempt count is not 0.
    const [first] = await store.claimDue({ ...claimOptions('w1', NOW + 1000), max: 1 });
    await store.reschedule(state.delayId, 'w1', { sendAtMs: NOW + 2000, attempts: 1, nowMs: NOW + 1000 });
    const [held] = await store.claimDue({ ...claimOptions('w2', NOW + 2000), max: 1 });
    expect(first?.delayId).toBe(state.delayId);
    expect(await store.release([held!], NOW + 2000)).toEqual([{ ok: true, nextDueAtMs: NOW + 2000 }]);
    expect(await store.get(state.delayId)).toEqual({ ...pendingBefore, sendAtMs: NOW + 2000, runningSinceMs: NOW + 1000, attempts: 1 });
    expect((await store.listForUser(ALICE.userId, { limit: 10 })).map((e) => e.delayId)).toEqual([state.delayId]);
    // The stale token no longer finalises it; the state index still finds it.
    expect(await store.finalise(state.delayId, 'w2')).toEqual({ ok: false, reason: 'not_found' });
    const { cancelled } = await store.cancelByStateKey({ roomId: ROOM, type: CALL_MEMBER, stateKey: state.stateKey!, keepUserId: undefined });
    expect(cancelled.map((e) => [e.delayId, e.contentJson])).toEqual([[state.delayId, contentJson]]);
    expect(await store.stats()).toEqual({ outstanding: 0, nextDueAtMs: undefined });
  });

  it('releases a large batch in several calls, the same event twice only once', async () => {
    const store = open();
    const events = Array.from({ length: 300 }, (_, i) => event({ userId: i % 2 === 0 ? ALICE.userId : BOB.userId }));
    await Promise.all(events.map((e) => store.add(e, addOptions)));
    const held = await store.claimDue({ ...claimOptions('w'), max: 1000 });
    expect(held).toHaveLength(300);
    expect(await store.stats()).toEqual({ outstanding: 300, nextDueAtMs: NOW + LEASE_MS });
    const results = await store.release([...held, held[0]!], NOW);
    expect(results.slice(0, 300).every((r) => r.ok)).toBe(true);
    expect(results[300]).toEqual({ ok: false, reason: 'not_found' });
    expect(await store.stats()).toEqual({ outstanding: 300, nextDueAtMs: NOW });
    expect(await store.claimDue({ ...claimOptions('other'), max: 1000 })).toHaveLength(300);
  });

  it('wakes other workers when released events fall due earlier than anything they armed for', async () => {
    const prefix = `rel${process.pid}x${++counter}`;
    const otherClient = newClient();
    try {
      const mine = open(prefix);
      const theirs = open(prefix, otherClient);
      const heard: number[] = [];
      const stop = theirs.watch((dueAtMs) => heard.push(dueAtMs));
      // Wait until the subscription is live.
      while (heard.length === 0) {
        await client.publish(redisKeys(prefix, prefix).wakeChannel, String(NOW + 3_600_000));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await mine.add(event(), addOptions);
      // The add's own announcement first, so that only the release's is heard below.
      while (!heard.includes(NOW)) await new Promise((resolve) => setTimeout(resolve, 5));
      const held = await mine.claimDue({ ...claimOptions('w'), max: 1 });
      heard.length = 0;
      await mine.release(held, NOW);
      const deadline = Date.now() + 2000;
      while (heard.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(heard).toEqual([NOW]);
      // Releasing nothing (a lost claim) announces nothing.
      heard.length = 0;
      expect(await mine.release(held.map((e) => ({ ...e, claimToken: 'lost' })), NOW)).toEqual([{ ok: false, reason: 'not_found' }]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toEqual([]);
      stop();
    } finally {
      for (const store of stores.splice(0)) await store.close();
      await otherClient.quit();
    }
  });
});
