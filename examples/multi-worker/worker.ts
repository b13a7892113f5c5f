/**
 * One delivery worker: a DelayedEventScheduler on the shared Redis store whose sendEvent appends to
 * the shared room (a Redis stream, deduplicated by delayId). Run several; each due event is sent by
 * one of them. Configured by environment:
 *   REDIS_URL   (default redis://127.0.0.1:6379)   MDE_PREFIX (key prefix shared by the fleet)
 *   WORKER_ID   (a name for reports)               LEASE_MS   (claim lease; default 5000)
 *   SEND_WORK_MS (simulated host work after each append; default 0)
 * Sends {type:'ready'} over IPC when started (if forked) and stops cleanly on SIGTERM or {type:'stop'}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { DelayedEventScheduler } from '../../src/index.js';
import { createRedisRateLimiter, createRedisStore } from '../../src/redis/index.js';
import { openRoom } from './room.js';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = process.env['MDE_PREFIX'] ?? 'mw';
const workerId = process.env['WORKER_ID'] ?? String(process.pid);
const leaseMs = Number(process.env['LEASE_MS'] ?? 5000);
const sendWorkMs = Number(process.env['SEND_WORK_MS'] ?? 0);

// Fail fast while Redis is down instead of queueing commands (see docs/guide/operations.md).
const client = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
let lastError = '';
client.on('error', (error: Error) => {
  if (error.message !== lastError) console.error(`[worker ${workerId}] redis: ${error.message}`);
  lastError = error.message;
});
client.on('ready', () => {
  lastError = '';
});
await new Promise<void>((resolve) => client.once('ready', () => resolve()));

const store = createRedisStore({ client, keyPrefix: prefix, commandTimeoutMs: 2000 });
const room = openRoom(client, `${prefix}-host`);
const scheduler = new DelayedEventScheduler({
  store,
  // Limits shared by the whole fleet; only delivery is limited here (generously).
  rateLimiter: createRedisRateLimiter({
    client,
    keyPrefix: `${prefix}-rl`,
    buckets: { schedule: false, manage: false, send: false, delivery: { points: 1000, durationMs: 10_000 } },
  }),
  sendEvent: async (event) => {
    await room.append(event, workerId, Date.now());
    if (sendWorkMs > 0) await sleep(sendWorkMs);
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
  // Sends in flight get 5 s; then their claims (and the batch claimed ahead) go back to the store, so
  // the other workers send them at once instead of after the lease.
  await scheduler.stop({ deadlineMs: 5000 });
  await store.close();
  client.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'stop') void stop();
});
process.on('disconnect', () => void stop());
