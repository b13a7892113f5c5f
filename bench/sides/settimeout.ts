/**
 * Baseline: one `setTimeout` per event, the way a host would hand-roll it. Each event record keeps the
 * same data the library's memory store keeps (IDs, room, type, state key, serialised content, delay,
 * running-since), in a `Map` by ID, plus a per-user count for the cap check and a transaction map
 * where the scenario asks for one. Restart is `timer.refresh()` (the same delay again, from now),
 * cancel is `clearTimeout`.
 */
import { randomBytes } from 'node:crypto';
import type { BenchEvent } from '../lib/data.js';
import { randomIndexes, permutation, runLanes } from '../lib/stats.js';
import {
  CAP_PER_USER,
  IDLE_DELAY_MS,
  StormRecorder,
  eventsFor,
  fullGc,
  gcIfExposed,
  keepAlive,
  memoryEvents,
  withStormInstant,
  waitUntil,
} from './common.js';
import type { Side, SideFactory } from './types.js';

interface Rec {
  readonly delayId: string;
  readonly userId: string;
  readonly deviceId: string | undefined;
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string | undefined;
  readonly contentJson: string;
  readonly delayMs: number;
  runningSinceMs: number;
  timer: NodeJS.Timeout | undefined;
}

/** The hand-rolled registry. */
class TimerRegistry {
  readonly byId = new Map<string, Rec>();
  readonly perUser = new Map<string, number>();
  readonly txns = new Map<string, string>();

  constructor(private readonly onFire: (rec: Rec) => unknown) {}

  private readonly fire = (rec: Rec): void => {
    this.remove(rec);
    void this.onFire(rec);
  };

  schedule(ev: BenchEvent, delayMs: number, txnId: string | undefined): string | undefined {
    const txnKey = txnId === undefined ? undefined : `${ev.userId}|${ev.deviceId}|${txnId}`;
    if (txnKey !== undefined) {
      const seen = this.txns.get(txnKey);
      if (seen !== undefined) return seen;
    }
    const count = this.perUser.get(ev.userId) ?? 0;
    if (count >= CAP_PER_USER) return undefined;
    const delayId = randomBytes(18).toString('base64url');
    const rec: Rec = {
      delayId,
      userId: ev.userId,
      deviceId: ev.deviceId,
      roomId: ev.roomId,
      type: ev.type,
      stateKey: ev.stateKey,
      contentJson: JSON.stringify(ev.content),
      delayMs,
      runningSinceMs: Date.now(),
      timer: undefined,
    };
    rec.timer = setTimeout(this.fire, delayMs, rec);
    this.byId.set(delayId, rec);
    this.perUser.set(ev.userId, count + 1);
    if (txnKey !== undefined) this.txns.set(txnKey, delayId);
    return delayId;
  }

  restart(delayId: string, userId: string): boolean {
    const rec = this.byId.get(delayId);
    if (rec === undefined || rec.userId !== userId) return false;
    rec.runningSinceMs = Date.now();
    rec.timer?.refresh();
    return true;
  }

  cancel(delayId: string, userId: string): boolean {
    const rec = this.byId.get(delayId);
    if (rec === undefined || rec.userId !== userId) return false;
    clearTimeout(rec.timer);
    this.remove(rec);
    return true;
  }

  private remove(rec: Rec): void {
    this.byId.delete(rec.delayId);
    const count = (this.perUser.get(rec.userId) ?? 1) - 1;
    if (count === 0) this.perUser.delete(rec.userId);
    else this.perUser.set(rec.userId, count);
  }

  clear(): void {
    for (const rec of this.byId.values()) clearTimeout(rec.timer);
    this.byId.clear();
    this.perUser.clear();
    this.txns.clear();
  }
}

const noopSend = async (_rec: Rec): Promise<void> => {};

export const createSetTimeoutSide: SideFactory = async (settings) => {
  let registry = new TimerRegistry(noopSend);
  let handles: Array<{ id: string; userId: string }> = [];

  const fillIdle = (n: number, label: string): void => {
    registry.clear();
    registry = new TimerRegistry(noopSend);
    const events = eventsFor(n, label);
    handles = events.map((ev) => ({ id: registry.schedule(ev, IDLE_DELAY_MS, undefined)!, userId: ev.userId }));
  };

  const side: Side = {
    async heartbeatSetup(n) {
      fillIdle(n, 'hb');
    },
    async heartbeat(ops, seed) {
      const order = randomIndexes(ops, handles.length, seed);
      let failed = 0;
      const elapsedMs = await runLanes(ops, settings.inFlight, (i) => {
        const h = handles[order[i]!]!;
        if (!registry.restart(h.id, h.userId)) failed++;
      });
      return { ops, elapsedMs, failed };
    },
    async schedule(n, run) {
      registry.clear();
      registry = new TimerRegistry(noopSend);
      const events = eventsFor(n, `s${run}`);
      let failed = 0;
      const elapsedMs = await runLanes(n, settings.inFlight, (i) => {
        const ev = events[i]!;
        if (registry.schedule(ev, IDLE_DELAY_MS, `txn${i}`) === undefined) failed++;
      });
      registry.clear();
      return { ops: n, elapsedMs, failed };
    },
    async cancelSetup(n, run) {
      fillIdle(n, `c${run}`);
    },
    async cancel(seed) {
      const order = permutation(handles.length, seed);
      let failed = 0;
      const elapsedMs = await runLanes(order.length, settings.inFlight, (i) => {
        const h = handles[order[i]!]!;
        if (!registry.cancel(h.id, h.userId)) failed++;
      });
      return { ops: order.length, elapsedMs, failed };
    },
    async storm(n, run) {
      registry.clear();
      const events = eventsFor(n, `st${run}`);
      return withStormInstant(n, 0.02, async (dueAtMs, setupDone) => {
        const recorder = new StormRecorder(n, dueAtMs);
        registry = new TimerRegistry(async (rec) => {
          recorder.deliver(rec.delayId);
          await noopSend(rec);
        });
        for (const ev of events) registry.schedule(ev, Math.max(0, dueAtMs - Date.now()), undefined);
        if (!setupDone()) {
          registry.clear();
          return undefined;
        }
        recorder.arm();
        await waitUntil(dueAtMs);
        return recorder.finish(120_000);
      });
    },
    async memory(n) {
      registry.clear();
      handles = [];
      const events = memoryEvents(n);
      keepAlive.events = events;
      fullGc();
      const before = process.memoryUsage().heapUsed;
      registry = new TimerRegistry(noopSend);
      for (const ev of events) registry.schedule(ev, IDLE_DELAY_MS, undefined);
      fullGc();
      const after = process.memoryUsage().heapUsed;
      keepAlive.events = undefined;
      if (registry.byId.size !== n) throw new Error(`expected ${n} timers, have ${registry.byId.size}`);
      return { events: n, heapBytes: after - before, heapBytesPerEvent: (after - before) / n };
    },
    async release() {
      registry.clear();
      handles = [];
      gcIfExposed();
    },
    async close() {
      registry.clear();
    },
  };
  return side;
};
