import { afterAll } from 'vitest';
import { createRedisStore } from '../../src/redis/index.js';
import { describeStoreConformance } from '../../src/testing/conformance.js';
import { deleteByPrefix, newClient } from './helpers/redis.js';

const client = newClient();
afterAll(() => client.quit());

describeStoreConformance('redis', async ({ keyPrefix }) => {
  const store = createRedisStore({ client, keyPrefix });
  const others: { close(): Promise<void> }[] = [];
  return {
    store,
    reopen: async () => {
      // Another process would have its own connection.
      const otherClient = newClient();
      const other = createRedisStore({ client: otherClient, keyPrefix });
      others.push({ close: async () => { await other.close(); await otherClient.quit(); } });
      return other;
    },
    cleanup: async () => {
      await store.close();
      for (const other of others.splice(0)) await other.close();
      await deleteByPrefix(client, `${keyPrefix}:`);
    },
  };
});
