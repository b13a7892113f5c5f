/**
 * createRedisDelayedEvents: a store and a rate limiter as a pair whose heartbeat takes its `manage`
 * point inside the store's restart script. The counter it charges must be the very counter
 * rate-limiter-flexible's RateLimiterRedis keeps (same key, value, expiry and block), refuse exactly
 * as that library would, leave a refused event untouched, and cost one script call per heartbeat.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import { RateLimitedError } from '../../src/core/errors.js';
import { RateLimiter, type BucketLimit, type RateLimiterLike } from '../../src/core/rate-limiter.js';
import { ManualClock } from '../../src/testing/index.js';
import { createRedisDelayedEvents, createRedisRateLimiter, createRedisStore, type RedisClient, type RedisStore } from '../../src/redis/index.js';
import { call, startNodeServer, STABLE, scheduleMessage, type TestServer } from '../http/helpers.js';
import { startPrivateRedis, type PrivateRedis } from '../setup/redis-server.js';
import { ALICE, BOB, ROOM } from '../helpers/fixtures.js';
import { deleteByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
const prefixes: string[] = [];
const stores: RedisStore[] = [];
const ALICE_COUNTER = `${ALICE.userId}|${ALICE.deviceId}`;

beforeAll(async () => {
  // The limiter answers from memory until its client is ready.
  await client.ping();
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteByPrefix(client, prefix);
  await client.quit();
});

function freshPrefix(): string {
  const prefix = `fc${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

function setup(manage: BucketLimit | false, options: { client?: RedisClient; send?: BucketLimit | false } = {}) {
  const prefix = freshPrefix();
  const pair = createRedisDelayedEvents({
    client: options.client ?? client,
    keyPrefix: prefix,
    buckets: { schedule: false, send: options.send ?? false, delivery: false, manage },
  });
  stores.push(pair.store);
  const clock = new ManualClock(1_700_000_000_000);
  const sent: string[] = [];
  const scheduler = new DelayedEventScheduler({
    store: pair.store,
    rateLimiter: pair.rateLimiter,
    clock,
    sendEvent: (event) => {
      sent.push(event.delayId);
    },
    maxDelayMs: 86_400_000,
  });
  const counter = `${prefix}:rl:manage:${ALICE_COUNTER}`;
  /** rate-limiter-flexible's own limiter on the very same key. */
  const reference = (limit: BucketLimit) =>
    new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `${prefix}:rl:manage`,
      points: limit.points,
      duration: limit.durationMs / 1000,
      blockDuration: (limit.blockDurationMs ?? 0) / 1000,
    });
  return { prefix, ...pair, clock, scheduler, counter, reference, sent };
}

async function scheduleOne(scheduler: DelayedEventScheduler, who: { userId: string; deviceId?: string } = ALICE): Promise<string> {
  const result = await scheduler.schedule({ ...who, roomId: ROOM, type: 'm.room.message', content: {}, delayMs: 10_000 });
  return result.delayId;
}

async function refusal(promise: Promise<unknown>): Promise<RateLimitedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RateLimitedError);
  return error as RateLimitedError;
}

/** What rate-limiter-flexible answers: the RateLimiterRes it resolves or rejects with. */
async function referenceConsume(limiter: RateLimiterRedis, key: string): Promise<{ ok: boolean; res: RateLimiterRes }> {
  try {
    return { ok: true, res: await limiter.consume(key) };
  } catch (rejection) {
    expect(rejection).toBeInstanceOf(RateLimiterRes);
    return { ok: false, res: rejection as RateLimiterRes };
  }
}

/**
 * Counts the commands clients sent that touch keys under `prefix`, and how many of them are script
 * calls (EVAL/EVALSHA), with MONITOR (which also shows what scripts run: those are left out). On a
 * private server: another test's SCRIPT FLUSH would add a NOSCRIPT retry.
 */
async function countScriptCalls(on: Redis, prefix: string, work: () => Promise<unknown>): Promise<{ scripts: number; commands: number }> {
  const monitor = (await on.monitor()) as unknown as Redis & { disconnect(): void };
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args.some((arg) => String(arg).includes(prefix))) seen.push(args);
  });
  try {
    await work();
    // MONITOR lines arrive after the replies; a PING through the monitored server flushes them.
    await on.ping(`${prefix}-done`);
    const deadline = performance.now() + 2000;
    while (!seen.some((args) => args.includes(`${prefix}-done`)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    monitor.disconnect();
  }
  const commands = seen.filter((args) => !args.includes(`${prefix}-done`));
  return { scripts: commands.filter((args) => /^eval(sha)?$/i.test(String(args[0]))).length, commands: commands.length };
}

describe('the fused manage charge is rate-limiter-flexible\'s RateLimiterRedis counter', () => {
  it('interleaves fused restarts, pair consumes and RateLimiterRedis consumes on one counter: same points, TTL and refusal', async () => {
    const limit = { points: 6, durationMs: 60_000 };
    const s = setup(limit);
    const reference = s.reference(limit);
    const id = await scheduleOne(s.scheduler);
    const steps: (() => Promise<unknown>)[] = [
      () => s.scheduler.restart(ALICE, id), // fused
      () => referenceConsume(reference, ALICE_COUNTER),
      () => s.rateLimiter.tryConsume('manage', ALICE), // the pair's limiter
      () => s.scheduler.restart(ALICE, id),
      () => referenceConsume(reference, ALICE_COUNTER),
    ];
    for (const [i, step] of steps.entries()) {
      await step();
      expect(await client.get(s.counter)).toBe(String(i + 1));
    }
    // The reference sees the points the pair took: one left.
    const sixth = await referenceConsume(reference, ALICE_COUNTER);
    expect(sixth).toMatchObject({ ok: true, res: { remainingPoints: 0, consumedPoints: 6 } });
    const ttl = await client.pttl(s.counter);
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    // Now all three refuse, each with the counter's remaining window.
    const before = await s.store.get(id);
    const refused = await refusal(s.scheduler.restart(ALICE, id));
    expect(refused).toMatchObject({ bucket: 'manage', httpStatus: 429, errcode: 'M_LIMIT_EXCEEDED' });
    const theirs = await referenceConsume(reference, ALICE_COUNTER);
    expect(theirs.ok).toBe(false);
    const ours = await s.rateLimiter.tryConsume('manage', ALICE);
    expect(ours.ok).toBe(false);
    for (const retry of [refused.retryAfterMs!, theirs.res.msBeforeNext, ours.ok ? 0 : ours.retryAfterMs]) {
      expect(retry).toBeGreaterThan(58_000);
      expect(retry).toBeLessThanOrEqual(60_000);
    }
    expect(await client.get(s.counter)).toBe('9');
    // The window was set once, when the counter was created, whoever charged later.
    expect(Math.abs((await client.pttl(s.counter)) - ttl)).toBeLessThan(1_000);
    // A refused restart leaves its event as it was: same due time, still listed.
    expect(await s.store.get(id)).toEqual(before);
    expect((await s.store.listForUser(ALICE.userId, { limit: 10 })).map((e) => [e.delayId, e.sendAtMs])).toEqual([[id, before!.sendAtMs]]);
  });

  it('creates the counter with RateLimiterRedis\'s window and gives a counter without one its window at the first refusal', async () => {
    const limit = { points: 2, durationMs: 5_000 };
    const s = setup(limit);
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.restart(ALICE, id);
    expect(await client.pttl(s.counter)).toBeGreaterThan(4_000);
    // A counter something else wrote without an expiry must not lock its user out for good.
    await client.set(s.counter, '1');
    await s.scheduler.restart(ALICE, id);
    expect(await client.pttl(s.counter)).toBe(-1);
    const error = await refusal(s.scheduler.restart(ALICE, id));
    expect(error.retryAfterMs).toBe(5_000);
    const ttl = await client.pttl(s.counter);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('blocks on overuse exactly like RateLimiterRedis with blockDuration, whichever way the point is taken', async () => {
    const limit = { points: 2, durationMs: 5_000, blockDurationMs: 30_000 };
    const s = setup(limit);
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.restart(ALICE, id);
    await s.scheduler.restart(ALICE, id);
    const error = await refusal(s.scheduler.restart(ALICE, id));
    expect(error.retryAfterMs).toBe(30_000);
    // The same three consumes by rate-limiter-flexible on a key of its own: same value, same block.
    const reference = new RateLimiterRedis({ storeClient: client, keyPrefix: `${s.prefix}:ref`, points: 2, duration: 5, blockDuration: 30 });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await referenceConsume(reference, 'k'));
    expect(answers.map((a) => a.ok)).toEqual([true, true, false]);
    expect(answers[2]!.res.msBeforeNext).toBe(30_000);
    expect(await client.get(s.counter)).toBe(await client.get(`${s.prefix}:ref:k`));
    const [ours, theirs] = await Promise.all([client.pttl(s.counter), client.pttl(`${s.prefix}:ref:k`)]);
    expect(ours).toBeGreaterThan(29_000);
    expect(Math.abs(ours - theirs)).toBeLessThan(1_000);
    // Still blocked: the pair's limiter and RateLimiterRedis on the fused counter refuse with the block's rest.
    const again = await s.rateLimiter.tryConsume('manage', ALICE);
    expect(again.ok ? 0 : again.retryAfterMs).toBeGreaterThan(5_000);
    const theirAgain = await referenceConsume(s.reference(limit), ALICE_COUNTER);
    expect(theirAgain.ok).toBe(false);
    expect(theirAgain.res.msBeforeNext).toBeGreaterThan(5_000);
  });

  it('charges the same key as RateLimiterRedis on a client with its own ioredis keyPrefix', async () => {
    const prefixed = newClient(undefined, { keyPrefix: 'kp:' });
    try {
      await prefixed.ping();
      const s = setup({ points: 3, durationMs: 5_000 }, { client: prefixed });
      prefixes.push(`kp:${s.prefix}`);
      const id = await scheduleOne(s.scheduler);
      await s.scheduler.restart(ALICE, id); // fused, in the store's script
      expect((await s.rateLimiter.tryConsume('manage', ALICE)).ok).toBe(true); // the pair's limiter
      const reference = new RateLimiterRedis({ storeClient: prefixed, keyPrefix: `${s.prefix}:rl:manage`, points: 3, duration: 5 });
      expect((await referenceConsume(reference, ALICE_COUNTER)).ok).toBe(true);
      await refusal(s.scheduler.restart(ALICE, id));
      expect(await client.get(`kp:${s.counter}`)).toBe('4');
      expect(await client.exists(s.counter)).toBe(0);
    } finally {
      await prefixed.quit();
    }
  });
});

describe('every guarded action under the pair is charged exactly once', () => {
  it('charges cancel, send, listing and restart one point each, restart in its script and the others through the limiter', async () => {
    const s = setup({ points: 100, durationMs: 60_000 });
    const [a, b, c] = [await scheduleOne(s.scheduler), await scheduleOne(s.scheduler), await scheduleOne(s.scheduler)];
    await s.scheduler.restart(ALICE, a);
    expect(await client.get(s.counter)).toBe('1');
    await s.scheduler.cancel(ALICE, b);
    expect(await client.get(s.counter)).toBe('2');
    await s.scheduler.send(ALICE, c);
    expect(s.sent).toEqual([c]);
    expect(await client.get(s.counter)).toBe('3');
    const page = await s.scheduler.list(ALICE);
    expect(page.events.map((e) => e.delayId)).toEqual([a]);
    expect(await client.get(s.counter)).toBe('4');
    // Unknown and someone else's events are charged too, as with the plain limiter.
    await expect(s.scheduler.restart(ALICE, 'nonexistent')).rejects.toMatchObject({ httpStatus: 404 });
    await expect(s.scheduler.cancel(BOB, a)).rejects.toMatchObject({ httpStatus: 404 });
    expect(await client.get(s.counter)).toBe('5');
    // ...and an ID too long to ask the store about: the guard charges it after the action.
    await expect(s.scheduler.restart(ALICE, 'x'.repeat(10_000))).rejects.toMatchObject({ httpStatus: 404 });
    expect(await client.get(s.counter)).toBe('6');
  });

  it('charges send\'s own bucket once too, in either nesting of the two guards', async () => {
    const s = setup({ points: 100, durationMs: 60_000 }, { send: { points: 100, durationMs: 60_000 } });
    const sendCounter = `${s.prefix}:rl:send:${ALICE_COUNTER}`;
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.send(ALICE, id);
    expect([await client.get(s.counter), await client.get(sendCounter)]).toEqual(['1', '1']);
    // Both nestings, straight on the pair's limiter (manage outside, then send outside).
    const other = await scheduleOne(s.scheduler);
    const claim = () => s.store.claim(other, ALICE.userId, { nowMs: s.clock.now(), leaseMs: 30_000, claimToken: 'tok' });
    const limiter: RateLimiterLike = s.rateLimiter;
    const first = await limiter.guard('manage', ALICE, () => limiter.guard('send', ALICE, claim));
    expect(first.ok).toBe(true);
    expect([await client.get(s.counter), await client.get(sendCounter)]).toEqual(['2', '2']);
    const second = await limiter.guard('send', ALICE, () => limiter.guard('manage', ALICE, claim));
    expect(second.ok).toBe(false);
    expect([await client.get(s.counter), await client.get(sendCounter)]).toEqual(['3', '3']);
  });
});

/** A redis-server of this file's own, for counting commands. */
let privateServer: PrivateRedis | undefined;
let own: Redis;
async function ownServer(): Promise<Redis> {
  if (privateServer === undefined) {
    privateServer = await startPrivateRedis();
    own = newClient(privateServer.url);
    await own.ping();
  }
  return own;
}
afterAll(async () => {
  if (privateServer === undefined) return;
  await own.quit();
  await privateServer.stop();
  privateServer.dispose();
});

describe('one script call per heartbeat', () => {
  it('sends a heartbeat as exactly one script call, and a burst of heartbeats as one call too', async () => {
    const on = await ownServer();
    const s = setup({ points: 100, durationMs: 60_000 }, { client: on });
    const id = await scheduleOne(s.scheduler);
    const one = await countScriptCalls(on, s.prefix, () => s.scheduler.restart(ALICE, id));
    expect(one).toEqual({ scripts: 1, commands: 1 });
    expect(await on.get(s.counter)).toBe('1');
    // Any other action takes its point through the limiter first: two calls.
    const other = await scheduleOne(s.scheduler);
    expect(await countScriptCalls(on, s.prefix, () => s.scheduler.cancel(ALICE, other))).toEqual({ scripts: 2, commands: 2 });
    expect(await on.get(s.counter)).toBe('2');

    const users = Array.from({ length: 20 }, (_, i) => ({ userId: `@u${i}:example.org`, deviceId: 'D' }));
    const ids = await Promise.all(users.map((who) => scheduleOne(s.scheduler, who)));
    const burst = await countScriptCalls(on, s.prefix, () => Promise.all(users.map((who, i) => s.scheduler.restart(who, ids[i]!))));
    expect(burst).toEqual({ scripts: 1, commands: 1 });
    for (const who of users) expect(await on.get(`${s.prefix}:rl:manage:${who.userId}|D`)).toBe('1');
  });

  it('refuses within a batch only the restarts whose counter is spent, leaving the others to run', async () => {
    const s = setup({ points: 1, durationMs: 60_000 });
    const [mine, bobs] = [await scheduleOne(s.scheduler), await scheduleOne(s.scheduler, BOB)];
    const before = await s.store.get(mine);
    s.clock.advance(1_000);
    const results = await Promise.allSettled([s.scheduler.restart(ALICE, mine), s.scheduler.restart(ALICE, mine), s.scheduler.restart(BOB, bobs)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RateLimitedError);
    expect((await s.store.get(mine))!.sendAtMs).toBe(before!.sendAtMs + 1_000);
  });
});

describe('on a Cluster client nothing is fused', () => {
  it('behaves as a plain store and limiter: the limiter charges, the restart script does not', async () => {
    // A real single-node connection that says it is a Cluster (the pair must not fuse on it).
    const on = await ownServer();
    const clusterLike = new Proxy(on, {
      get: (target, property) => (property === 'isCluster' ? true : (Reflect.get(target, property, target) as unknown)),
    }) as unknown as RedisClient;
    const s = setup({ points: 2, durationMs: 5_000 }, { client: clusterLike });
    expect(s.rateLimiter).toBeInstanceOf(RateLimiter);
    const consumes = vi.spyOn(s.rateLimiter, 'tryConsume');
    const id = await scheduleOne(s.scheduler);
    const calls = await countScriptCalls(on, s.prefix, () => s.scheduler.restart(ALICE, id));
    expect(calls.scripts).toBe(2); // the limiter's consume, then the restart
    expect(consumes).toHaveBeenCalledTimes(1);
    await s.scheduler.restart(ALICE, id);
    await refusal(s.scheduler.restart(ALICE, id));
    expect(await on.get(s.counter)).toBe('3');
  });
});

describe('error paths', () => {
  it('refuses cancel and send when the limiter refuses, leaving the event untouched', async () => {
    const s = setup({ points: 1, durationMs: 60_000 });
    const id = await scheduleOne(s.scheduler);
    const before = await s.store.get(id);
    await s.scheduler.list(ALICE);
    for (const attempt of [() => s.scheduler.cancel(ALICE, id), () => s.scheduler.send(ALICE, id), () => s.scheduler.list(ALICE)]) {
      const error = await refusal(attempt());
      expect(error.bucket).toBe('manage');
      expect(error.retryAfterMs).toBeGreaterThan(58_000);
    }
    expect(await s.store.get(id)).toEqual(before);
    expect(s.sent).toEqual([]);
  });

  it('refuses an action that answered without the store when its point is refused', async () => {
    const s = setup({ points: 1, durationMs: 60_000 });
    await expect(s.scheduler.restart(ALICE, 'x'.repeat(10_000))).rejects.toMatchObject({ httpStatus: 404 });
    await refusal(s.scheduler.restart(ALICE, 'x'.repeat(10_000)));
    // A rejected action whose point is refused reports the refusal (its own rejection is handled).
    await refusal(s.rateLimiter.guard('manage', ALICE, () => Promise.reject(new Error('boom'))));
  });

  it('withdraws the point of an action that throws synchronously, so no later store call takes it', async () => {
    const s = setup({ points: 5, durationMs: 60_000 });
    await expect(
      s.rateLimiter.guard('manage', ALICE, () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    const id = await scheduleOne(s.scheduler);
    await s.store.restart(id, ALICE.userId, s.clock.now()); // outside any guard: not charged
    expect(await client.exists(s.counter)).toBe(0);
  });

  it('turns a store fault during a fused restart into StoreUnavailableError, charging nothing', async () => {
    const dead = newClient(undefined, { lazyConnect: true, enableOfflineQueue: false });
    const s = setup({ points: 5, durationMs: 60_000 }, { client: dead });
    dead.disconnect();
    await expect(s.scheduler.restart(ALICE, 'some-id')).rejects.toMatchObject({ name: 'StoreUnavailableError', httpStatus: 503 });
    expect(await client.exists(s.counter)).toBe(0);
  });

  it('is a plain store and limiter when the manage bucket is off', async () => {
    const s = setup(false);
    const id = await scheduleOne(s.scheduler);
    for (let i = 0; i < 5; i++) await s.scheduler.restart(ALICE, id);
    expect(await client.exists(s.counter)).toBe(0);
  });

  it('refuses invalid options with ConfigError', () => {
    const bad = [
      [{ client, limiterTimeoutMs: 0 }, 'ERR_DE_OPTION_INVALID'],
      [{ client, commandTimeoutMs: 1.5 }, 'ERR_DE_OPTION_INVALID'],
      [{ client, keyPrefix: 'a{b' }, 'ERR_DE_OPTION_INVALID'],
      [{ client: undefined as unknown as RedisClient }, 'ERR_DE_OPTION_INVALID'],
      [{ client, buckets: { manage: { points: 2, durationMs: 1_500 } } }, 'ERR_DE_RATE_LIMIT_INVALID'],
    ] as const;
    for (const [options, code] of bad) expect(() => createRedisDelayedEvents(options)).toThrow(expect.objectContaining({ code }));
  });
});

describe('over HTTP', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers a refused restart with the same 429, Retry-After and retry_after_ms as the plain limiter', async () => {
    const answers = [];
    for (const fused of [true, false]) {
      const prefix = freshPrefix();
      const buckets = { schedule: false, send: false, delivery: false, manage: { points: 1, durationMs: 60_000 } } as const;
      const pair = fused
        ? createRedisDelayedEvents({ client, keyPrefix: prefix, buckets })
        : { store: createRedisStore({ client, keyPrefix: prefix }), rateLimiter: createRedisRateLimiter({ client, keyPrefix: `${prefix}:rl`, buckets }) };
      stores.push(pair.store);
      server = await startNodeServer({ scheduler: { store: pair.store, rateLimiter: pair.rateLimiter } });
      const id = await scheduleMessage(server.baseUrl, 'alice', 10_000, 'hb');
      expect((await call(server.baseUrl, 'POST', `${STABLE}/${id}`, { body: { action: 'restart' } })).status).toBe(200);
      const limited = await call(server.baseUrl, 'POST', `${STABLE}/${id}`, { body: { action: 'restart' } });
      answers.push({ status: limited.status, errcode: limited.json['errcode'], retryAfter: limited.headers.get('retry-after') });
      expect(limited.json['retry_after_ms']).toBeGreaterThan(59_000);
      await server.close();
      server = undefined;
    }
    expect(answers[0]).toEqual({ status: 429, errcode: 'M_LIMIT_EXCEEDED', retryAfter: '60' });
    expect(answers[1]).toEqual(answers[0]);
  });
});
