/**
 * The one re-armed wake-up timer and the drain loop it starts: claims due events from the store in
 * batches and hands each batch to {@link Delivery}. Internal to the scheduler.
 */
import { ConfigError } from './config-error.js';
import { MAX_TIMER_DELAY_MS, type TimerHandle } from './clock.js';
import type { Delivery } from './delivery.js';
import { newClaimToken } from './ids.js';
import type { ResolvedSchedulerOptions } from './options.js';
import type { ClaimedDelayedEvent, DelayedEventStore } from './store.js';

/** How long to wait before asking a store that failed again, at most, in ms. */
const MAX_STORE_RETRY_MS = 5000;

/** @internal */
export class DeliveryLoop {
  private running = false;
  private timer: TimerHandle | undefined;
  private timerDueAtMs = Number.POSITIVE_INFINITY;
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private unwatch: (() => void) | undefined;
  /** The latest claim of the drain loop: the batch claimed ahead while the current one is sent. */
  private ahead: Promise<ClaimedDelayedEvent[]> | undefined;
  /** Set by `stop({ deadlineMs })` with a store that can release: the loop sends no batch claimed ahead. */
  private releasingAhead = false;

  constructor(
    private readonly options: ResolvedSchedulerOptions,
    private readonly store: DelayedEventStore,
    private readonly delivery: Delivery,
  ) {}

  /** Sends what fell due while stopped (oldest first), then keeps the timer armed. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.releasingAhead = false;
    this.unwatch = this.store.watch?.((dueAtMs) => this.wakeBy(dueAtMs));
    await this.drain();
  }

  /**
   * Clears the timer and waits for the sends in flight (and, without `deadlineMs`, for the batch
   * claimed ahead, which is sent too). With `deadlineMs` and a store that can `release`: the batch
   * claimed ahead is released at once, and when the deadline passes, the sends' signals are aborted,
   * the finalisations of what was sent are stored, and every claim still held is released, so another
   * worker sends those events at once.
   */
  async stop(options: { readonly deadlineMs?: number | undefined } = {}): Promise<void> {
    const deadlineMs = options.deadlineMs;
    if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs) || deadlineMs < 0)) {
      throw new ConfigError('ERR_DE_OPTION_INVALID', `deadlineMs must be a number >= 0 (got ${String(deadlineMs)})`);
    }
    this.running = false;
    this.unwatch?.();
    this.unwatch = undefined;
    this.clearTimer();
    const draining = this.draining;
    const ahead = this.ahead;
    this.ahead = undefined;
    let releasingAhead: Promise<void> | undefined;
    if (options.deadlineMs !== undefined && this.store.release !== undefined) {
      // The drain loop now stops before a batch it claimed ahead, which goes back at once.
      this.releasingAhead = true;
      releasingAhead = ahead?.then((batch) => this.release(batch), () => undefined);
    }
    if (draining !== undefined) {
      if (options.deadlineMs === undefined) await draining;
      else if (!(await this.within(draining, options.deadlineMs))) {
        this.delivery.abortSends(new Error('the delayed-event scheduler is stopping'));
        await this.delivery.finalised();
        await this.release(this.delivery.heldClaims());
      }
    }
    await releasingAhead;
  }

  /** Which state the wake-up timer is in, for `health()`. */
  timerState(): 'armed' | 'idle' | 'draining' | 'stopped' {
    if (!this.running) return 'stopped';
    if (this.draining !== undefined) return 'draining';
    return this.timer === undefined ? 'idle' : 'armed';
  }

  /** Resolves true when `work` finishes within `ms`, false when the time runs out first. */
  private within(work: Promise<void>, ms: number): Promise<boolean> {
    const { clock } = this.options;
    return new Promise((resolve) => {
      const timer = clock.setTimer(() => resolve(false), ms);
      void work.then(() => {
        clock.clearTimer(timer);
        resolve(true);
      });
    });
  }

  /** Gives claims back to the store so another worker sends them at once; a fault leaves them to their lease. */
  private async release(events: readonly ClaimedDelayedEvent[]): Promise<void> {
    if (events.length === 0 || this.store.release === undefined) return;
    const { clock, logger } = this.options;
    try {
      const results = await this.store.release(events, clock.now());
      const released = results.filter((result) => result.ok).length;
      if (released > 0) logger.info?.({ count: released }, 'delayed events: claims released on stop; other workers send them now');
    } catch (error) {
      logger.warn?.({ count: events.length, err: error }, 'delayed events: could not release claims on stop; they are sent after their lease');
    }
  }

  /** Resolves when no delivery run is in progress. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Makes sure the timer fires no later than `dueAtMs` (and, for shared stores, the poll interval). */
  wakeBy(dueAtMs: number | undefined): void {
    if (!this.running) return;
    const nowMs = this.options.clock.now();
    let target = dueAtMs ?? Number.POSITIVE_INFINITY;
    if (this.store.capabilities.sharedAcrossProcesses) target = Math.min(target, nowMs + this.options.pollIntervalMs);
    if (target >= this.timerDueAtMs || target === Number.POSITIVE_INFINITY) return;
    this.clearTimer();
    const delayMs = Math.min(Math.max(0, target - nowMs), MAX_TIMER_DELAY_MS);
    this.timerDueAtMs = nowMs + delayMs;
    this.timer = this.options.clock.setTimer(() => {
      this.timer = undefined;
      this.timerDueAtMs = Number.POSITIVE_INFINITY;
      return this.drain();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerDueAtMs = Number.POSITIVE_INFINITY;
  }

  /** Claims and sends due events until none are left, then re-arms. One run at a time. */
  private drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    const run = this.drainLoop().finally(() => {
      this.draining = undefined;
    });
    this.draining = run;
    return run;
  }

  private claim(): Promise<ClaimedDelayedEvent[]> {
    if (!this.running) return Promise.resolve([]);
    const { clock, claimBatchSize, leaseMs } = this.options;
    const claiming = this.store.claimDue({ nowMs: clock.now(), max: claimBatchSize, leaseMs, claimToken: newClaimToken() });
    // Awaited only after the current batch is sent: marked handled so a fault meanwhile is not an
    // unhandled rejection (the await still sees it).
    claiming.catch(() => undefined);
    this.ahead = claiming;
    return claiming;
  }

  private async drainLoop(): Promise<void> {
    const { clock, logger } = this.options;
    let retryAtMs: number | undefined;
    let finalising: Promise<void> = Promise.resolve();
    do {
      this.drainAgain = false;
      try {
        let claiming = this.claim();
        for (let batch = await claiming; batch.length > 0; batch = await claiming) {
          // Claimed before stop({ deadlineMs }) and not started: stop() releases it.
          if (this.releasingAhead) break;
          // The next batch is claimed while this one is sent, so the store and this process work at the
          // same time. Batches are still sent one after the other, which keeps each room's order.
          claiming = this.claim();
          await this.delivery.sendBatch(batch);
          // This batch's finalisations go to the store now; waiting for the previous batch's keeps at
          // most two batches unfinalised (their leases hold meanwhile).
          const previous = finalising;
          finalising = this.delivery.finalised();
          await previous;
          // Let the host's I/O run between batches: a storm must not freeze HTTP serving. The turns
          // also give the garbage collector its chances (see bench/NOTES.md).
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } catch (error) {
        logger.error?.({ err: error }, 'delayed events: store unavailable while claiming due events; retrying');
        retryAtMs = clock.now() + Math.min(this.options.pollIntervalMs, MAX_STORE_RETRY_MS);
      }
    } while (this.drainAgain && this.running && retryAtMs === undefined);
    await this.delivery.finalised();
    if (!this.running) return;
    let nextDueAtMs: number | undefined;
    try {
      nextDueAtMs = await this.store.nextDueAtMs();
    } catch (error) {
      logger.error?.({ err: error }, 'delayed events: store unavailable; retrying');
      retryAtMs ??= clock.now() + Math.min(this.options.pollIntervalMs, MAX_STORE_RETRY_MS);
    }
    this.wakeBy(retryAtMs === undefined ? nextDueAtMs : Math.min(retryAtMs, nextDueAtMs ?? retryAtMs));
  }
}
