import type { Clock, TimerHandle } from '../core/clock.js';

interface PendingTimer {
  readonly id: number;
  readonly dueAtMs: number;
  readonly callback: () => unknown;
}

/** Lets pending promise callbacks and `setImmediate` work run before the next timer fires. */
function flushMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A {@link Clock} that moves only when told to, for deterministic tests of anything time-dependent.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(1_000_000);
 * const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), clock, sendEvent });
 * await scheduler.start();
 * await scheduler.schedule({ ...event, delayMs: 5000 });
 * await clock.advanceAsync(4999); // nothing sent yet
 * await clock.advanceAsync(1);    // exactly one send
 * ```
 */
export class ManualClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, PendingTimer>();

  /** @param startMs - The initial time, Unix ms. */
  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  /** Current manual time, Unix ms. */
  now(): number {
    return this.nowMs;
  }

  /** Registers a timer that fires when the clock is advanced past `now() + delayMs`. */
  setTimer(callback: () => unknown, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, dueAtMs: this.nowMs + Math.max(0, delayMs), callback });
    return id;
  }

  /** Cancels a pending timer. */
  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order without waiting for their promises. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (let timer = this.nextDue(target); timer; timer = this.nextDue(target)) {
      this.timers.delete(timer.id);
      this.nowMs = Math.max(this.nowMs, timer.dueAtMs);
      void timer.callback();
    }
    this.nowMs = target;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; after each, awaits the promise the timer
   * callback returned (if any) and lets queued callbacks run, so work a timer starts is finished before
   * the next timer fires or this resolves.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await flushMacrotask();
    for (let timer = this.nextDue(target); timer; timer = this.nextDue(target)) {
      this.timers.delete(timer.id);
      this.nowMs = Math.max(this.nowMs, timer.dueAtMs);
      await timer.callback();
      await flushMacrotask();
    }
    this.nowMs = target;
    await flushMacrotask();
  }

  /** Sets the time directly (it may move backwards, to test clock skew); fires nothing. */
  set(nowMs: number): void {
    this.nowMs = nowMs;
  }

  private nextDue(limitMs: number): PendingTimer | undefined {
    let earliest: PendingTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.dueAtMs <= limitMs && (earliest === undefined || timer.dueAtMs < earliest.dueAtMs)) earliest = timer;
    }
    return earliest;
  }
}
