/**
 * One worker of the fleet scenario: a `DelayedEventScheduler` on a Redis store shared with the other
 * workers. Every delivery is reported to the parent (delay ID, lateness, time) in batches.
 */
import { Redis } from 'ioredis';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import { createRedisDelayedEvents } from '../../src/redis/index.js';
import { fromParent, toParent } from '../lib/child.js';
import { CAP_PER_USER } from '../sides/common.js';

/** One delivery: delay ID, lateness (ms), delivery time (Unix ms). */
export type Delivery = [string, number, number];

async function main(): Promise<void> {
  const [redisUrl, keyPrefix] = process.argv.slice(2) as [string, string];
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 20 });
  // The Redis side as the docs set it up (rate limits off: the fleet measures delivery).
  const { store, rateLimiter } = createRedisDelayedEvents({
    client,
    keyPrefix,
    buckets: { schedule: false, manage: false, send: false, delivery: false },
  });
  let batch: Delivery[] = [];
  const scheduler = new DelayedEventScheduler({
    store,
    rateLimiter,
    maxOutstandingPerUser: CAP_PER_USER,
    sendEvent: (event) => {
      const now = Date.now();
      batch.push([event.delayId, now - event.sendAtMs, now]);
    },
  });
  await scheduler.start();
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const out = batch;
    batch = [];
    await toParent({ deliveries: out });
  };
  const timer = setInterval(() => void flush(), 100);
  await toParent({ ready: true });
  await fromParent<'stop'>();
  await scheduler.stop();
  clearInterval(timer);
  await flush();
  await store.close?.();
  client.disconnect();
  await toParent({ stopped: true });
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
