/** Helpers for integration tests against the private Redis from the global setup. */
import { Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';

/** The Redis URL provided by test/setup/redis-global-setup.ts. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A client with the settings docs/guide/operations.md recommends. */
export function newClient(url = redisUrl(), options: RedisOptions = {}): Redis {
  const client = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 1, ...options });
  client.on('error', () => {});
  return client;
}

/** Deletes every key under a prefix (SCAN + DEL, never FLUSHDB). */
export async function deleteByPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** Every key under a prefix. */
export async function keysByPrefix(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}
