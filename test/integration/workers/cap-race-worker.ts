/**
 * Child process for the cross-process cap race: on {type:'go'} it fires `count` concurrent schedules
 * for one user and reports how many were admitted and how many hit the cap.
 */
import { Redis } from 'ioredis';
import { DelayedEventScheduler, isDelayedEventsError } from '../../../src/index.js';
import { createRedisStore } from '../../../src/redis/index.js';
import { ALICE, noLimits, ROOM } from '../../helpers/fixtures.js';

const client = new Redis(process.env['REDIS_URL']!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
client.on('error', () => {});
await new Promise<void>((resolve) => client.once('ready', () => resolve()));
const store = createRedisStore({ client, keyPrefix: process.env['MDE_PREFIX']! });
const scheduler = new DelayedEventScheduler({
  store,
  sendEvent: () => {},
  maxOutstandingPerUser: Number(process.env['CAP']),
  rateLimiter: noLimits(),
});
process.send?.({ type: 'ready' });
process.on('message', (message: { type: string; count: number }) => {
  if (message.type !== 'go') return;
  void (async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: message.count }, (_, i) =>
        scheduler.schedule({ ...ALICE, roomId: ROOM, type: 'm.room.message', content: { i }, delayMs: 60_000 }),
      ),
    );
    const admitted = outcomes.filter((o) => o.status === 'fulfilled').length;
    const capped = outcomes.filter(
      (o) => o.status === 'rejected' && isDelayedEventsError(o.reason) && o.reason.errcode === 'M_MAX_DELAYED_EVENTS_EXCEEDED',
    ).length;
    process.send?.({ type: 'result', admitted, capped, other: outcomes.length - admitted - capped });
    await store.close();
    client.disconnect();
    process.exit(0);
  })();
});
