import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/testing/index.js';
import { createRedisStore, type RedisStore } from '../../src/redis/index.js';
import { redisKeys, stateSlotFromBase, userKeyFromBase } from '../../src/stores/redis/keys.js';
import { luaScripts } from '../../src/stores/redis/lua/scripts.generated.js';
import { mapScriptStatus, ScriptStatus } from '../../src/stores/redis/script-status.js';
import type { NewDelayedEvent } from '../../src/core/store.js';
import { deleteByPrefix, keysByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
const clock = new ManualClock(1_700_000_000_000);
let counter = 0;
const prefixes: string[] = [];
const stores: RedisStore[] = [];

function freshPrefix(): string {
  const prefix = `scr${process.pid}x${++counter}`;
  prefixes.push(prefix);
  return prefix;
}

function open(prefix: string, hashTag?: string): RedisStore {
  const store = createRedisStore({ client, keyPrefix: prefix, hashTag });
  stores.push(store);
  return store;
}

function event(overrides: Partial<NewDelayedEvent> = {}): NewDelayedEvent {
  return {
    delayId: `d${String(++counter).padStart(8, '0')}`,
    userId: '@alice:example.org',
    deviceId: 'PHONE',
    roomId: '!room:example.org',
    type: 'm.room.message',
    stateKey: undefined,
    contentJson: '{"body":"hi"}',
    delayMs: 1000,
    txnKey: undefined,
    ...overrides,
  };
}

const addOptions = () => ({ nowMs: clock.now(), maxPerUser: 100, txnTtlMs: 60_000 });
const claim = (token: string) => ({ nowMs: clock.now(), leaseMs: 30_000, claimToken: token });

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const prefix of prefixes.splice(0)) await deleteByPrefix(client, `${prefix}:`);
});
afterAll(() => client.quit());

describe('keys', () => {
  it('puts one hash tag on every key, and Lua derives the same user and state keys as keys.ts', async () => {
    const prefix = freshPrefix();
    const store = open(prefix, 'tenant-7');
    const keys = redisKeys(prefix, 'tenant-7');
    const e = event({ stateKey: '_@alice:example.org_PHONE', type: 'org.matrix.msc3401.call.member', txnKey: 'txn-1' });
    await store.add(e, addOptions());
    const found = await keysByPrefix(client, `${prefix}:`);
    expect(found.length).toBeGreaterThan(0);
    for (const key of found) expect(key.startsWith(`${prefix}:{tenant-7}:`)).toBe(true);
    expect(found).toEqual(
      [keys.events, keys.due, keys.user(e.userId), keys.state(e.roomId, e.type, e.stateKey!), keys.txn('txn-1')].sort(),
    );
    const slot = stateSlotFromBase(keys.base, e.roomId, e.type, e.stateKey!);
    expect(await client.hget(slot.key, slot.field)).toBe(`${e.delayId.length}:${e.delayId}`);

    // Finalise builds the user and state keys in Lua from the stored record: they must vanish.
    const [claimed] = await store.claimDue({ ...claim('w1'), nowMs: clock.now() + 1000, max: 10 });
    expect(claimed?.delayId).toBe(e.delayId);
    expect((await store.finalise(e.delayId, 'w1')).ok).toBe(true);
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([keys.txn('txn-1')]);
  });

  it('builds short, unambiguous state-index slots from UTF-8 byte lengths', () => {
    expect(stateSlotFromBase('p:{t}:', '!r', 'ab', 'c')).not.toEqual(stateSlotFromBase('p:{t}:', '!r', 'a', 'bc'));
    const slot = stateSlotFromBase('p:{t}:', '!ü', 't', '');
    expect(slot.key).toMatch(/^p:\{t\}:s:[0-9a-f]{1,3}$/);
    expect(slot.field).toMatch(/^[0-9a-f]{12}$/);
    expect(userKeyFromBase('p:{t}:', '@a:b')).toBe('p:{t}:u:@a:b');
  });

  it('leaves events of another triple alone when their IDs share a state key (hash collision)', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const keys = redisKeys(prefix, prefix);
    const mine = event({ stateKey: 'a', type: 'm.call.member' });
    const other = event({ stateKey: 'b', type: 'm.call.member', userId: '@bob:example.org' });
    await store.add(mine, addOptions());
    await store.add(other, addOptions());
    // Simulate a collision: the other triple's event listed under this triple's slot.
    const slot = stateSlotFromBase(keys.base, mine.roomId, mine.type, 'a');
    await client.hset(slot.key, slot.field, `${mine.delayId.length}:${mine.delayId}${other.delayId.length}:${other.delayId}`);
    const result = await store.cancelByStateKey({ roomId: mine.roomId, type: 'm.call.member', stateKey: 'a', keepUserId: undefined });
    expect(result.cancelled.map((c) => c.delayId)).toEqual([mine.delayId]);
    expect(await store.get(other.delayId)).toBeDefined();
  });

  it('works on a client with its own ioredis keyPrefix (Lua-derived keys get it too)', async () => {
    const prefix = freshPrefix();
    const prefixed = newClient(undefined, { keyPrefix: 'app:' });
    const store = createRedisStore({ client: prefixed, keyPrefix: prefix });
    const e = event({ stateKey: 'k', type: 'm.call.member', txnKey: 't1' });
    await store.add(e, addOptions());
    const found = await keysByPrefix(client, `app:${prefix}:`);
    expect(found).toHaveLength(5);
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
    const { cancelled } = await store.cancelByStateKey({ roomId: e.roomId, type: e.type, stateKey: 'k', keepUserId: undefined });
    expect(cancelled).toHaveLength(1);
    expect(await keysByPrefix(client, `app:${prefix}:`)).toEqual([`app:${redisKeys(prefix, prefix).txn('t1')}`]);
    expect(await store.nextDueAtMs()).toBeUndefined();
    await deleteByPrefix(client, `app:${prefix}:`);
    await store.close();
    await prefixed.quit();
  });

  it('rejects prefixes and tags with braces, and a missing client', () => {
    expect(() => createRedisStore({ client, keyPrefix: 'a{b' })).toThrow(/ERR_DE_OPTION_INVALID/);
    expect(() => createRedisStore({ client, hashTag: '' })).toThrow(/ERR_DE_OPTION_INVALID/);
    expect(() => createRedisStore({} as never)).toThrow(/client/);
  });
});

describe('byte-exact content', () => {
  const samples = {
    emoji: '{"body":"📞 call 👩‍👩‍👧‍👦 🏳️‍🌈","n":1}',
    cjk: '{"body":"会议开始了，请加入。日本語のテキスト"}',
    rtl: '{"body":"مرحبا بالعالم שלום עולם"}',
    combining: '{"body":"e\u0301 vs é, Å vs Å"}',
    escapes: '{"body":"\\u0000 nul, \\ud83d lone surrogate, tab\\t, quote \\" ~7:x"}',
    big: JSON.stringify({ body: '🎉'.repeat(5000) }),
  };
  for (const [name, contentJson] of Object.entries(samples)) {
    it(`round-trips ${name} through get, list, claim and the stored bytes`, async () => {
      const prefix = freshPrefix();
      const store = open(prefix);
      const e = event({
        contentJson,
        userId: '@ünïcødé:例え.jp',
        roomId: '!房间:example.org',
        stateKey: '~🙂:7:', // starts with the codec's "absent" marker and holds its separators
        deviceId: 'DÉVICE',
      });
      await store.add(e, addOptions());
      const got = await store.get(e.delayId);
      expect(got).toMatchObject({ contentJson, userId: e.userId, roomId: e.roomId, stateKey: e.stateKey, deviceId: e.deviceId });
      const [listed] = await store.listForUser(e.userId, { limit: 10 });
      expect(listed?.contentJson).toBe(contentJson);
      const raw = await client.hgetBuffer(redisKeys(prefix, prefix).events, e.delayId);
      expect(raw?.subarray(raw.length - Buffer.byteLength(contentJson)).equals(Buffer.from(contentJson, 'utf8'))).toBe(true);
      const [claimed] = await store.claimDue({ ...claim('w'), nowMs: clock.now() + 5000, max: 1 });
      expect(claimed).toEqual({ ...got, claimToken: 'w', leaseUntilMs: clock.now() + 5000 + 30_000 });
      expect(JSON.parse(claimed!.contentJson)).toEqual(JSON.parse(contentJson));
    });
  }

  it('keeps absent and empty device IDs and state keys apart', async () => {
    const store = open(freshPrefix());
    const a = event({ deviceId: undefined, stateKey: '' });
    const b = event({ deviceId: '', stateKey: undefined });
    await store.add(a, addOptions());
    await store.add(b, addOptions());
    expect(await store.get(a.delayId)).toMatchObject({ deviceId: undefined, stateKey: '' });
    expect(await store.get(b.delayId)).toMatchObject({ deviceId: '', stateKey: undefined });
    // The storm's claim reads the records in Node: the same distinctions hold there.
    const claimed = await store.claimDue({ ...claim('w'), nowMs: clock.now() + 1000, max: 2 });
    expect(claimed.find((c) => c.delayId === a.delayId)).toMatchObject({ deviceId: undefined, stateKey: '' });
    expect(claimed.find((c) => c.delayId === b.delayId)).toMatchObject({ deviceId: '', stateKey: undefined });
  });

  it('round-trips state keys that repeat the user and device ID (stored as a template)', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const userId = '@alice:example.org';
    const cases: Array<{ stateKey: string; deviceId: string | undefined; userId?: string }> = [
      { stateKey: `_${userId}_PHONE_m.call`, deviceId: 'PHONE' },
      { stateKey: userId, deviceId: 'PHONE' },
      { stateKey: `${userId}${userId}_PHONE_PHONE`, deviceId: 'PHONE' },
      { stateKey: `_${userId}_PHONE`, deviceId: undefined },
      { stateKey: `_${userId}_`, deviceId: '' },
      { stateKey: `PHONE_${userId}`, deviceId: 'PHONE' },
      { stateKey: `_${userId}_\u0001\u0002`, deviceId: 'PHONE' },
      { stateKey: `_${userId}_P\u0001`, deviceId: 'P\u0001' },
      { stateKey: `_@b\u0002:x_PHONE`, deviceId: 'PHONE', userId: '@b\u0002:x' },
      { stateKey: '_@bob:example.org_PHONE', deviceId: 'PHONE' },
      { stateKey: `_${userId}_📞`, deviceId: '📞' },
    ];
    const added = [];
    for (const c of cases) {
      const e = event({ stateKey: c.stateKey, deviceId: c.deviceId, userId: c.userId ?? userId, type: 'org.matrix.msc3401.call.member' });
      await store.add(e, addOptions());
      added.push(e);
    }
    for (const e of added) {
      expect(await store.get(e.delayId)).toMatchObject({ stateKey: e.stateKey, deviceId: e.deviceId, userId: e.userId });
    }
    // Claimed and lapsed (claimed again): the records as the claim spliced them decode the same in Node.
    for (const at of [clock.now() + 1000, clock.now() + 1000 + 30_000]) {
      const claimed = await store.claimDue({ ...claim(`w${at}`), nowMs: at, max: 100 });
      expect(claimed.map((c) => [c.delayId, c.userId, c.deviceId, c.stateKey, c.claimToken, c.sendAtMs])).toEqual(
        added.map((e) => [e.delayId, e.userId, e.deviceId, e.stateKey, `w${at}`, clock.now() + 1000]),
      );
    }
    for (const e of added) await store.reschedule(e.delayId, `w${clock.now() + 1000 + 30_000}`, { sendAtMs: clock.now() + 1000, attempts: 0, nowMs: clock.now() });
    const raw = await client.hget(redisKeys(prefix, prefix).events, added[0]!.delayId);
    expect(raw).not.toContain(added[0]!.stateKey!);
    for (const e of added) {
      const { cancelled } = await store.cancelByStateKey({ roomId: e.roomId, type: e.type, stateKey: e.stateKey!, keepUserId: undefined });
      expect(cancelled.map((c) => [c.delayId, c.stateKey])).toEqual([[e.delayId, e.stateKey]]);
    }
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
  });

  it('stores records built in Node byte for byte as codec.lua would have encoded them', async () => {
    const codec = readFileSync(new URL('../../src/stores/redis/lua/includes/codec.lua', import.meta.url), 'utf8');
    const lua = `${codec}
local e = { l = tonumber(ARGV[1]), a = 0, u = ARGV[2], r = ARGV[4], t = ARGV[5], c = ARGV[7] }
if ARGV[8] == '1' then e.d = ARGV[3] end
if ARGV[9] == '1' then e.k = ARGV[6] end
return encodeEvent(e)`;
    const userId = '@alice:example.org';
    const cases: Partial<NewDelayedEvent>[] = [
      {},
      { deviceId: undefined, stateKey: '' },
      { deviceId: '', stateKey: `_${userId}_` },
      { stateKey: `_${userId}_PHONE_m.call` },
      { stateKey: `PHONE_${userId}${userId}_PHONE` },
      { stateKey: `_${userId}_\u0001`, deviceId: 'P\u0002' },
      { userId: '@ünïcødé:例え.jp', deviceId: '📞', stateKey: '_@ünïcødé:例え.jp_📞_x', roomId: '!房间:example.org' },
      { stateKey: '~🙂:7:', contentJson: '{"body":"\\ud83d ~3:x;"}', delayMs: 86_400_000 },
    ];
    for (const c of cases) {
      const e = event({ userId, ...c });
      const expected = await client.eval(lua, 0, e.delayMs, e.userId, e.deviceId ?? '', e.roomId, e.type, e.stateKey ?? '', e.contentJson, e.deviceId === undefined ? '0' : '1', e.stateKey === undefined ? '0' : '1');
      const prefix = freshPrefix();
      const store = open(prefix);
      await store.add(e, addOptions());
      expect(await client.hget(redisKeys(prefix, prefix).events, e.delayId), JSON.stringify(c)).toBe(expected);
    }
  });

  it('keeps several pending events of one state key in one state-index field', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const keys = redisKeys(prefix, prefix);
    const a = event({ stateKey: 'k', type: 'm.call.member' });
    const b = event({ stateKey: 'k', type: 'm.call.member', userId: '@bob:example.org' });
    const c = event({ stateKey: 'k', type: 'm.call.member', userId: '@carol:example.org' });
    for (const e of [a, b, c]) await store.add(e, addOptions());
    const slot = stateSlotFromBase(keys.base, a.roomId, a.type, 'k');
    expect(await client.hget(slot.key, slot.field)).toBe(`9:${a.delayId}9:${b.delayId}9:${c.delayId}`);
    await store.cancel(b.delayId, b.userId);
    expect(await client.hget(slot.key, slot.field)).toBe(`9:${a.delayId}9:${c.delayId}`);
    const { cancelled } = await store.cancelByStateKey({ roomId: a.roomId, type: a.type, stateKey: 'k', keepUserId: c.userId });
    expect(cancelled.map((e) => e.delayId)).toEqual([a.delayId]);
    expect(await client.hget(slot.key, slot.field)).toBe(`9:${c.delayId}`);
    await store.cancel(c.delayId, c.userId);
    expect(await client.exists(slot.key)).toBe(0);
  });
});

describe('scripts', () => {
  it('registers versioned command names and survives SCRIPT FLUSH (NOSCRIPT is reloaded)', async () => {
    const store = open(freshPrefix());
    const names = Object.values(luaScripts).map((s) => `mde_${s.name}_${s.sha1.slice(0, 8)}`);
    for (const name of names) expect(typeof (client as unknown as Record<string, unknown>)[name]).toBe('function');
    await store.add(event(), addOptions());
    await client.script('FLUSH');
    const e = event();
    await store.add(e, addOptions());
    expect(await store.get(e.delayId)).toBeDefined();
  });

  it('never uses TIME and names each file <verb-noun>-<numKeys>.lua (or -n.lua: keys counted by the caller)', () => {
    for (const script of Object.values(luaScripts)) {
      expect(script.lua).not.toMatch(/['"]TIME['"]/);
      expect(script.lua).toMatch(/KEYS\[/);
      if (script.numberOfKeys !== null) expect(script.numberOfKeys).toBeGreaterThan(0);
    }
    expect(luaScripts.restartDelayedEvents.numberOfKeys).toBeNull();
    expect(luaScripts.consumeRateLimits.numberOfKeys).toBeNull();
  });

  it('keeps scripts.generated.ts in step with the Lua files (gen-lua --check)', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-lua.ts', '--check'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('maps every status code and refuses unknown ones', () => {
    expect(mapScriptStatus(0, 'x')).toBe('ok');
    expect(mapScriptStatus(1, 'x')).toBe('duplicate');
    expect(mapScriptStatus(-1, 'x')).toBe('not_found');
    expect(mapScriptStatus(-5, 'x')).toBe('max_outstanding');
    expect(mapScriptStatus(-6, 'x')).toBe('rate_limited');
    // The scripts no longer tell another user's event, a claimed one or a lost claim from a missing one.
    for (const code of [-2, -3, -4]) expect(() => mapScriptStatus(code, 'x')).toThrow(/unknown status/);
    expect(() => mapScriptStatus(42, 'addDelayedEvent')).toThrow(/unknown status 42/);
  });

  it('batches concurrent restarts into few script calls, each with its own result', async () => {
    const store = open(freshPrefix());
    const events = Array.from({ length: 300 }, (_, i) => event({ delayMs: 1000 + i, userId: `@u${i % 7}:example.org` }));
    for (const e of events) await store.add(e, addOptions());
    const before = Number((await client.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    const now = clock.now() + 50;
    const results = await Promise.all(
      events.map((e, i) =>
        i % 3 === 0
          ? store.restart(e.delayId, e.userId, now)
          : i % 3 === 1
            ? store.restart(e.delayId, '@someone-else:example.org', now)
            : store.restart(`missing-${i}`, e.userId, now),
      ),
    );
    const after = Number((await client.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    results.forEach((result, i) => {
      if (i % 3 === 0) expect(result).toEqual({ ok: true, sendAtMs: now + events[i]!.delayMs, nextDueAtMs: expect.any(Number) });
      else expect(result).toEqual({ ok: false, reason: 'not_found' });
    });
    // Other test files share this Redis, so only a loose bound: far fewer calls than restarts.
    expect(after - before).toBeLessThan(100);
    const restarted = await store.get(events[0]!.delayId);
    expect(restarted).toMatchObject({ sendAtMs: now + 1000, runningSinceMs: now });
  });

  it('restarts only for the exact owner, whose ID the script compares without decoding the record', async () => {
    const store = open(freshPrefix());
    // Owners whose IDs are prefixes of one another, multi-byte, or look like the record's own syntax.
    const owners = ['@a:x', '@a:xy', '@ü:x', '@u:x', '@5:x', '@a:x,0,,~', '~'];
    const events = owners.map((userId, i) => event({ userId, delayMs: 1000 + i }));
    for (const e of events) await store.add(e, addOptions());
    const now = clock.now() + 10;
    for (const e of events) {
      for (const requester of owners) {
        const result = await store.restart(e.delayId, requester, now);
        expect(result.ok, `${e.userId} restarted by ${requester}`).toBe(requester === e.userId);
      }
    }
    // A claimed event is refused to its owner too, and restarts again once rescheduled.
    const claimed = await store.claim(events[0]!.delayId, events[0]!.userId, claim('tok'));
    expect(claimed.ok).toBe(true);
    expect(await store.restart(events[0]!.delayId, events[0]!.userId, now)).toEqual({ ok: false, reason: 'not_found' });
    await store.reschedule(events[0]!.delayId, 'tok', { sendAtMs: now + 5, attempts: 1, nowMs: now });
    expect(await store.restart(events[0]!.delayId, events[0]!.userId, now)).toMatchObject({ ok: true, sendAtMs: now + 1000 });
  });

  it('finalises a storm batch in few script calls from the claimed fields, leaving no key behind', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const users = ['@alice:example.org', '@b\u0002:x', '@📞:example.org'];
    // More than one script call's worth, with state keys stored plainly, as templates, and absent.
    const events = Array.from({ length: 300 }, (_, i) => {
      const userId = users[i % 3]!;
      const stateKey = i % 4 === 0 ? undefined : i % 4 === 1 ? `_${userId}_PHONE_m.call` : i % 4 === 2 ? '' : `k${i}`;
      return event({ delayMs: 0, userId, stateKey, roomId: `!r${i % 5}:x`, type: 'org.matrix.msc3401.call.member' });
    });
    for (const e of events) await store.add(e, addOptions());
    const claimed = await store.claimDue({ ...claim('storm'), max: 1000 });
    expect(claimed).toHaveLength(300);
    const stale = { ...claimed[0]!, claimToken: 'not-the-holder' };
    const before = Number((await client.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    const results = await store.finaliseMany([stale, ...claimed, claimed[1]!]);
    const after = Number((await client.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    expect(results[0]).toEqual({ ok: false, reason: 'not_found' });
    expect(results.slice(1, 301).every((r) => r.ok)).toBe(true);
    expect(results[301]).toEqual({ ok: false, reason: 'not_found' });
    // Other test files share this Redis, so only a loose bound: far fewer calls than events.
    expect(after - before).toBeLessThan(20);
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
  });

  it('batches concurrent cancels, each with its own result: found, other owner, claimed, unknown, same ID twice', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const keys = redisKeys(prefix, prefix);
    const users = ['@alice:example.org', '@a:x,0,,~', '@📞:example.org'];
    // More than one batch's worth, with state keys stored plainly, as templates, and absent.
    const events = Array.from({ length: 120 }, (_, i) => {
      const userId = users[i % 3]!;
      const stateKey = i % 4 === 0 ? undefined : i % 4 === 1 ? `_${userId}_PHONE_m.call` : i % 4 === 2 ? '' : `k${i}`;
      return event({ delayMs: 1000 + i, userId, stateKey, roomId: `!r${i % 5}:x`, type: 'org.matrix.msc3401.call.member' });
    });
    for (const e of events) await store.add(e, addOptions());
    const claimedId = events[5]!.delayId;
    expect((await store.claim(claimedId, events[5]!.userId, claim('tok'))).ok).toBe(true);
    const snapshots = await Promise.all(events.map((e) => store.get(e.delayId)));

    // Per event: its owner, then another user (one whose ID starts with the owner's), then an unknown ID.
    const calls = events.flatMap((e, i) => [
      { id: e.delayId, user: i % 2 === 0 ? e.userId : `${e.userId}x`, owner: i % 2 === 0 },
      ...(i % 10 === 0 ? [{ id: e.delayId, user: e.userId, owner: true }] : []),
      ...(i % 7 === 0 ? [{ id: `missing-${i}`, user: e.userId, owner: false }] : []),
    ]);
    const before = Number((await client.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    const results = await Promise.all(calls.map((c) => store.cancel(c.id, c.user)));
    const after = Number((await client.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    const cancelled = new Set<string>();
    results.forEach((result, n) => {
      const c = calls[n]!;
      const i = events.findIndex((e) => e.delayId === c.id);
      // The first of the owner's cancels of a pending event removes it; a second finds nothing.
      if (c.owner && c.id !== claimedId && !cancelled.has(c.id)) {
        cancelled.add(c.id);
        expect(result).toEqual({ ok: true, nextDueAtMs: expect.any(Number), event: snapshots[i] });
      } else expect(result, JSON.stringify(c)).toEqual({ ok: false, reason: 'not_found' });
    });
    // Other test files share this Redis, so only a loose bound: far fewer calls than cancels.
    expect(after - before).toBeLessThan(40);
    // Events cancelled by their owner are gone from every index; the others are untouched.
    for (const [i, e] of events.entries()) {
      const gone = cancelled.has(e.delayId);
      expect(await store.get(e.delayId), e.delayId).toEqual(gone ? undefined : snapshots[i]);
      expect(await client.zscore(keys.due, e.delayId)).toEqual(gone ? null : expect.any(String));
      expect(await client.zscore(keys.user(e.userId), e.delayId)).toEqual(gone ? null : expect.any(String));
      if (e.stateKey !== undefined) {
        const slot = stateSlotFromBase(keys.base, e.roomId, e.type, e.stateKey);
        // Events with an empty state key share a triple, so one field lists several of them.
        const listed = (await client.hget(slot.key, slot.field)) ?? '';
        expect(listed.includes(`${e.delayId.length}:${e.delayId}`), e.delayId).toBe(!gone);
      }
    }
    // The earliest due time each cancel reports is the one after its batch, never a removed event's.
    expect(await store.nextDueAtMs()).toBe(snapshots[1]!.sendAtMs);

    // Claimed, someone else's, missing and already cancelled: one status, so IDs of others are never confirmed.
    const command = `mde_${luaScripts.cancelDelayedEvents.name}_${luaScripts.cancelDelayedEvents.sha1.slice(0, 8)}`;
    const run = (client as unknown as Record<string, (...args: string[]) => Promise<unknown[]>>)[command]!.bind(client);
    const owned = events[1]!;
    const owner = (userId: string) => `${Buffer.byteLength(userId)}:${userId}`;
    const reply = await run(keys.events, keys.due, keys.base, ...[
      [claimedId, owner(events[5]!.userId)],
      [owned.delayId, owner('@a:x')],
      ['missing', owner(owned.userId)],
      [owned.delayId, owner(owned.userId)],
      [owned.delayId, owner(owned.userId)],
    ].flat());
    const { OK, NOT_FOUND } = ScriptStatus;
    expect(reply.filter((_, n) => n % 3 === 0 && n < 15)).toEqual([NOT_FOUND, NOT_FOUND, NOT_FOUND, OK, NOT_FOUND]);
  });

  it('frees a cancelled state event\'s state-index entry and its owner\'s cap', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const keys = redisKeys(prefix, prefix);
    const capped = { ...addOptions(), maxPerUser: 1 };
    const users = ['@alice:example.org', '@bob:example.org', '@carol:example.org'];
    const first = users.map((userId) => event({ userId, stateKey: `_${userId}_PHONE`, type: 'org.matrix.msc3401.call.member' }));
    for (const e of first) expect((await store.add(e, capped)).ok).toBe(true);
    expect(await store.add(event({ userId: users[0] }), capped)).toMatchObject({ ok: false, reason: 'max_outstanding' });
    const results = await Promise.all(first.map((e) => store.cancel(e.delayId, e.userId)));
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(await keysByPrefix(client, `${prefix}:`)).toEqual([]);
    for (const e of first) {
      const slot = stateSlotFromBase(keys.base, e.roomId, e.type, e.stateKey!);
      expect(await client.hget(slot.key, slot.field)).toBeNull();
      expect((await store.add(event({ userId: e.userId }), capped)).ok).toBe(true);
    }
    const { cancelled } = await store.cancelByStateKey({ roomId: first[0]!.roomId, type: first[0]!.type, stateKey: first[0]!.stateKey!, keepUserId: undefined });
    expect(cancelled).toEqual([]);
  });

  it('applies concurrent adds in order, across batches in flight: one transaction key, one event', async () => {
    const store = open(freshPrefix());
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.add(event({ txnKey: `same-${i % 2}` }), addOptions())),
    );
    // The first add of each key wins, whichever batch the others went in.
    expect(results.slice(0, 2).every((r) => r.ok && !r.duplicate)).toBe(true);
    const byTxn = [new Set<string>(), new Set<string>()];
    results.forEach((result, i) => {
      expect(result.ok).toBe(true);
      if (result.ok) byTxn[i % 2]!.add(result.delayId);
    });
    expect(byTxn.map((ids) => ids.size)).toEqual([1, 1]);
    expect(results.filter((r) => r.ok && !r.duplicate)).toHaveLength(2);
    expect(await store.listForUser('@alice:example.org', { limit: 50 })).toHaveLength(2);
  });

  it('expires transaction keys by the caller clock, not by Redis time', async () => {
    const store = open(freshPrefix());
    const e = event({ txnKey: 'k1' });
    await store.add(e, { ...addOptions(), txnTtlMs: 1000 });
    expect(await store.findTxn('k1', clock.now() + 999)).toBe(e.delayId);
    expect(await store.findTxn('k1', clock.now() + 1000)).toBeUndefined();
    const again = await store.add(event({ txnKey: 'k1' }), { ...addOptions(), nowMs: clock.now() + 2000 });
    expect(again).toMatchObject({ ok: true, duplicate: false });
  });

  it('lists ties on sendAtMs in byte order of the ID across pages, skipping claimed events', async () => {
    const store = open(freshPrefix());
    const ids = ['A', 'B', '_', 'a', 'b', '-', 'Z9', 'z'].map((s) => `id-${s}`);
    for (const id of ids) await store.add(event({ delayId: id }), addOptions());
    await store.claim('id-b', '@alice:example.org', claim('w'));
    const expected = ids.filter((id) => id !== 'id-b').sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const seen: string[] = [];
    let after: { sendAtMs: number; delayId: string } | undefined;
    for (;;) {
      const page = await store.listForUser('@alice:example.org', { after, limit: 3 });
      if (page.length === 0) break;
      seen.push(...page.map((p) => p.delayId));
      const last = page[page.length - 1]!;
      after = { sendAtMs: last.sendAtMs, delayId: last.delayId };
    }
    expect(seen).toEqual(expected);
  });
});

describe('wake-ups across stores (pub/sub)', () => {
  it('announces only changes that make something due earlier than before', async () => {
    const prefix = freshPrefix();
    const writerClient = newClient();
    const writer = createRedisStore({ client: writerClient, keyPrefix: prefix });
    const watcher = open(prefix);
    const heard: number[] = [];
    const subscribed = new Promise<void>((resolve) => {
      // The first message after subscribing tells us the subscription is live.
      const stop = watcher.watch((dueAtMs) => {
        heard.push(dueAtMs);
        if (dueAtMs === 1) {
          stop();
          resolve();
        }
      });
    });
    const probeWatch = watcher.watch((dueAtMs) => heard.push(dueAtMs));
    // Publish probes until the subscriber is connected.
    const channel = redisKeys(prefix, prefix).wakeChannel;
    while (heard.length === 0) {
      await client.publish(channel, '1');
      await new Promise((r) => setTimeout(r, 10));
    }
    await subscribed;
    heard.length = 0;

    const now = clock.now();
    const first = event({ delayMs: 5000 });
    await writer.add(first, addOptions()); // earliest: announced
    await writer.add(event({ delayMs: 9000 }), addOptions()); // later: silent
    await writer.restart(first.delayId, first.userId, now + 100); // moves later: silent
    await writer.add(event({ delayMs: 10 }), addOptions()); // earlier: announced
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual([now + 5000, now + 10]);
    probeWatch();
    await writer.close();
    await writerClient.quit();
  });
});
