/** Helpers shared by the side implementations. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { makeEvents, type BenchEvent } from '../lib/data.js';
import { sleep, summarise } from '../lib/stats.js';
import type { StormResult } from './types.js';
import type { ScheduleRequest } from '../../src/core/types.js';

/** Delay of events that must not fall due during a throughput run (one hour). */
export const IDLE_DELAY_MS = 3_600_000;

/** The scheduler request for a bench event, idle for an hour (one place for every side that schedules). */
export function idleScheduleRequest(ev: BenchEvent, txnId?: string): ScheduleRequest {
  return {
    userId: ev.userId,
    deviceId: ev.deviceId,
    roomId: ev.roomId,
    type: ev.type,
    stateKey: ev.stateKey,
    content: ev.content,
    delayMs: IDLE_DELAY_MS,
    txnId,
  };
}

/** Cap on outstanding events per user used by every side that checks one. */
export const CAP_PER_USER = 1_000;

/** Runs a full GC when the process has `--expose-gc` (twice, to settle weak references). */
export function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
}

/**
 * Keeps the input events of a memory measurement reachable until after the second heap reading, so
 * only what the side itself retains is counted (otherwise V8 may free the inputs in between).
 */
export const keepAlive: { events: unknown } = { events: undefined };

/** Collects garbage when the process has `--expose-gc` (after a side drops its events). */
export function gcIfExposed(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

let cachedMemoryEvents: BenchEvent[] = [];

/** The memory scenario's input events, made once per process and reused by every run. */
export function memoryEvents(n: number): BenchEvent[] {
  if (cachedMemoryEvents.length !== n) cachedMemoryEvents = makeEvents(n, 'mem');
  return cachedMemoryEvents;
}

/** Events for a run, labelled so runs never share IDs or users. */
export function eventsFor(n: number, label: string): BenchEvent[] {
  return makeEvents(n, label);
}

/**
 * Records deliveries during a storm: lateness against the instant, duplicates, the largest event-loop
 * stall (libuv-timer based, 1 ms resolution), and when the last one arrived.
 */
export class StormRecorder {
  private readonly lateness: number[] = [];
  private readonly seen = new Set<string>();
  private duplicates = 0;
  private lastAt = 0;
  private readonly monitor = monitorEventLoopDelay({ resolution: 1 });
  private resolveDone: (() => void) | undefined;
  private readonly done: Promise<void>;

  /**
   * @param n - Events expected.
   * @param dueAtMs - The instant every event falls due (Unix ms).
   */
  constructor(
    private readonly n: number,
    readonly dueAtMs: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Starts the stall monitor (call after setup, before the instant). */
  arm(): void {
    this.monitor.enable();
  }

  /** One delivery of `id`. */
  deliver(id: string): void {
    const now = Date.now();
    if (this.seen.has(id)) {
      this.duplicates++;
      return;
    }
    this.seen.add(id);
    this.lateness.push(now - this.dueAtMs);
    this.lastAt = now;
    if (this.seen.size === this.n) this.resolveDone?.();
  }

  /** Waits for every event (or `timeoutMs` after the instant) and summarises. */
  async finish(timeoutMs: number): Promise<StormResult> {
    const limit = Math.max(0, this.dueAtMs + timeoutMs - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.done.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), limit))),
    ]);
    clearTimeout(timer);
    // Give a possible duplicate delivery a moment to show up.
    await sleep(50);
    this.monitor.disable();
    const s = summarise(this.lateness);
    return {
      delivered: this.seen.size,
      duplicates: this.duplicates,
      latenessP50Ms: s.p50,
      latenessP99Ms: s.p99,
      latenessMaxMs: s.max,
      drainMs: this.lastAt - this.dueAtMs,
      maxStallMs: this.monitor.max / 1e6,
      timedOut,
    };
  }
}

/** Waits until `atMs` (Unix ms). */
export async function waitUntil(atMs: number): Promise<void> {
  const wait = atMs - Date.now();
  if (wait > 0) await sleep(wait);
}

/**
 * Runs a storm with an instant far enough ahead that setup ends before it. The first attempt allows
 * `1 s + n × perEventMs`; when setup overruns (`attempt` returns undefined after cleaning up), the next
 * attempt allows 1.5× the setup time it measured plus a second, up to three attempts.
 */
export async function withStormInstant<T>(
  n: number,
  perEventMs: number,
  attempt: (dueAtMs: number, setupDone: () => boolean) => Promise<T | undefined>,
): Promise<T> {
  let marginMs = 1_000 + Math.ceil(n * perEventMs);
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const dueAtMs = started + marginMs;
    const result = await attempt(dueAtMs, () => dueAtMs - Date.now() >= 200);
    if (result !== undefined) return result;
    marginMs = 1_000 + Math.ceil((Date.now() - started) * 1.5);
  }
  throw new Error(`storm setup of ${n} events kept overrunning its instant (last margin ${marginMs} ms)`);
}
