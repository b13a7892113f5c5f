/**
 * Ceiling for a Redis restart: one `EVALSHA` of a script doing exactly one `ZADD` (the due index) and
 * one `HSET` (the event's running-since field), on events stored as the library stores them (a hash per
 * event with the same fields and content, plus a sorted set by due time). Nothing is checked (no
 * ownership, no existence, no notification), so no real store can beat it.
 */
import { Redis } from 'ioredis';
import { randomIndexes, runLanes } from '../lib/stats.js';
import type { BenchEvent } from '../lib/data.js';
import { IDLE_DELAY_MS, eventsFor } from './common.js';
import type { Side, SideFactory } from './types.js';

const RESTART_LUA = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'since', ARGV[3])
return 1
`;

type RawClient = Redis & { rawRestart(due: string, ev: string, score: number, id: string, since: number): Promise<number> };

export const createRawEvalshaSide: SideFactory = async (settings) => {
  if (settings.redisUrl === undefined) throw new Error('raw EVALSHA side without a Redis URL');
  const client = new Redis(settings.redisUrl, { maxRetriesPerRequest: 20 }) as RawClient;
  client.defineCommand('rawRestart', { numberOfKeys: 2, lua: RESTART_LUA });
  const tag = `{rawbench${process.pid}}`;
  const dueKey = `${tag}:due`;
  const evKey = (id: string): string => `${tag}:ev:${id}`;
  let events: BenchEvent[] = [];

  const side: Side = {
    async heartbeatSetup(n) {
      events = eventsFor(n, 'hb');
      const now = Date.now();
      for (let i = 0; i < events.length; i += 1000) {
        const pipe = client.pipeline();
        for (const ev of events.slice(i, i + 1000)) {
          pipe.hset(evKey(ev.delayId), {
            user: ev.userId,
            device: ev.deviceId,
            room: ev.roomId,
            type: ev.type,
            skey: ev.stateKey,
            content: ev.contentJson,
            delay: IDLE_DELAY_MS,
            since: now,
          });
          pipe.zadd(dueKey, now + IDLE_DELAY_MS, ev.delayId);
        }
        await pipe.exec();
      }
    },
    async heartbeat(ops, seed) {
      const order = randomIndexes(ops, events.length, seed);
      const elapsedMs = await runLanes(ops, settings.inFlight, (i) => {
        const ev = events[order[i]!]!;
        const now = Date.now();
        return client.rawRestart(dueKey, evKey(ev.delayId), now + IDLE_DELAY_MS, ev.delayId, now);
      });
      return { ops, elapsedMs, failed: 0 };
    },
    async release() {
      events = [];
    },
    async close() {
      client.disconnect();
    },
  };
  return side;
};
