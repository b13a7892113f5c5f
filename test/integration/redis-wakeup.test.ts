/**
 * Lateness must not depend on which worker accepted the schedule: a worker that only delivers hears
 * of a new earliest event from another worker through pub/sub, long before its poll interval.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { DelayedEventScheduler, type DueDelayedEvent } from '../../src/index.js';
import { createRedisStore } from '../../src/redis/index.js';
import { redisKeys } from '../../src/stores/redis/keys.js';
import { ALICE, noLimits, ROOM } from '../helpers/fixtures.js';
import { deleteByPrefix, newClient } from './helpers/redis.js';

const accepting = newClient();
const delivering = newClient();
const prefix = `wake${process.pid}`;
afterAll(async () => {
  await deleteByPrefix(accepting, `${prefix}:`);
  await accepting.quit();
  await delivering.quit();
});

it('delivers an event accepted by another worker on time, not at the next poll', { timeout: 20_000 }, async () => {
  const unlimited = noLimits();
  const sent: { event: DueDelayedEvent; atMs: number }[] = [];
  const deliveryStore = createRedisStore({ client: delivering, keyPrefix: prefix });
  const deliverer = new DelayedEventScheduler({
    store: deliveryStore,
    rateLimiter: unlimited,
    pollIntervalMs: 60_000, // polling alone would be a minute late
    sendEvent: (event) => {
      sent.push({ event, atMs: Date.now() });
    },
  });
  await deliverer.start();
  // Wait until the deliverer's subscription is live (same connection as this probe's).
  let heard = false;
  const stopProbe = deliveryStore.watch(() => {
    heard = true;
  });
  while (!heard) {
    await accepting.publish(redisKeys(prefix, prefix).wakeChannel, String(Date.now() + 3_600_000));
    await sleep(10);
  }
  stopProbe();

  const acceptor = new DelayedEventScheduler({ store: createRedisStore({ client: accepting, keyPrefix: prefix }), rateLimiter: unlimited, sendEvent: () => {} });
  const lateness: number[] = [];
  for (const delayMs of [300, 150]) {
    const { delayId } = await acceptor.schedule({ ...ALICE, roomId: ROOM, type: 'm.room.message', content: {}, delayMs });
    const deadline = Date.now() + 5000;
    while (!sent.some((s) => s.event.delayId === delayId) && Date.now() < deadline) await sleep(5);
    const delivery = sent.find((s) => s.event.delayId === delayId);
    expect(delivery, `event with delay ${delayMs} ms was not delivered`).toBeDefined();
    lateness.push(delivery!.atMs - delivery!.event.sendAtMs);
  }
  console.log(`[wake-up] lateness of events accepted by another worker: ${lateness.join(' ms, ')} ms`);
  for (const late of lateness) expect(late).toBeLessThan(1000);
  await deliverer.stop();
  await deliveryStore.close();
});
