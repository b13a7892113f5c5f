/**
 * Helpers of the Redis Cluster tests. Each test file starts its own private cluster in `beforeAll`
 * (about 2.5 s) instead of a global setup, so runs that do not include test/cluster pay nothing,
 * and the failover test can kill nodes without disturbing the conformance suite running in parallel.
 */
import { Cluster, type ClusterOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startPrivateCluster, type PrivateCluster } from '../setup/redis-cluster.js';

/** Starts a private cluster for the file (beforeAll) and destroys it afterwards (afterAll). */
export function useCluster(): () => PrivateCluster {
  let cluster: PrivateCluster | undefined;
  beforeAll(async () => {
    cluster = await startPrivateCluster();
    console.log(`[redis cluster] 3 masters + 3 replicas ready in ${cluster.startupMs} ms (ports ${cluster.seeds.map((s) => s.port).join(', ')})`);
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });
  return () => {
    if (cluster === undefined) throw new Error('the Redis Cluster did not start (see the beforeAll error)');
    return cluster;
  };
}

/**
 * Client options for the store on a Cluster: fail fast per node (as docs/guide/operations.md
 * recommends for a single Redis), retry redirections long enough to ride out a failover
 * (`retryDelayOnFailover × maxRedirections` > `cluster-node-timeout` + election), reads on masters.
 */
export const clusterClientOptions: ClusterOptions = {
  scaleReads: 'master',
  enableOfflineQueue: true,
  maxRedirections: 16,
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 200,
  retryDelayOnTryAgain: 100,
  slotsRefreshTimeout: 1000,
  redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 },
};

/** A Cluster client on the seeds; resolves once ready. */
export async function newClusterClient(seeds: PrivateCluster['seeds'], options: ClusterOptions = {}): Promise<Cluster> {
  const client = new Cluster(
    seeds.map((s) => ({ host: s.host, port: s.port })),
    { ...clusterClientOptions, ...options },
  );
  client.on('error', () => {});
  if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  return client;
}

/** A Cluster client on the file's cluster, for the whole file (after `useCluster()`). */
export function useClusterClient(cluster: () => PrivateCluster): () => Cluster {
  let client: Cluster | undefined;
  beforeAll(async () => {
    client = await newClusterClient(cluster().seeds);
  });
  afterAll(async () => {
    await client?.quit();
  });
  return () => {
    if (client === undefined) throw new Error('the Cluster client did not connect (see the beforeAll error)');
    return client;
  };
}

/** Deletes every key under a prefix on every master (SCAN per master + DEL per key, never FLUSHALL). */
export async function deleteByPrefixOnCluster(client: Cluster, prefix: string): Promise<void> {
  for (const node of client.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      // Keys of one SCAN page may live in different slots: delete them one by one via the cluster.
      await Promise.all(keys.map((key) => client.del(key)));
    } while (cursor !== '0');
  }
}
