/**
 * How many pub/sub connections the Redis store opens: one per store (not per process, not per
 * client), on its first `watch()`, closed by `store.close()`. docs/guide/operations.md states this.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { createRedisStore } from '../../src/redis/index.js';
import { redisKeys } from '../../src/stores/redis/keys.js';
import { newClient } from './helpers/redis.js';

const client = newClient();
const probe = newClient();
afterAll(async () => {
  await client.quit();
  await probe.quit();
});

/** Subscribers of each channel, as Redis counts them. */
async function subscribers(...channels: string[]): Promise<number[]> {
  const reply = (await probe.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[];
  return channels.map((_, i) => Number(reply[i * 2 + 1]));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

it('opens one subscriber connection per store on first watch(), even for stores sharing a client and process', async () => {
  let duplicates = 0;
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...args: Parameters<typeof client.duplicate>) => {
    duplicates++;
    return duplicate(...args);
  };
  const a = `subconn-a${process.pid}`;
  const b = `subconn-b${process.pid}`;
  const channels = [redisKeys(a, a).wakeChannel, redisKeys(b, b).wakeChannel];
  const storeA = createRedisStore({ client, keyPrefix: a });
  const storeB = createRedisStore({ client, keyPrefix: b });
  expect(duplicates).toBe(0); // nothing until someone watches
  const stopA1 = storeA.watch!(() => {});
  const stopA2 = storeA.watch!(() => {}); // a second watcher of the same store shares its connection
  const stopB = storeB.watch!(() => {});
  await until(async () => (await subscribers(...channels)).every((n) => n === 1));
  expect(duplicates).toBe(2);
  stopA1();
  stopA2();
  stopB();
  await storeA.close();
  await until(async () => (await subscribers(...channels))[0] === 0);
  expect(await subscribers(...channels)).toEqual([0, 1]);
  await storeB.close();
  await until(async () => (await subscribers(...channels))[1] === 0);
});
