/**
 * Redis memory per outstanding event: `used_memory` before and after adding 10,000 events with about
 * 200 bytes of content, on a private server so other tests add no noise. The figures are printed and
 * recorded in docs/guide/operations.md. The same for finalised events retained for lookup (the
 * `msc4140-2026` profile), recorded there and in docs/guide/spec-profiles.md.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/redis/index.js';
import type { FinalisedDelayedEvent, NewDelayedEvent } from '../../src/core/store.js';
import { startPrivateRedis, type PrivateRedis } from '../setup/redis-server.js';
import { deleteByPrefix } from './helpers/redis.js';

const N = 10_000;
const NOW = 1_700_000_000_000;
let server: PrivateRedis;
let client: Redis;

beforeAll(async () => {
  server = await startPrivateRedis();
  client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
});
afterAll(async () => {
  await client.quit();
  await server.stop();
  server.dispose();
});

async function usedMemory(): Promise<number> {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** About 200 bytes of JSON, different per event. */
function content(i: number): string {
  const json = JSON.stringify({ msgtype: 'm.text', body: `Message number ${i}: `.padEnd(150, 'x'), 'm.mentions': {} });
  return json;
}

async function measure(prefix: string, make: (i: number) => NewDelayedEvent): Promise<number> {
  const store = createRedisStore({ client, keyPrefix: prefix });
  const before = await usedMemory();
  for (let i = 0; i < N; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 500); j++) {
      batch.push(store.add(make(j), { nowMs: NOW, maxPerUser: 1_000_000, txnTtlMs: 86_400_000 }));
    }
    await Promise.all(batch);
  }
  const after = await usedMemory();
  await deleteByPrefix(client, `${prefix}:`);
  await store.close();
  return (after - before) / N;
}

const id = (i: number): string => `${'x'.repeat(16)}${String(i).padStart(6, '0')}`; // 22 chars like newDelayId()

describe('Redis memory per outstanding event', () => {
  it('stays under 1 KiB with ~200-byte content', async () => {
    const base = (i: number): NewDelayedEvent => ({
      delayId: id(i),
      userId: `@user${i % 100}:example.org`,
      deviceId: 'ABCDEFGHIJ',
      roomId: `!room${i % 50}abcdefghijklmno:example.org`,
      type: 'm.room.message',
      stateKey: undefined,
      contentJson: content(i),
      delayMs: 60_000 + (i % 1000),
      txnKey: undefined,
    });
    expect(content(1).length).toBeGreaterThanOrEqual(190);
    expect(content(1).length).toBeLessThanOrEqual(210);

    const messages = await measure('memA', base);
    const withTxn = await measure('memB', (i) => ({ ...base(i), txnKey: `@user${i % 100}:example.org\u0000ABCDEFGHIJ\u0000m${i}.${i * 7}` }));
    const rtc = await measure('memC', (i) => ({
      ...base(i),
      userId: `@user${i}:example.org`,
      type: 'org.matrix.msc3401.call.member',
      stateKey: `_@user${i}:example.org_ABCDEFGHIJ`,
      contentJson: content(i),
    }));
    // For scale: BullMQ's delayed job carrying the same data.
    const bullConnection = client.duplicate();
    const queue = new Queue('memq', { connection: bullConnection, prefix: 'bullmem' });
    const beforeBull = await usedMemory();
    for (let i = 0; i < N; i += 500) {
      const jobs = [];
      for (let j = i; j < Math.min(N, i + 500); j++) {
        const e = base(j);
        jobs.push({ name: 'send', data: { userId: e.userId, deviceId: e.deviceId, roomId: e.roomId, type: e.type, content: e.contentJson }, opts: { delay: e.delayMs, jobId: e.delayId } });
      }
      await queue.addBulk(jobs);
    }
    const bull = ((await usedMemory()) - beforeBull) / N;
    await queue.obliterate({ force: true });
    await queue.close();
    await bullConnection.quit();
    console.log(
      `bytes per delayed job, BullMQ: ${bull.toFixed(0)}; ours (messages) / BullMQ = ${(messages / bull).toFixed(2)}`,
    );
    console.log(
      `bytes per outstanding event (N=${N}, ~200-byte content): messages ${messages.toFixed(0)}, ` +
        `with txn record ${withTxn.toFixed(0)}, MatrixRTC-style (one user + one state key each) ${rtc.toFixed(0)}`,
    );
    expect(messages).toBeLessThan(1024);
    expect(withTxn).toBeLessThan(1024);
    expect(rtc).toBeLessThan(1024);
  });
});

describe('Redis memory per retained finalised event', () => {
  /** Exactly 208 bytes of JSON (the memory store's figure in docs/guide/spec-profiles.md uses the same). */
  const content = (i: number): string => {
    const json = JSON.stringify({ 'm.call.intent': 'audio', focus_active: { type: 'livekit' }, n: i, pad: '' });
    return json.replace('"pad":""', `"pad":"${'x'.repeat(208 - Buffer.byteLength(json))}"`);
  };
  const record = (i: number, users: number): FinalisedDelayedEvent => {
    const userId = `@user${i % users}:example.org`;
    return {
      delayId: id(i),
      userId,
      roomId: `!room${i % 50}abcdefghijklmno:example.org`,
      type: 'org.matrix.msc3401.call.member',
      stateKey: `_${userId}_ABCDEFGHIJ_m.call`,
      contentJson: content(i),
      delayMs: 10_000,
      runningSinceMs: NOW - 10_000,
      outcome: 'sent',
      finalisedAtMs: NOW + i,
      eventId: `$${'e'.repeat(36)}${String(i).padStart(6, '0')}`, // 44 characters, as room v4+ event IDs
      error: undefined,
    };
  };

  async function measureRetained(prefix: string, users: number): Promise<number> {
    const store = createRedisStore({ client, keyPrefix: prefix });
    const before = await usedMemory();
    const policy = { nowMs: NOW + N, maxAgeMs: 7 * 86_400_000, maxPerUser: 1000 };
    for (let i = 0; i < N; i += 500) {
      await store.retain(Array.from({ length: Math.min(500, N - i) }, (_, j) => record(i + j, users)), policy);
    }
    const after = await usedMemory();
    await deleteByPrefix(client, `${prefix}:`);
    await store.close();
    return (after - before) / N;
  }

  it('stays under 1 KiB per record with a 208-byte content (about 1 KiB for one record per user)', async () => {
    expect(Buffer.byteLength(content(1))).toBe(208);
    const perUser100 = await measureRetained('retA', 100);
    const perUser10 = await measureRetained('retB', 1000);
    const perUser1 = await measureRetained('retC', N);
    console.log(
      `bytes per retained finalised event (N=${N}, 208-byte content): 100 per user ${perUser100.toFixed(0)}, ` +
        `10 per user ${perUser10.toFixed(0)}, 1 per user ${perUser1.toFixed(0)}`,
    );
    expect(perUser100).toBeLessThan(1024);
    expect(perUser10).toBeLessThan(1024);
    // One record per user pays for two keys (with their expiry) per record.
    expect(perUser1).toBeLessThan(1100);
  });
});
