/**
 * createRedisRateLimiter batches concurrent consumes into one script call; each counter must behave
 * exactly as rate-limiter-flexible's own `RateLimiterRedis` (same key, value, expiry, block and
 * msBeforeNext), and a Redis that is not ready or does not answer leaves the in-memory insurance
 * limiter to answer.
 */
import { randomBytes } from 'node:crypto';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiter } from '../../src/core/rate-limiter.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisRateLimiter, type RedisClient } from '../../src/redis/index.js';
import { ALICE, CAROL } from '../helpers/fixtures.js';
import { deleteByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
const prefixes: string[] = [];
// The limiter answers from memory until the client is ready (rejectIfRedisNotReady).
beforeAll(async () => {
  await client.ping();
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteByPrefix(client, `${prefix}:`);
  await client.quit();
});

function freshPrefix(): string {
  const prefix = `rl${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

describe('createRedisRateLimiter', () => {
  it('admits exactly the limit among concurrent consumes, with counters like RateLimiterRedis', async () => {
    const prefix = freshPrefix();
    const limiter = createRedisRateLimiter({ client, keyPrefix: prefix, buckets: { manage: { points: 10, durationMs: 5_000 } } });
    // Deliberately without a device: its counter key ends in `|`.
    const bob = { userId: '@bob:example.org' };
    const results = await Promise.all([
      ...Array.from({ length: 30 }, () => limiter.tryConsume('manage', ALICE)),
      ...Array.from({ length: 4 }, () => limiter.tryConsume('manage', bob)),
    ]);
    const forAlice = results.slice(0, 30);
    expect(forAlice.filter((r) => r.ok)).toHaveLength(10);
    for (const r of forAlice.filter((x) => !x.ok)) expect(r.ok ? 0 : r.retryAfterMs).toBeGreaterThan(0);
    expect(results.slice(30).every((r) => r.ok)).toBe(true);

    // The same counters rate-limiter-flexible's own limiter keeps for the same consumes.
    const reference = new RateLimiterRedis({ storeClient: client, keyPrefix: `${prefix}ref:manage`, points: 10, duration: 5 });
    await Promise.all(Array.from({ length: 30 }, () => reference.consume(`${ALICE.userId}|${ALICE.deviceId}`).catch(() => undefined)));
    expect(await client.get(`${prefix}:manage:${ALICE.userId}|${ALICE.deviceId}`)).toBe(await client.get(`${prefix}ref:manage:${ALICE.userId}|${ALICE.deviceId}`));
    expect(await client.get(`${prefix}:manage:${bob.userId}|`)).toBe('4');
    const ttl = await client.pttl(`${prefix}:manage:${ALICE.userId}|${ALICE.deviceId}`);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
    prefixes.push(`${prefix}ref`);
  });

  it('refuses windows that are not whole seconds, which RateLimiterRedis would never expire or would shorten', () => {
    const refused = [{ durationMs: 500 }, { durationMs: 1_500 }, { durationMs: 5_000, blockDurationMs: 2_500 }];
    for (const window of refused) {
      expect(() => createRedisRateLimiter({ client, buckets: { manage: { points: 2, ...window } } })).toThrow(
        expect.objectContaining({ code: 'ERR_DE_RATE_LIMIT_INVALID', message: expect.stringContaining('whole seconds') }),
      );
    }
    expect(createRedisRateLimiter({ client, buckets: { manage: { points: 2, durationMs: 2_000, blockDurationMs: 60_000 } } }).isEnabled('manage')).toBe(true);
  });

  it('answers consumes made one at a time', async () => {
    const prefix = freshPrefix();
    const limiter = createRedisRateLimiter({ client, keyPrefix: prefix, buckets: { manage: { points: 2, durationMs: 5_000 } } });
    const who = CAROL;
    expect((await limiter.tryConsume('manage', who)).ok).toBe(true);
    expect((await limiter.tryConsume('manage', who)).ok).toBe(true);
    expect((await limiter.tryConsume('manage', who)).ok).toBe(false);
  });

  it('answers exactly as RateLimiterRedis with a block: same refusals, msBeforeNext, value and TTL', async () => {
    const prefix = freshPrefix();
    const limit = { points: 3, durationMs: 10_000, blockDurationMs: 20_000 };
    const limiter = createRedisRateLimiter({ client, keyPrefix: prefix, buckets: { manage: limit } });
    const reference = new RateLimiterRedis({ storeClient: client, keyPrefix: `${prefix}ref:manage`, points: 3, duration: 10, blockDuration: 20 });
    prefixes.push(`${prefix}ref`);
    const who = { userId: '@erin:example.org' };
    const ours = [];
    const theirs = [];
    for (let i = 0; i < 5; i++) {
      ours.push(await limiter.tryConsume('manage', who));
      theirs.push(await reference.consume(`${who.userId}|`).then(() => ({ ok: true }) as const, (res: RateLimiterRes) => ({ ok: false, retryAfterMs: res.msBeforeNext }) as const));
    }
    expect(ours.map((r) => r.ok)).toEqual(theirs.map((r) => r.ok));
    expect(ours[3]).toEqual({ ok: false, retryAfterMs: 20_000 });
    expect(theirs[3]).toEqual({ ok: false, retryAfterMs: 20_000 });
    for (const r of [ours[4]!, theirs[4]!]) expect(r.ok ? 0 : r.retryAfterMs).toBeGreaterThan(19_000);
    const [a, b] = [`${prefix}:manage:${who.userId}|`, `${prefix}ref:manage:${who.userId}|`];
    expect(await client.get(a)).toBe(await client.get(b));
    expect(Math.abs((await client.pttl(a)) - (await client.pttl(b)))).toBeLessThan(1_000);
  });

  it('rejects its backend consume with a RateLimiterRes carrying the counter, as RateLimiterRedis does', async () => {
    const prefix = freshPrefix();
    type Backend = { consume(key: string, points?: number): Promise<unknown> };
    const limiter = createRedisRateLimiter({ client, keyPrefix: prefix, buckets: { manage: { points: 2, durationMs: 5_000 } } });
    // The backend is private to the RateLimiter it was built for.
    const backend = (limiter as unknown as { limiters: Map<string, Backend> }).limiters.get('manage');
    await expect(backend!.consume('k', 2)).resolves.toMatchObject({ remainingPoints: 0, consumedPoints: 2, isFirstInDuration: true });
    const refused = await backend!.consume('k').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimiterRes);
    expect(refused).toMatchObject({ remainingPoints: 0, consumedPoints: 3 });
    expect((refused as RateLimiterRes).msBeforeNext).toBeGreaterThan(4_000);
    // Points that RateLimiterRedis would refuse to consume are a fault, not a refusal.
    await expect(backend!.consume('k', 1.5)).rejects.toThrow(TypeError);
  });

  it('answers from memory at once while the client is not ready, with the same limits', async () => {
    const down = newClient(undefined, { lazyConnect: true });
    const limiter = createRedisRateLimiter({ client: down, keyPrefix: freshPrefix(), buckets: { manage: { points: 2, durationMs: 5_000 } } });
    const who = { userId: '@frank:example.org' };
    const start = performance.now();
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.tryConsume('manage', who));
    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(performance.now() - start).toBeLessThan(200);
    down.disconnect();
  });

  it('answers from memory when Redis fails the call (a fault is not a refusal, and is not let through unlimited)', async () => {
    const logger = { warn: vi.fn() };
    const failing = new Proxy(client, {
      get: (target, property) => (typeof property === 'string' && property.startsWith('mde_consumeRateLimits') ? () => Promise.reject(new Error('boom')) : (Reflect.get(target, property, target) as unknown)),
    }) as unknown as RedisClient;
    const limiter = createRedisRateLimiter({ client: failing, keyPrefix: freshPrefix(), logger, buckets: { manage: { points: 1, durationMs: 5_000 } } });
    const who = { userId: '@gina:example.org' };
    expect((await limiter.tryConsume('manage', who)).ok).toBe(true);
    expect((await limiter.tryConsume('manage', who)).ok).toBe(false);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('sends one script call per consume on a Cluster client, and batches on a single node', async () => {
    const calls = { cluster: 0, single: 0 };
    const counting = (kind: keyof typeof calls, isCluster: boolean) =>
      new Proxy(client, {
        get: (target, property) => {
          if (property === 'isCluster') return isCluster;
          const value = Reflect.get(target, property, target) as unknown;
          if (typeof property === 'string' && property.startsWith('mde_consumeRateLimits') && typeof value === 'function') {
            return (...args: unknown[]) => {
              calls[kind]++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return value;
        },
      }) as unknown as RedisClient;
    for (const [kind, isCluster] of [['cluster', true], ['single', false]] as const) {
      const limiter = createRedisRateLimiter({ client: counting(kind, isCluster), keyPrefix: freshPrefix(), buckets: { manage: { points: 5, durationMs: 5_000 } } });
      const results = await Promise.all(Array.from({ length: 8 }, () => limiter.tryConsume('manage', { userId: '@h:example.org' })));
      expect(results.filter((r) => r.ok)).toHaveLength(5);
    }
    expect(calls.cluster).toBe(8);
    expect(calls.single).toBeLessThanOrEqual(2);
  });

  it('refuses a malformed timeoutMs', () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => createRedisRateLimiter({ client, timeoutMs })).toThrow(expect.objectContaining({ code: 'ERR_DE_OPTION_INVALID' }));
    }
    expect(createRedisRateLimiter({ client })).toBeInstanceOf(RateLimiter);
  });
});
