/**
 * The store conformance suite on a real Redis Cluster (3 masters + 3 replicas on 127.0.0.1), through
 * an ioredis `Cluster` client; `reopen` gives a second Cluster client on the same keys, as another
 * process would have.
 */
import { createRedisStore } from '../../src/redis/index.js';
import { describeStoreConformance } from '../../src/testing/conformance.js';
import { deleteByPrefixOnCluster, newClusterClient, useCluster, useClusterClient } from './helpers.js';

const cluster = useCluster();
const client = useClusterClient(cluster);

describeStoreConformance('redis cluster', async ({ keyPrefix }) => {
  const store = createRedisStore({ client: client(), keyPrefix });
  const others: { close(): Promise<void> }[] = [];
  return {
    store,
    reopen: async () => {
      const otherClient = await newClusterClient(cluster().seeds);
      const other = createRedisStore({ client: otherClient, keyPrefix });
      others.push({
        close: async () => {
          await other.close();
          await otherClient.quit();
        },
      });
      return other;
    },
    cleanup: async () => {
      await store.close();
      for (const other of others.splice(0)) await other.close();
      await deleteByPrefixOnCluster(client(), `${keyPrefix}:`);
    },
  };
});
