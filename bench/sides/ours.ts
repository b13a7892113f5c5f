/**
 * This library's sides, built from its real public code: `createMemoryStore()` or
 * `createRedisStore({ client, keyPrefix })` (`createRedisDelayedEvents` when the side asks for the
 * Redis-backed `manage` limit: the pair whose heartbeat is one script call), driven either directly at the store (a "store op": what the
 * store contract costs) or through `DelayedEventScheduler` (what a host calls). Rate-limit buckets are
 * off unless a side asks for the Redis-backed `manage` limit in the path.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import { RateLimiter, type RateLimiterLike } from '../../src/core/rate-limiter.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { createRedisDelayedEvents, createRedisStore } from '../../src/redis/index.js';
import type { DelayedEventStore, NewDelayedEvent } from '../../src/core/store.js';
import type { DueDelayedEvent } from '../../src/core/types.js';
import type { BenchEvent } from '../lib/data.js';
import { permutation, randomIndexes, runLanes } from '../lib/stats.js';
import {
  CAP_PER_USER,
  IDLE_DELAY_MS,
  idleScheduleRequest,
  StormRecorder,
  eventsFor,
  fullGc,
  gcIfExposed,
  keepAlive,
  memoryEvents,
  withStormInstant,
  waitUntil,
} from './common.js';
import { Registry } from 'prom-client';
import { createPrometheusMetrics } from '../../src/prometheus/index.js';
import type { Side, SideFactory, SideSettings } from './types.js';

/** Which store, and whether operations go through the scheduler. */
export interface OursMode {
  readonly store: 'memory' | 'redis';
  readonly via: 'store' | 'scheduler';
  /** Put the Redis-backed `manage` bucket in the path (a limit high enough never to refuse). */
  readonly redisManageLimit?: boolean;
  /** Prometheus metrics on (`createPrometheusMetrics` on a registry of its own). */
  readonly metrics?: boolean;
}

const TXN_TTL_MS = 86_400_000;

/** All buckets off: the throughput scenarios measure the schedule, not the limiter. */
export function limiterOff(): RateLimiter {
  return new RateLimiter({ buckets: { schedule: false, manage: false, send: false, delivery: false } });
}

function toNew(ev: BenchEvent, delayMs: number, txnKey: string | undefined, delayId = ev.delayId): NewDelayedEvent {
  return {
    delayId,
    userId: ev.userId,
    deviceId: ev.deviceId,
    roomId: ev.roomId,
    type: ev.type,
    stateKey: ev.stateKey,
    contentJson: JSON.stringify(ev.content),
    delayMs,
    txnKey,
  };
}

/** Adds events straight to a store, `inFlight` at a time (untimed setup). */
async function fillStore(store: DelayedEventStore, events: readonly BenchEvent[], inFlight: number, delayMs: number, nowMs?: number): Promise<void> {
  await runLanes(events.length, inFlight, async (i) => {
    const result = await store.add(toNew(events[i]!, delayMs, undefined), {
      nowMs: nowMs ?? Date.now(),
      maxPerUser: CAP_PER_USER,
      txnTtlMs: TXN_TTL_MS,
    });
    if (!result.ok) throw new Error('setup add refused');
  });
}

export function createOursSide(mode: OursMode): SideFactory {
  return async (settings: SideSettings) => {
    const clients: Redis[] = [];
    let runCounter = 0;

    const newClient = (): Redis => {
      if (settings.redisUrl === undefined) throw new Error('Redis side without a Redis URL');
      const client = new Redis(settings.redisUrl, { maxRetriesPerRequest: 20 });
      clients.push(client);
      return client;
    };

    /**
     * A fresh store (Redis: a fresh key prefix on a new client) and its limiter: buckets off, or with
     * the Redis-backed `manage` limit the pair from createRedisDelayedEvents, as the docs set it up
     * (a restart then takes its point inside the store's script).
     */
    const newStore = (): { store: DelayedEventStore; rateLimiter: RateLimiterLike } => {
      if (mode.store === 'memory') return { store: createMemoryStore(), rateLimiter: limiterOff() };
      runCounter++;
      const client = newClient();
      const keyPrefix = `bench${process.pid}x${runCounter}`;
      if (!mode.redisManageLimit) return { store: createRedisStore({ client, keyPrefix }), rateLimiter: limiterOff() };
      return createRedisDelayedEvents({
        client,
        keyPrefix,
        buckets: {
          schedule: false,
          send: false,
          delivery: false,
          // Never refuses in the benchmark, but every restart pays the check.
          manage: { points: 1_000_000_000, durationMs: 60_000 },
        },
      });
    };

    let store: DelayedEventStore | undefined;
    let scheduler: DelayedEventScheduler | undefined;
    let events: BenchEvent[] = [];

    const reset = async (): Promise<void> => {
      await scheduler?.stop();
      scheduler = undefined;
      await store?.close?.();
      store = undefined;
      events = [];
    };

    const open = async (sendEvent: (event: DueDelayedEvent) => unknown = () => {}, start = true): Promise<DelayedEventStore> => {
      await reset();
      const built = newStore();
      store = built.store;
      if (mode.via === 'scheduler' || start) {
        scheduler = new DelayedEventScheduler({
          store,
          sendEvent,
          rateLimiter: built.rateLimiter,
          maxOutstandingPerUser: CAP_PER_USER,
          maxDelayMs: IDLE_DELAY_MS * 2,
          ...(mode.metrics ? { metrics: createPrometheusMetrics({ registry: new Registry() }) } : {}),
        });
      }
      return store;
    };

    const scheduleAll = async (evs: readonly BenchEvent[]): Promise<void> => {
      await runLanes(evs.length, settings.inFlight, (i) => {
        const ev = evs[i]!;
        return scheduler!.schedule(idleScheduleRequest(ev));
      });
    };

    const restartOp = (ev: BenchEvent): Promise<unknown> =>
      mode.via === 'scheduler'
        ? scheduler!.restart({ userId: ev.userId, deviceId: ev.deviceId }, ev.delayId)
        : store!.restart(ev.delayId, ev.userId, Date.now());

    const side: Side = {
      async heartbeatSetup(n) {
        const s = await open(() => {}, false);
        events = eventsFor(n, 'hb');
        await fillStore(s, events, settings.inFlight, IDLE_DELAY_MS);
        await scheduler?.start();
      },
      async heartbeat(ops, seed) {
        const order = randomIndexes(ops, events.length, seed);
        let failed = 0;
        const elapsedMs = await runLanes(ops, settings.inFlight, async (i) => {
          const result = await restartOp(events[order[i]!]!);
          if (result !== undefined && (result as { ok: boolean }).ok === false) failed++;
        });
        return { ops, elapsedMs, failed };
      },
      async schedule(n, run) {
        const s = await open(() => {}, false);
        await scheduler?.start();
        const evs = eventsFor(n, `s${run}`);
        let failed = 0;
        const elapsedMs = await runLanes(n, settings.inFlight, async (i) => {
          const ev = evs[i]!;
          if (mode.via === 'scheduler') {
            await scheduler!.schedule(idleScheduleRequest(ev, `txn${i}`));
          } else {
            const result = await s.add(
              toNew(ev, IDLE_DELAY_MS, `${ev.userId}\u0000${ev.deviceId}\u0000txn${i}`, randomBytes(18).toString('base64url')),
              { nowMs: Date.now(), maxPerUser: CAP_PER_USER, txnTtlMs: TXN_TTL_MS },
            );
            if (!result.ok) failed++;
          }
        });
        await reset();
        return { ops: n, elapsedMs, failed };
      },
      async cancelSetup(n, run) {
        const s = await open(() => {}, false);
        events = eventsFor(n, `c${run}`);
        await fillStore(s, events, settings.inFlight, IDLE_DELAY_MS);
        await scheduler?.start();
      },
      async cancel(seed) {
        const order = permutation(events.length, seed);
        let failed = 0;
        const elapsedMs = await runLanes(order.length, settings.inFlight, async (i) => {
          const ev = events[order[i]!]!;
          if (mode.via === 'scheduler') {
            await scheduler!.cancel({ userId: ev.userId, deviceId: ev.deviceId }, ev.delayId);
          } else {
            const result = await store!.cancel(ev.delayId, ev.userId);
            if (!result.ok) failed++;
          }
        });
        return { ops: order.length, elapsedMs, failed };
      },
      async storm(n, run) {
        const evs = eventsFor(n, `st${run}`);
        return withStormInstant(n, mode.store === 'redis' ? 0.3 : 0.03, async (dueAtMs, setupDone) => {
          const recorder = new StormRecorder(n, dueAtMs);
          const s = await open((event) => recorder.deliver(event.delayId), true);
          const nowMs = Date.now();
          // Every event falls due at exactly `dueAtMs`.
          await fillStore(s, evs, settings.inFlight, dueAtMs - nowMs, nowMs);
          if (!setupDone()) {
            await reset();
            return undefined;
          }
          await scheduler!.start();
          recorder.arm();
          await waitUntil(dueAtMs);
          const result = await recorder.finish(120_000);
          await reset();
          return result;
        });
      },
      async memory(n) {
        await reset();
        const evs = memoryEvents(n);
        keepAlive.events = evs;
        fullGc();
        const before = process.memoryUsage().heapUsed;
        await open(() => {}, true);
        await scheduler!.start();
        await scheduleAll(evs);
        fullGc();
        const after = process.memoryUsage().heapUsed;
        keepAlive.events = undefined;
        return { events: n, heapBytes: after - before, heapBytesPerEvent: (after - before) / n };
      },
      async fill(n) {
        await open(() => {}, true);
        await scheduler!.start();
        await scheduleAll(eventsFor(n, 'fill'));
        return { added: n };
      },
      async release() {
        await reset();
        for (const client of clients.splice(0)) client.disconnect();
        gcIfExposed();
      },
      async close() {
        await reset();
        for (const client of clients) client.disconnect();
      },
    };
    return side;
  };
}
