/**
 * One delivery worker of the Cluster fleet test. The process starts once (tsx start-up is the slow
 * part on a small machine) and then serves runs: on {type:'run', seeds, prefix, roomUrl, leaseMs} it
 * opens an ioredis Cluster client and a DelayedEventScheduler on the Redis store, whose sendEvent
 * POSTs each due event to the test's room (an HTTP endpoint in the test process), and answers
 * {type:'running'}; on {type:'end-run'} it stops them and answers {type:'ended'}. Sends
 * {type:'ready'} once loaded; exits on {type:'stop'} or when the parent goes away.
 */
import { Cluster } from 'ioredis';
import { DelayedEventScheduler, RateLimiter } from '../../../src/index.js';
import { createRedisStore } from '../../../src/redis/index.js';
import { clusterClientOptions } from '../helpers.js';

interface RunMessage {
  readonly type: 'run';
  readonly seeds: { host: string; port: number }[];
  readonly prefix: string;
  readonly roomUrl: string;
  readonly leaseMs: number;
}

const workerId = process.env['WORKER_ID'] ?? String(process.pid);
let current: { end(): Promise<void> } | undefined;

async function startRun(run: RunMessage): Promise<void> {
  const client = new Cluster(run.seeds, clusterClientOptions);
  let lastError = '';
  client.on('error', (error: Error) => {
    if (error.message !== lastError && process.env['MDE_VERBOSE']) console.error(`[worker ${workerId}] redis: ${error.message}`);
    lastError = error.message;
  });
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  const store = createRedisStore({ client, keyPrefix: run.prefix, commandTimeoutMs: 3000 });
  const scheduler = new DelayedEventScheduler({
    store,
    rateLimiter: new RateLimiter({ buckets: { schedule: false, manage: false, send: false, delivery: false } }),
    sendEvent: async (event) => {
      const response = await fetch(run.roomUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ delayId: event.delayId, worker: workerId }),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`room answered ${response.status}`);
    },
    leaseMs: run.leaseMs,
    claimBatchSize: 50,
    pollIntervalMs: 250,
    deliveryRetry: { attempts: 1000, initialBackoffMs: 100, maxBackoffMs: 1000 },
  });
  await scheduler.start();
  current = {
    end: async () => {
      await scheduler.stop().catch(() => {});
      await store.close().catch(() => {});
      client.disconnect();
    },
  };
}

process.on('message', (message: { type?: string }) => {
  void (async () => {
    if (message?.type === 'run') {
      await startRun(message as RunMessage);
      process.send?.({ type: 'running' });
    } else if (message?.type === 'end-run') {
      await current?.end();
      current = undefined;
      process.send?.({ type: 'ended' });
    } else if (message?.type === 'stop') {
      await current?.end();
      process.exit(0);
    }
  })();
});
process.on('disconnect', () => {
  void (current?.end() ?? Promise.resolve()).then(() => process.exit(0));
});
process.send?.({ type: 'ready', workerId });
