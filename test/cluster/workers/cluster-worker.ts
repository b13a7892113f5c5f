/**
 * One delivery worker of the Cluster fleet test: a DelayedEventScheduler on the Redis store over an
 * ioredis Cluster client, whose sendEvent POSTs each due event to the test's room (an HTTP endpoint
 * in the test process). Configured by environment: MDE_SEEDS (JSON list of {host, port}),
 * MDE_PREFIX, WORKER_ID, ROOM_URL, LEASE_MS. Sends {type:'ready'} over IPC once started; stops on
 * {type:'stop'} or when the parent goes away.
 */
import { Cluster } from 'ioredis';
import { DelayedEventScheduler, RateLimiter } from '../../../src/index.js';
import { createRedisStore } from '../../../src/stores/redis/index.js';
import { clusterClientOptions } from '../helpers.js';

const seeds = JSON.parse(process.env['MDE_SEEDS'] ?? '[]') as { host: string; port: number }[];
const prefix = process.env['MDE_PREFIX']!;
const workerId = process.env['WORKER_ID'] ?? String(process.pid);
const roomUrl = process.env['ROOM_URL']!;
const leaseMs = Number(process.env['LEASE_MS'] ?? 2000);

const client = new Cluster(seeds, clusterClientOptions);
let lastError = '';
client.on('error', (error: Error) => {
  if (error.message !== lastError && process.env['MDE_VERBOSE']) console.error(`[worker ${workerId}] redis: ${error.message}`);
  lastError = error.message;
});
await new Promise<void>((resolve) => client.once('ready', () => resolve()));

const store = createRedisStore({ client, keyPrefix: prefix, commandTimeoutMs: 3000 });
const scheduler = new DelayedEventScheduler({
  store,
  rateLimiter: new RateLimiter({ buckets: { schedule: false, manage: false, send: false, delivery: false } }),
  sendEvent: async (event) => {
    const response = await fetch(roomUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ delayId: event.delayId, worker: workerId, sendAtMs: event.sendAtMs, atMs: Date.now() }),
    });
    if (!response.ok) throw new Error(`room answered ${response.status}`);
    await response.arrayBuffer();
  },
  leaseMs,
  claimBatchSize: 50,
  pollIntervalMs: 250,
  deliveryRetry: { attempts: 1000, initialBackoffMs: 100, maxBackoffMs: 1000 },
});
await scheduler.start();
process.send?.({ type: 'ready', workerId });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await scheduler.stop().catch(() => {});
  await store.close().catch(() => {});
  client.disconnect();
  process.exit(0);
}
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'stop') void stop();
});
process.on('disconnect', () => void stop());
