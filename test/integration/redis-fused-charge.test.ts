/**
 * With the Redis store and createRedisRateLimiter on one client, a restart's `manage` charge rides in
 * the store's restart script. It must be the very counter rate-limiter-flexible keeps (same key, value,
 * expiry and block), refuse exactly as the limiter would, and leave a refused event untouched.
 */
import { randomBytes } from 'node:crypto';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import { RateLimitedError } from '../../src/core/errors.js';
import type { BucketLimit, RateLimiter } from '../../src/core/rate-limiter.js';
import { ManualClock } from '../../src/testing/index.js';
import { createRedisRateLimiter, createRedisStore, type RedisStore } from '../../src/stores/redis/index.js';
import { call, startNodeServer, STABLE, scheduleMessage, type TestServer } from '../http/helpers.js';
import { deleteByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
const otherClient = newClient();
const prefixes: string[] = [];
const stores: RedisStore[] = [];
const alice = { userId: '@alice:example.org', deviceId: 'PHONE' };

beforeAll(async () => {
  // The limiter answers from memory until its client is ready (rejectIfRedisNotReady).
  await Promise.all([client.ping(), otherClient.ping()]);
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteByPrefix(client, `${prefix}`);
  await Promise.all([client.quit(), otherClient.quit()]);
});

function freshPrefix(): string {
  const prefix = `fc${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

function setup(manage: BucketLimit, limiterClient = client) {
  const prefix = freshPrefix();
  const store = createRedisStore({ client, keyPrefix: prefix });
  stores.push(store);
  const rateLimiter = createRedisRateLimiter({
    client: limiterClient,
    keyPrefix: `${prefix}rl`,
    buckets: { schedule: false, send: false, delivery: false, manage },
  });
  const clock = new ManualClock(1_700_000_000_000);
  const scheduler = new DelayedEventScheduler({ store, rateLimiter, clock, sendEvent: () => {}, maxDelayMs: 86_400_000 });
  const counter = `${prefix}rl:manage:${alice.userId}|${alice.deviceId}`;
  return { prefix, store, rateLimiter, clock, scheduler, counter };
}

async function scheduleOne(scheduler: DelayedEventScheduler): Promise<string> {
  const result = await scheduler.schedule({ ...alice, roomId: '!room:example.org', type: 'm.room.message', content: {}, delayMs: 10_000 });
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

describe('restart charges the Redis-backed manage limit inside the store script', () => {
  it('charges in the script, not through the limiter, and refuses without moving the event', async () => {
    const s = setup({ points: 3, durationMs: 60_000 });
    const consume = vi.spyOn(s.rateLimiter as RateLimiter, 'tryConsume');
    const id = await scheduleOne(s.scheduler);
    for (let i = 1; i <= 3; i++) {
      s.clock.advance(100);
      await s.scheduler.restart(alice, id);
    }
    const before = await s.store.get(id);
    expect(before?.runningSinceMs).toBe(s.clock.now());
    s.clock.advance(100);
    const error = await refusal(s.scheduler.restart(alice, id));
    expect(error.httpStatus).toBe(429);
    expect(error.bucket).toBe('manage');
    expect(error.retryAfterMs).toBeGreaterThan(59_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
    // The refused restart left the event as it was.
    expect(await s.store.get(id)).toEqual(before);
    expect(consume).not.toHaveBeenCalled();
    expect(await client.get(s.counter)).toBe('4');
  });

  it('shares one counter with charges the limiter takes itself (cancel, send, listing) and keeps RateLimiterRedis expiry', async () => {
    const s = setup({ points: 4, durationMs: 5_000 });
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.restart(alice, id); // in the script
    expect((await s.rateLimiter.tryConsume('manage', alice)).ok).toBe(true); // by the limiter
    await s.scheduler.restart(alice, id);
    expect((await s.rateLimiter.tryConsume('manage', alice)).ok).toBe(true);
    // Both ways counted on one key: the fifth point is refused whichever way it is taken.
    expect((await s.rateLimiter.tryConsume('manage', alice)).ok).toBe(false);
    await refusal(s.scheduler.restart(alice, id));
    expect(await client.get(s.counter)).toBe('6');
    const ttl = await client.pttl(s.counter);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
    // An unknown or someone else's event is charged too, as it was when the limiter ran first.
    const fresh = setup({ points: 2, durationMs: 5_000 });
    const other = await scheduleOne(fresh.scheduler);
    await expect(fresh.scheduler.restart(alice, 'nonexistent')).rejects.toMatchObject({ httpStatus: 404 });
    await expect(fresh.scheduler.restart({ userId: '@bob:example.org' }, other)).rejects.toMatchObject({ httpStatus: 404 });
    await fresh.scheduler.restart(alice, other);
    await refusal(fresh.scheduler.restart(alice, other));
    // ...and an ID too long to ask the store about.
    const third = setup({ points: 1, durationMs: 5_000 });
    await expect(third.scheduler.restart(alice, 'x'.repeat(10_000))).rejects.toMatchObject({ httpStatus: 404 });
    expect(await client.get(third.counter)).toBe('1');
  });

  it('gives a counter it creates its window, and a counter left without one gets it at its first refusal', async () => {
    const s = setup({ points: 2, durationMs: 5_000 });
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.restart(alice, id);
    expect(await client.pttl(s.counter)).toBeGreaterThan(4_000);
    // A counter something else wrote without an expiry must not lock its user out for good.
    await client.set(s.counter, '1');
    await s.scheduler.restart(alice, id);
    expect(await client.pttl(s.counter)).toBe(-1);
    const error = await refusal(s.scheduler.restart(alice, id));
    expect(error.retryAfterMs).toBe(5_000);
    const ttl = await client.pttl(s.counter);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('blocks on overuse exactly like RateLimiterRedis with blockDuration', async () => {
    const s = setup({ points: 2, durationMs: 5_000, blockDurationMs: 30_000 });
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.restart(alice, id);
    await s.scheduler.restart(alice, id);
    const error = await refusal(s.scheduler.restart(alice, id));
    expect(error.retryAfterMs).toBe(30_000);

    const reference = new RateLimiterRedis({ storeClient: client, keyPrefix: `${s.prefix}ref`, points: 2, duration: 5, blockDuration: 30 });
    for (let i = 0; i < 3; i++) await reference.consume('k').catch(() => undefined);
    expect(await client.get(s.counter)).toBe(await client.get(`${s.prefix}ref:k`));
    const [ours, theirs] = await Promise.all([client.pttl(s.counter), client.pttl(`${s.prefix}ref:k`)]);
    expect(ours).toBeGreaterThan(29_000);
    expect(Math.abs(ours - theirs)).toBeLessThan(1_000);
    // Still blocked after the window would have ended: the next refusal reports the block's rest.
    const again = await refusal(s.scheduler.restart(alice, id));
    expect(again.retryAfterMs).toBeGreaterThan(5_000);
  });

  it('charges the same key on a client with its own ioredis keyPrefix', async () => {
    const prefixed = newClient(undefined, { keyPrefix: 'kp:' });
    try {
      await prefixed.ping();
      const prefix = freshPrefix();
      prefixes.push(`kp:${prefix}`);
      const store = createRedisStore({ client: prefixed, keyPrefix: prefix });
      stores.push(store);
      const rateLimiter = createRedisRateLimiter({ client: prefixed, keyPrefix: `${prefix}rl`, buckets: { manage: { points: 2, durationMs: 5_000 } } });
      const scheduler = new DelayedEventScheduler({ store, rateLimiter, sendEvent: () => {}, clock: new ManualClock(1_700_000_000_000) });
      const id = await scheduleOne(scheduler);
      await scheduler.restart(alice, id);
      expect((await rateLimiter.tryConsume('manage', alice)).ok).toBe(true);
      await refusal(scheduler.restart(alice, id));
      expect(await client.get(`kp:${prefix}rl:manage:${alice.userId}|${alice.deviceId}`)).toBe('3');
    } finally {
      await prefixed.quit();
    }
  });

  it('never fuses on a Cluster client, whose limiter keys live in other slots than the store', () => {
    const cluster = { isCluster: true, status: 'ready', options: {}, defineCommand: () => {} } as unknown as Parameters<typeof createRedisStore>[0]['client'];
    const store = createRedisStore({ client: cluster, keyPrefix: freshPrefix() });
    const rateLimiter = createRedisRateLimiter({ client: cluster });
    expect(store.chargeTarget).toBeUndefined();
    expect(rateLimiter.chargeFor('manage', alice, cluster)).toBeUndefined();
    // The same limiter on a single-node client does describe its charge.
    expect(createRedisRateLimiter({ client }).chargeFor('manage', alice, client)).toMatchObject({ key: `mde:rl:manage:${alice.userId}|${alice.deviceId}` });
  });

  it('uses the limiter as before when it lives on another client', async () => {
    const s = setup({ points: 1, durationMs: 5_000 }, otherClient);
    const consume = vi.spyOn(s.rateLimiter as RateLimiter, 'tryConsume');
    const id = await scheduleOne(s.scheduler);
    await s.scheduler.restart(alice, id);
    expect(consume).toHaveBeenCalledTimes(1);
    await refusal(s.scheduler.restart(alice, id));
    expect(await client.get(s.counter)).toBe('2');
  });
});

describe('over HTTP', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers a refused restart with the same 429, Retry-After and retry_after_ms as the limiter', async () => {
    const answers = [];
    for (const limiterClient of [client, otherClient]) {
      const s = setup({ points: 1, durationMs: 60_000 }, limiterClient);
      server = await startNodeServer({ scheduler: { store: s.store, rateLimiter: s.rateLimiter } });
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
