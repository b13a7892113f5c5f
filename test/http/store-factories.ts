/** The stores HTTP tests run against: the memory store and the Redis store (on the private test Redis). */
import type { Redis } from 'ioredis';
import type { DelayedEventStore } from '../../src/core/store.js';
import { createRedisStore } from '../../src/redis/index.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { deleteByPrefix, newClient } from '../integration/helpers/redis.js';

type ClosableStore = DelayedEventStore & { close?(): Promise<void> };

export interface StoreFactories {
  /** `[name, create]` pairs for `describe.each`; each call gives a fresh, empty store. */
  readonly list: [string, () => Promise<ClosableStore>][];
  /** Releases what the factories made: Redis keys, stores and the client. */
  close(): Promise<void>;
}

let counter = 0;

export function storeFactories(): StoreFactories {
  let client: Redis | undefined;
  const prefixes: string[] = [];
  const stores: ClosableStore[] = [];
  const redis = async (): Promise<ClosableStore> => {
    client ??= newClient();
    // A fresh prefix per store, so every test starts empty and tests never see each other's keys.
    const keyPrefix = `http${process.pid}x${++counter}`;
    prefixes.push(keyPrefix);
    const store = createRedisStore({ client, keyPrefix });
    stores.push(store);
    return store;
  };
  return {
    list: [
      ['memory', async () => createMemoryStore()],
      ['redis', redis],
    ],
    async close() {
      if (client === undefined) return;
      for (const store of stores.splice(0)) await store.close?.();
      for (const prefix of prefixes.splice(0)) await deleteByPrefix(client, `${prefix}:`);
      await client.quit();
      client = undefined;
    },
  };
}
