/** Every side the benchmark can run, by name. */
import { createBullmqSide } from './bullmq.js';
import { createOursSide } from './ours.js';
import { createRawEvalshaSide } from './raw-evalsha.js';
import { createSetTimeoutSide } from './settimeout.js';
import type { SideFactory } from './types.js';

/** How a side is shown and built. */
export interface SideInfo {
  readonly label: string;
  readonly ours: boolean;
  readonly factory: SideFactory;
}

export const SIDES = {
  'redis-store': { label: 'ours: RedisStore (store op)', ours: true, factory: createOursSide({ store: 'redis', via: 'store' }) },
  'redis-scheduler': { label: 'ours: scheduler + RedisStore', ours: true, factory: createOursSide({ store: 'redis', via: 'scheduler' }) },
  'redis-scheduler-limit': {
    label: 'ours: scheduler + RedisStore + Redis manage limit',
    ours: true,
    factory: createOursSide({ store: 'redis', via: 'scheduler', redisManageLimit: true }),
  },
  bullmq: { label: 'BullMQ 6', ours: false, factory: createBullmqSide },
  'raw-evalsha': { label: 'raw EVALSHA ceiling (ZADD+HSET)', ours: false, factory: createRawEvalshaSide },
  'memory-store': { label: 'ours: MemoryStore (store op)', ours: true, factory: createOursSide({ store: 'memory', via: 'store' }) },
  'memory-scheduler': { label: 'ours: scheduler + MemoryStore', ours: true, factory: createOursSide({ store: 'memory', via: 'scheduler' }) },
  'memory-scheduler-metrics': {
    label: 'ours: scheduler + MemoryStore, Prometheus metrics on',
    ours: true,
    factory: createOursSide({ store: 'memory', via: 'scheduler', metrics: true }),
  },
  settimeout: { label: 'setTimeout per event', ours: false, factory: createSetTimeoutSide },
} satisfies Record<string, SideInfo>;

export type SideName = keyof typeof SIDES;
