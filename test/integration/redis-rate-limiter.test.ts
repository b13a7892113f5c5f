/**
 * createRedisRateLimiter batches concurrent consumes into one script call; each counter must behave
 * exactly as rate-limiter-flexible's own `RateLimiterRedis` (same key, value and expiry).
 */
import { randomBytes } from 'node:crypto';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRateLimiter } from '../../src/redis/index.js';
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
    const alice = { userId: '@alice:example.org', deviceId: 'PHONE' };
    const bob = { userId: '@bob:example.org' };
    const results = await Promise.all([
      ...Array.from({ length: 30 }, () => limiter.tryConsume('manage', alice)),
      ...Array.from({ length: 4 }, () => limiter.tryConsume('manage', bob)),
    ]);
    const forAlice = results.slice(0, 30);
    expect(forAlice.filter((r) => r.ok)).toHaveLength(10);
    for (const r of forAlice.filter((x) => !x.ok)) expect(r.ok ? 0 : r.retryAfterMs).toBeGreaterThan(0);
    expect(results.slice(30).every((r) => r.ok)).toBe(true);

    // The same counters rate-limiter-flexible's own limiter keeps for the same consumes.
    const reference = new RateLimiterRedis({ storeClient: client, keyPrefix: `${prefix}ref:manage`, points: 10, duration: 5 });
    await Promise.all(Array.from({ length: 30 }, () => reference.consume(`${alice.userId}|PHONE`).catch(() => undefined)));
    expect(await client.get(`${prefix}:manage:${alice.userId}|PHONE`)).toBe(await client.get(`${prefix}ref:manage:${alice.userId}|PHONE`));
    expect(await client.get(`${prefix}:manage:${bob.userId}|`)).toBe('4');
    const ttl = await client.pttl(`${prefix}:manage:${alice.userId}|PHONE`);
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
    const who = { userId: '@carol:example.org' };
    expect((await limiter.tryConsume('manage', who)).ok).toBe(true);
    expect((await limiter.tryConsume('manage', who)).ok).toBe(true);
    expect((await limiter.tryConsume('manage', who)).ok).toBe(false);
  });
});
