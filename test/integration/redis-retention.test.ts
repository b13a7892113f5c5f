/**
 * Retention of finalised events in the Redis store beyond the conformance suite: the key layout and
 * its expiry, byte-exact records, batches across owners and chunks, and a client with its own ioredis
 * `keyPrefix`.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../../src/redis/index.js';
import type { FinalisedDelayedEvent } from '../../src/core/store.js';
import { redisKeys } from '../../src/stores/redis/keys.js';
import { RETENTION_GRACE_MS } from '../../src/stores/redis/scripts/retain.js';
import { ALICE, BOB, ROOM } from '../helpers/fixtures.js';
import { deleteByPrefix, keysByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
const NOW = 1_700_000_000_000;
const DAY = 24 * 60 * 60 * 1000;
let counter = 0;
const prefixes: string[] = [];
const stores: RedisStore[] = [];

function open(redis = client): { store: RedisStore; prefix: string } {
  const prefix = `ret${process.pid}x${++counter}`;
  prefixes.push(prefix);
  const store = createRedisStore({ client: redis, keyPrefix: prefix });
  stores.push(store);
  return { store, prefix };
}

function record(overrides: Partial<FinalisedDelayedEvent> = {}): FinalisedDelayedEvent {
  return {
    delayId: `fin${String(++counter).padStart(6, '0')}`,
    userId: ALICE.userId,
    roomId: ROOM,
    type: 'org.matrix.msc3401.call.member',
    stateKey: `_${ALICE.userId}_${ALICE.deviceId}_m.call`,
    contentJson: '{"memberships":[]}',
    delayMs: 5000,
    runningSinceMs: NOW - 5000,
    outcome: 'sent',
    finalisedAtMs: NOW,
    eventId: '$sent:example.org',
    error: undefined,
    ...overrides,
  };
}

const policy = (maxPerUser = 100, maxAgeMs = DAY, nowMs = NOW) => ({ nowMs, maxAgeMs, maxPerUser });
const lookup = (store: RedisStore, r: FinalisedDelayedEvent, nowMs = NOW, maxAgeMs = DAY) =>
  store.getFinalised(r.delayId, r.userId, { nowMs, maxAgeMs });

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const prefix of prefixes.splice(0)) {
    await deleteByPrefix(client, `${prefix}:`);
    await deleteByPrefix(client, `app:${prefix}:`);
  }
});
afterAll(() => client.quit());

describe('retention in Redis', () => {
  it('keeps each owner in a hash and a sorted set that expire maxAgeMs (plus the grace) after the last retain', async () => {
    const { store, prefix } = open();
    const keys = redisKeys(prefix, prefix);
    const mine = record();
    const bobs = record({ userId: BOB.userId });
    await store.retain([mine, bobs], policy(100, 10 * 60_000));
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual(
      [keys.finalised(ALICE.userId), keys.finalisedAge(ALICE.userId), keys.finalised(BOB.userId), keys.finalisedAge(BOB.userId)].sort(),
    );
    expect(await client.zscore(keys.finalisedAge(ALICE.userId), mine.delayId)).toBe(String(NOW));
    for (const key of await keysByPrefix(client, `${prefix}:`)) {
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(10 * 60_000 + RETENTION_GRACE_MS - 5000);
      expect(ttl).toBeLessThanOrEqual(10 * 60_000 + RETENTION_GRACE_MS);
    }
    // A later retain of the same owner renews both keys; the other owner's keep their expiry.
    await client.pexpire(keys.finalised(ALICE.userId), 1000);
    await client.pexpire(keys.finalised(BOB.userId), 1000);
    await store.retain([record({ finalisedAtMs: NOW + 1 })], policy(100, 10 * 60_000, NOW + 1));
    expect(await client.pttl(keys.finalised(ALICE.userId))).toBeGreaterThan(10 * 60_000);
    expect(await client.pttl(keys.finalised(BOB.userId))).toBeLessThanOrEqual(1000);
  });

  it('lets an owner\'s keys expire on the server, and prunes them away when every record is too old', async () => {
    const { store, prefix } = open();
    const keys = redisKeys(prefix, prefix);
    const old = record();
    await store.retain([old], policy());
    // Expiry by Redis (as after maxAgeMs + grace): the owner costs nothing any more.
    await client.pexpire(keys.finalised(ALICE.userId), 1);
    await client.pexpire(keys.finalisedAge(ALICE.userId), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
    expect(await lookup(store, old)).toBeUndefined();
    // Pruning by the caller's clock: a record finalised before nowMs - maxAgeMs is dropped at once.
    await store.retain([record({ finalisedAtMs: NOW - DAY - 1 })], policy());
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
  });

  it('round-trips records byte-exactly: unicode, NUL, separators, a state key holding the owner, absent fields', async () => {
    const { store, prefix } = open();
    const samples: FinalisedDelayedEvent[] = [
      record({ contentJson: JSON.stringify({ body: 'héllo 🎉 中文 \u0000 "q" ~3:x,1,' }), userId: '@ünï:例え.jp', stateKey: '_@ünï:例え.jp_@ünï:例え.jp' }),
      record({ stateKey: '', type: '', outcome: 'cancelled', eventId: undefined }),
      record({ stateKey: undefined, outcome: 'failed', eventId: undefined, error: { errcode: 'M_FORBIDDEN', message: 'no: ~5;\u0001 🙂' } }),
      record({ stateKey: `\u0001${ALICE.userId}`, error: { errcode: 'M_UNKNOWN', message: '' } }),
      record({ roomId: '!房间:example.org', contentJson: JSON.stringify({ body: '🎉'.repeat(3000) }) }),
    ];
    await store.retain(samples, policy());
    for (const sample of samples) expect(await lookup(store, sample)).toEqual(sample);
    // The owner's user ID is stored once, in the key: the state key keeps a template of it.
    const packed = await client.hget(redisKeys(prefix, prefix).finalised(ALICE.userId), samples[1]!.delayId);
    expect(packed).toBe(`c5000,${NOW - 5000},${NOW},${Buffer.byteLength(ROOM)}:${ROOM}0:0:~~~{"memberships":[]}`);
  });

  it('groups a batch by owner, keeps the later of one delay ID twice, and splits large batches into calls', async () => {
    const { store } = open();
    const first = record({ outcome: 'failed', eventId: undefined, error: { errcode: 'M_UNKNOWN', message: 'x' } });
    const again = { ...first, outcome: 'sent' as const, eventId: '$again', error: undefined };
    const many = Array.from({ length: 300 }, (_, i) => record({ userId: i % 2 === 0 ? ALICE.userId : BOB.userId, finalisedAtMs: NOW + i }));
    await store.retain([first, ...many, again], policy(1000, DAY, NOW + 300));
    expect(await lookup(store, first, NOW + 300)).toEqual(again);
    const found = await Promise.all(many.map((r) => lookup(store, r, NOW + 300)));
    expect(found).toEqual(many);
    // The cap keeps the newest of each owner by finalisation time.
    await store.retain([record({ finalisedAtMs: NOW + 300 })], policy(10, DAY, NOW + 300));
    const kept = (await Promise.all(many.map((r) => lookup(store, r, NOW + 300)))).filter((r): r is FinalisedDelayedEvent => r?.userId === ALICE.userId);
    expect(kept.map((r) => r.finalisedAtMs)).toEqual([282, 284, 286, 288, 290, 292, 294, 296, 298].map((i) => NOW + i));
    await store.retain([], policy(10, DAY, NOW + 300));
  });

  it('works on a client with its own ioredis keyPrefix', async () => {
    const prefixed = newClient(undefined, { keyPrefix: 'app:' });
    try {
      const { store, prefix } = open(prefixed);
      const mine = record();
      await store.retain([mine], policy());
      const keys = redisKeys(prefix, prefix);
      expect(await keysByPrefix(client, `app:${prefix}:`)).toEqual([`app:${keys.finalised(ALICE.userId)}`, `app:${keys.finalisedAge(ALICE.userId)}`].sort());
      expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
      expect(await lookup(store, mine)).toEqual(mine);
      expect(await store.getFinalised(mine.delayId, BOB.userId, { nowMs: NOW, maxAgeMs: DAY })).toBeUndefined();
      expect(await client.pttl(`app:${keys.finalisedAge(ALICE.userId)}`)).toBeGreaterThan(DAY);
    } finally {
      for (const store of stores.splice(0)) await store.close();
      await prefixed.quit();
    }
  });
});
