/**
 * Redis unreachable: scheduling and management fail fast with StoreUnavailableError (503 M_UNKNOWN,
 * "storage unavailable"), the process stays up, and delivery resumes when Redis returns. Also the
 * Redis-backed rate limiter: limits shared across instances, memory insurance while Redis is down.
 * Real time (ioredis reconnects on real timers), on a private server this file may stop and start.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DelayedEventScheduler, ErrorMapper, isDelayedEventsError, type DueDelayedEvent } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { createRedisRateLimiter, createRedisStore } from '../../src/redis/index.js';
import { ALICE, BOB, CAROL, noLimits, ROOM } from '../helpers/fixtures.js';
import { startPrivateRedis, type PrivateRedis } from '../setup/redis-server.js';

/** A guarded action that does nothing: what is tested is the charge. */
const done = async (): Promise<void> => undefined;

let server: PrivateRedis;
const clients: Redis[] = [];

/** A client as docs/guide/operations.md recommends. */
async function connect(): Promise<Redis> {
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => {});
  clients.push(client);
  await waitFor(() => client.status === 'ready', 5000);
  return client;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  try {
    await work();
    return { error: undefined, ms: performance.now() - start };
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
}

beforeAll(async () => {
  server = await startPrivateRedis({ aof: true });
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server.stop();
  server.dispose();
});

describe('Redis unreachable', () => {
  it('fails fast with 503 M_UNKNOWN, stays up, and delivers once Redis is back', { timeout: 30_000 }, async () => {
    const client = await connect();
    const store = createRedisStore({ client, keyPrefix: 'outage', commandTimeoutMs: 1000 });
    const sent: DueDelayedEvent[] = [];
    const scheduler = new DelayedEventScheduler({
      store,
      rateLimiter: createRedisRateLimiter({ client }),
      sendEvent: (event) => {
        sent.push(event);
      },
      pollIntervalMs: 200,
    });
    await scheduler.start();
    const { delayId } = await scheduler.schedule({ ...ALICE, roomId: ROOM, type: 'm.room.message', content: { body: 'later' }, delayMs: 1200 });

    await server.stop('SIGKILL');
    await waitFor(() => client.status !== 'ready', 5000);

    const attempts: Record<string, () => Promise<unknown>> = {
      schedule: () => scheduler.schedule({ ...ALICE, roomId: ROOM, type: 'm.room.message', content: {}, delayMs: 1000 }),
      restart: () => scheduler.restart(ALICE, delayId),
      cancel: () => scheduler.cancel(ALICE, delayId),
      send: () => scheduler.send(ALICE, delayId),
      list: () => scheduler.list(ALICE),
    };
    const mapper = new ErrorMapper();
    for (const [name, attempt] of Object.entries(attempts)) {
      const { error, ms } = await timed(attempt);
      expect(isDelayedEventsError(error), `${name} should throw a DelayedEventsError`).toBe(true);
      expect(error).toMatchObject({ name: 'StoreUnavailableError', errcode: 'M_UNKNOWN', httpStatus: 503 });
      expect(ms, `${name} must fail fast`).toBeLessThan(500);
      const response = mapper.toResponse(error);
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ errcode: 'M_UNKNOWN' });
      expect(String((response.body as { error: string }).error)).toMatch(/storage unavailable/i);
    }

    // The event falls due while Redis is down; nothing is sent and nothing crashes.
    await sleep(1500);
    expect(sent).toHaveLength(0);

    await server.restart();
    await waitFor(() => client.status === 'ready', 10_000);
    await waitFor(() => sent.length === 1, 10_000);
    expect(sent[0]).toMatchObject({ delayId, content: { body: 'later' } });
    // Scheduling works again.
    await expect(attempts['schedule']!()).resolves.toMatchObject({ delayId: expect.any(String) });
    await scheduler.stop();
    await store.close();
  });

  it('fails fast even with ioredis defaults (offline queue on), instead of queueing', { timeout: 15_000 }, async () => {
    const client = new Redis(server.url, { retryStrategy: () => 100 });
    client.on('error', () => {});
    clients.push(client);
    await waitFor(() => client.status === 'ready', 5000);
    const store = createRedisStore({ client, keyPrefix: 'defaults' });
    await server.stop('SIGKILL');
    await waitFor(() => client.status !== 'ready', 5000);
    const { error, ms } = await timed(() => store.nextDueAtMs());
    expect(error).toMatchObject({ name: 'RedisUnavailableError' });
    expect(ms).toBeLessThan(200);
    await server.restart();
    await waitFor(() => client.status === 'ready', 10_000);
    await expect(store.nextDueAtMs()).resolves.toBeUndefined();
  });

  it('rejects a call to a server that stopped answering after commandTimeoutMs; limits come from memory', { timeout: 15_000 }, async () => {
    const client = await connect();
    const store = createRedisStore({ client, keyPrefix: 'hung', commandTimeoutMs: 300 });
    const limiter = createRedisRateLimiter({ client, timeoutMs: 300, keyPrefix: 'hungrl' });
    const pid = Number((await client.info('server')).match(/process_id:(\d+)/)?.[1]);
    process.kill(pid, 'SIGSTOP');
    try {
      const { error, ms } = await timed(() => store.get('x'));
      expect(error).toMatchObject({ name: 'RedisUnavailableError' });
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(1500);
      // The rate limiter answers from memory after its own timeout instead of stalling the request.
      const limited = await timed(() => limiter.guard('manage', CAROL, done));
      expect(limited.error).toBeUndefined();
      expect(limited.ms).toBeLessThan(1500);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await store.close();
  });
});

describe('restart of the whole fleet', () => {
  it('sends what fell due while everything was down, in chronological order, after Redis restarts from its AOF', { timeout: 20_000 }, async () => {
    const unlimited = noLimits();
    const clock = new ManualClock(1_700_000_000_000);
    const before = await connect();
    const first = new DelayedEventScheduler({ store: createRedisStore({ client: before, keyPrefix: 'fleet' }), clock, rateLimiter: unlimited, sendEvent: () => {} });
    // Scheduled out of order: the schedule is not the send order.
    const delays = [9000, 3000, 7000, 1000, 5000, 8000, 2000, 6000, 4000, 10_000];
    const byDelay = new Map<number, string>();
    for (const delayMs of delays) {
      const { delayId } = await first.schedule({ userId: `@u${delayMs}:example.org`, roomId: '!one:example.org', type: 'm.room.message', content: { delayMs }, delayMs });
      byDelay.set(delayMs, delayId);
    }
    before.disconnect();

    await server.stop('SIGKILL');
    await server.restart();
    clock.advance(60_000); // the fleet was down for a minute

    const after = await connect();
    const sent: DueDelayedEvent[] = [];
    const second = new DelayedEventScheduler({
      store: createRedisStore({ client: after, keyPrefix: 'fleet' }),
      clock,
      rateLimiter: unlimited,
      sendEvent: (event) => {
        sent.push(event);
      },
    });
    await second.start();
    await second.idle();
    expect(sent.map((e) => e.delayId)).toEqual([...delays].sort((a, b) => a - b).map((d) => byDelay.get(d)));
    expect(sent.map((e) => e.sendAtMs)).toEqual([...delays].sort((a, b) => a - b).map((d) => 1_700_000_000_000 + d));
    await second.stop();
    await second.store.close?.();
  });
});

describe('Redis rate limiter', () => {
  it('shares limits between workers and falls back to memory while Redis is down', { timeout: 20_000 }, async () => {
    const [a, b] = [await connect(), await connect()];
    const buckets = { manage: { points: 3, durationMs: 5000 } } as const;
    const one = createRedisRateLimiter({ client: a, buckets, keyPrefix: 'rltest' });
    const two = createRedisRateLimiter({ client: b, buckets, keyPrefix: 'rltest' });
    await one.guard('manage', BOB, done);
    await two.guard('manage', BOB, done);
    await one.guard('manage', BOB, done);
    const { error } = await timed(() => two.guard('manage', BOB, done));
    expect(error).toMatchObject({ name: 'RateLimitedError', errcode: 'M_LIMIT_EXCEEDED', httpStatus: 429 });
    expect((error as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((error as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(5000);

    await server.stop('SIGKILL');
    await waitFor(() => a.status !== 'ready', 5000);
    // The in-memory insurance limiter answers at once, with the same limits (per process).
    const start = performance.now();
    for (let i = 0; i < 3; i++) await one.guard('manage', CAROL, done);
    await expect(one.guard('manage', CAROL, done)).rejects.toMatchObject({ name: 'RateLimitedError' });
    expect(performance.now() - start).toBeLessThan(500);
    await server.restart();
    await waitFor(() => a.status === 'ready', 10_000);
  });
});
