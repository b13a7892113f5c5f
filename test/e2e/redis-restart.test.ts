/**
 * Complement case 7 with a real restart on the Redis store: the first server (HTTP listener,
 * scheduler, Redis connections) is shut down completely and a new one started on the same Redis keys.
 * The example keeps rooms and accounts in memory, so the new server is handed the old rooms (a host's
 * own database would survive a restart the same way); the delayed-event schedule survives in Redis only.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createRedisStore } from '../../src/redis/index.js';
import { complementRoom, DELAY, sleep, startServer, User, waitFor } from './helpers.js';

function redisClient(): Redis {
  const client = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  return client;
}

async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

describe('Complement 7 on Redis: a real server restart', () => {
  it('keeps scheduled state events; overdue ones are sent after start-up', async () => {
    const keyPrefix = `e2e-restart-${randomBytes(4).toString('hex')}`;
    const clientA = redisClient();
    const storeA = createRedisStore({ client: clientA, keyPrefix });
    const first = await startServer({ store: storeA });
    const { user1, roomId } = await complementRoom(first.url);
    const overdue = await user1.putState(roomId, 'com.example.test', 'overdue', { setter: 'overdue' }, `?${DELAY}=800`);
    const later = await user1.putState(roomId, 'com.example.test', 'later', { setter: 'later' }, `?${DELAY}=2500`);
    expect([overdue.status, later.status]).toEqual([200, 200]);
    const dueAt = new Map((await user1.listDelayed()).map((e) => [e['state_key'], (e['running_since'] as number) + (e['delay'] as number)]));

    // Shut everything down.
    await first.close();
    await storeA.close();
    await clientA.quit();
    await sleep(Math.max(0, (dueAt.get('overdue') ?? 0) - Date.now()) + 200); // it falls due while no server runs

    const clientB = redisClient();
    const storeB = createRedisStore({ client: clientB, keyPrefix });
    const second = await startServer({ store: storeB, previous: first.hs });
    try {
      const u1 = new User(second.url, user1.userId, user1.token, user1.deviceId);
      expect(await waitFor(async () => (await u1.getState(roomId, 'com.example.test', 'overdue')).status === 200, 1000)).toBe(true);
      expect((await u1.getState(roomId, 'com.example.test', 'later')).status).toBe(404);
      expect((await u1.listDelayed()).map((e) => e['state_key'])).toEqual(['later']);
      expect(await waitFor(async () => (await u1.getState(roomId, 'com.example.test', 'later')).status === 200, 3000)).toBe(true);
      const events = await u1.messages(roomId);
      const sent = events.filter((e) => e['type'] === 'com.example.test');
      // Each sent exactly once, with its scheduled time as origin_server_ts.
      expect(sent.map((e) => e['state_key'])).toEqual(['overdue', 'later']);
      expect(sent.map((e) => e['origin_server_ts'])).toEqual([dueAt.get('overdue'), dueAt.get('later')]);
    } finally {
      await second.close();
      await storeB.close();
      await deleteKeys(clientB, keyPrefix);
      await clientB.quit();
    }
  });
});
