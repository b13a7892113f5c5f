import { MAX_TIMER_DELAY_MS, type TimerHandle } from './clock.js';
import { Delivery, toDueEvent } from './delivery.js';
import { DelayedEventNotFoundError, isDelayedEventsError, RateLimitedError, StoreUnavailableError } from './errors.js';
import { decodeCursor, encodeCursor, newClaimToken, newDelayId } from './ids.js';
import { MaxOutstandingGuard } from './max-outstanding-guard.js';
import { resolveSchedulerOptions, type DelayedEventSchedulerOptions, type ResolvedSchedulerOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';
import type { DelayId, JsonObject, PendingDelayedEvent, Requester } from './types.js';
import { MAX_IDENTIFIER_LENGTH, serialiseContent, validateDelay, validateIdentifier } from './validate.js';
import { createMemoryStore } from '../stores/memory/memory-store.js';
import type { ClaimedDelayedEvent, DelayedEventStore } from '../stores/store.js';

/** What {@link DelayedEventScheduler.schedule} takes. */
export interface ScheduleRequest extends Requester {
  /** Target room. */
  readonly roomId: string;
  /** Event type. */
  readonly type: string;
  /** State key, for a delayed state event (may be the empty string). */
  readonly stateKey?: string | undefined;
  /** Event content, a JSON object. */
  readonly content: JsonObject;
  /** Delay in ms: an integer \>= 0 and at most `maxDelayMs`. */
  readonly delayMs: number;
  /**
   * The client's transaction ID, scoped by the caller to its endpoint (e.g. `"send:" + txnId`). A repeat
   * from the same user and device returns the first delay ID.
   */
  readonly txnId?: string | undefined;
}

/** What {@link DelayedEventScheduler.schedule} returns. */
export interface ScheduleResult {
  /** The delay ID, for `send`, `cancel`, `restart` and listings. */
  readonly delayId: DelayId;
}

/** What {@link DelayedEventScheduler.list} returns. */
export interface DelayedEventsPage {
  /** Pending events in send-time order. */
  readonly events: PendingDelayedEvent[];
  /** Token for the next page (`from`), present while more remain. */
  readonly nextBatch?: string;
}

/** A state event the host has persisted, for {@link DelayedEventScheduler.onStateEvent}. */
export interface PersistedStateEvent {
  /** Room of the state event. */
  readonly roomId: string;
  /** Its type. */
  readonly type: string;
  /** Its state key. */
  readonly stateKey: string;
  /** Its sender. */
  readonly sender: string;
}

/** A delay ID worth asking the store about (anything else is unknown without a round trip). */
function isPlausibleId(delayId: unknown): delayId is DelayId {
  return typeof delayId === 'string' && delayId.length > 0 && delayId.length <= MAX_IDENTIFIER_LENGTH;
}

function asRequester(requester: Requester | string): Requester {
  return typeof requester === 'string' ? { userId: requester } : requester;
}

/**
 * The heart of the library: schedules delayed events, manages them for their owners, and sends each
 * one into its room when due, through one re-armed wake-up timer.
 *
 * @remarks
 * All state lives in the store, so several schedulers in several processes can share one Redis store.
 * Rate limits (`schedule`, `manage`, `send`, `delivery`) and the per-user cap are applied here; every
 * failure is a `DelayedEventsError` that `ErrorMapper` turns into a Matrix error response.
 *
 * @example
 * ```ts
 * const scheduler = new DelayedEventScheduler({
 *   sendEvent: async (event) => homeserver.insertEvent(event), // checks power levels now
 *   maxDelayMs: 24 * 60 * 60 * 1000,
 * });
 * await scheduler.start();
 * const { delayId } = await scheduler.schedule({
 *   userId: '@alice:example.org', deviceId: 'PHONE', roomId: '!call:example.org',
 *   type: 'org.matrix.msc3401.call.member', stateKey: '_@alice:example.org_PHONE', content: {}, delayMs: 10_000,
 * });
 * await scheduler.restart({ userId: '@alice:example.org', deviceId: 'PHONE' }, delayId); // heartbeat
 * ```
 */
export class DelayedEventScheduler {
  /** The options after defaults and validation. */
  readonly options: ResolvedSchedulerOptions;
  /** The store holding the schedule. */
  readonly store: DelayedEventStore;
  /** The rate limiter in use. */
  readonly rateLimiter: RateLimiter;
  private readonly guard: MaxOutstandingGuard;
  private readonly delivery: Delivery;
  private running = false;
  private timer: TimerHandle | undefined;
  private timerDueAtMs = Number.POSITIVE_INFINITY;
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private unwatch: (() => void) | undefined;

  /**
   * @throws `ConfigError` (with a stable `code`) when an option is invalid.
   */
  constructor(options: DelayedEventSchedulerOptions) {
    this.options = resolveSchedulerOptions(options);
    this.store = options.store ?? createMemoryStore();
    this.rateLimiter = options.rateLimiter ?? new RateLimiter({ logger: this.options.logger });
    this.guard = new MaxOutstandingGuard({ maxPerUser: this.options.maxOutstandingPerUser });
    this.delivery = new Delivery(this.options, this.store, this.rateLimiter, (dueAtMs) => this.wakeBy(dueAtMs));
  }

  /**
   * Schedules an event to be sent after `delayMs`.
   *
   * @returns The delay ID (the first one again for a repeated transaction).
   * @throws `InvalidRequestError` (`M_INVALID_PARAM`, `M_BAD_JSON`), `MaxDelayExceededError`,
   * `ForbiddenError` (cap 0), `RateLimitedError`, `MaxOutstandingError`, `StoreUnavailableError`.
   */
  async schedule(request: ScheduleRequest): Promise<ScheduleResult> {
    const userId = validateIdentifier(request.userId, 'userId');
    const roomId = validateIdentifier(request.roomId, 'roomId');
    const type = validateIdentifier(request.type, 'type');
    const stateKey = request.stateKey === undefined ? undefined : validateIdentifier(request.stateKey, 'stateKey', true);
    const txnId = request.txnId === undefined ? undefined : validateIdentifier(request.txnId, 'txnId');
    const delayMs = validateDelay(request.delayMs, this.options.maxDelayMs);
    const contentJson = serialiseContent(request.content);
    const cap = this.guard.capFor(userId);
    await this.rateLimiter.consume('schedule', request);
    const result = await this.storeCall(() =>
      this.store.add(
        {
          delayId: newDelayId(),
          userId,
          deviceId: request.deviceId,
          roomId,
          type,
          stateKey,
          contentJson,
          delayMs,
          txnKey: txnId === undefined ? undefined : this.txnKey(request, txnId),
        },
        { nowMs: this.options.clock.now(), maxPerUser: cap, txnTtlMs: this.options.txnTtlMs },
      ),
    );
    if (!result.ok) throw this.guard.exceeded(cap, result.userNextSendAtMs);
    this.wakeBy(result.nextDueAtMs);
    return { delayId: result.delayId };
  }

  /**
   * The delay ID a transaction ID was answered with, if it is still remembered; for retried requests
   * whose body can no longer be read (matrix-js-sdk retries with the same transaction ID).
   */
  async findTransaction(requester: Requester, txnId: string): Promise<DelayId | undefined> {
    if (typeof txnId !== 'string' || txnId.length === 0 || txnId.length > MAX_IDENTIFIER_LENGTH) return undefined;
    return this.storeCall(() => this.store.findTxn(this.txnKey(requester, txnId), this.options.clock.now()));
  }

  /**
   * Restarts the delay of one of the requester's pending events: it becomes due at now + its delay.
   *
   * @throws `DelayedEventNotFoundError` (unknown, someone else's, sent or cancelled), `RateLimitedError`,
   * `StoreUnavailableError`.
   */
  async restart(requester: Requester | string, delayId: DelayId): Promise<void> {
    const who = asRequester(requester);
    // When the store can charge the `manage` counter inside its restart (the Redis store with the
    // Redis-backed limiter on the same client), a heartbeat is one round trip instead of two.
    const charge = this.rateLimiter.chargeFor('manage', who, this.store.chargeTarget);
    // An implausible ID never reaches the store, but is charged all the same.
    if (charge === undefined || !isPlausibleId(delayId)) await this.rateLimiter.consume('manage', who);
    this.assertPlausibleId(delayId);
    const result = await this.storeCall(() => this.store.restart(delayId, who.userId, this.options.clock.now(), charge));
    if (!result.ok) {
      if (result.reason === 'rate_limited') throw new RateLimitedError('manage', result.retryAfterMs);
      throw new DelayedEventNotFoundError();
    }
    this.wakeBy(result.nextDueAtMs);
  }

  /**
   * Cancels one of the requester's pending events.
   *
   * @throws `DelayedEventNotFoundError`, `RateLimitedError`, `StoreUnavailableError`.
   */
  async cancel(requester: Requester | string, delayId: DelayId): Promise<void> {
    const who = asRequester(requester);
    await this.rateLimiter.consume('manage', who);
    this.assertPlausibleId(delayId);
    const result = await this.storeCall(() => this.store.cancel(delayId, who.userId, this.options.clock.now()));
    if (!result.ok) throw new DelayedEventNotFoundError();
    this.delivery.report(result.event, 'action', { kind: 'cancelled', reason: 'action' });
  }

  /**
   * Sends one of the requester's pending events now. If the host refuses it (e.g. power levels), the
   * error is thrown to the caller and the event stays scheduled as it was.
   *
   * @throws `DelayedEventNotFoundError`, `RateLimitedError`, `StoreUnavailableError`, or whatever
   * `sendEvent` threw.
   */
  async send(requester: Requester | string, delayId: DelayId): Promise<void> {
    const who = asRequester(requester);
    await this.rateLimiter.consume('manage', who);
    await this.rateLimiter.consume('send', who);
    this.assertPlausibleId(delayId);
    const { clock, leaseMs } = this.options;
    const claimToken = newClaimToken();
    const claimed = await this.storeCall(() => this.store.claim(delayId, who.userId, { nowMs: clock.now(), leaseMs, claimToken }));
    if (!claimed.ok) throw new DelayedEventNotFoundError();
    const event = claimed.event;
    try {
      await this.options.sendEvent(toDueEvent(event, 'action'));
    } catch (error) {
      const nowMs = clock.now();
      const restored = await this.storeCall(() =>
        this.store.reschedule(delayId, claimToken, { sendAtMs: event.sendAtMs, attempts: event.attempts, nowMs }),
      );
      if (restored.ok) this.wakeBy(restored.nextDueAtMs);
      throw error;
    }
    await this.storeCall(() => this.delivery.finalise(event, 'action', { kind: 'sent' }));
  }

  /**
   * Lists the requester's pending events in send-time order, a page at a time.
   *
   * @param options - `from`: a `nextBatch` token from an earlier page; `limit`: page size (capped at
   * `listPageSize`).
   * @throws `InvalidRequestError` (`M_INVALID_PARAM` for a bad token), `RateLimitedError`,
   * `StoreUnavailableError`.
   */
  async list(requester: Requester | string, options: { from?: string | undefined; limit?: number | undefined } = {}): Promise<DelayedEventsPage> {
    const who = asRequester(requester);
    await this.rateLimiter.consume('manage', who);
    const after = options.from === undefined || options.from === '' ? undefined : decodeCursor(options.from);
    const pageSize = this.options.listPageSize;
    const limit = options.limit !== undefined && Number.isSafeInteger(options.limit) && options.limit > 0 ? Math.min(options.limit, pageSize) : pageSize;
    const rows = await this.storeCall(() => this.store.listForUser(who.userId, { after, limit: limit + 1 }));
    const page = rows.slice(0, limit);
    const events = page.map(
      (row): PendingDelayedEvent => ({
        delayId: row.delayId,
        roomId: row.roomId,
        type: row.type,
        stateKey: row.stateKey,
        delayMs: row.delayMs,
        runningSinceMs: row.runningSinceMs,
        content: JSON.parse(row.contentJson) as JsonObject,
      }),
    );
    const last = page[page.length - 1];
    return rows.length > limit && last !== undefined
      ? { events, nextBatch: encodeCursor({ sendAtMs: last.sendAtMs, delayId: last.delayId }) }
      : { events };
  }

  /**
   * Tells the scheduler the host persisted a state event; pending delayed state events for the same
   * (room, type, state key) are cancelled according to `cancelOnNewerState`.
   *
   * @returns How many delayed events were cancelled.
   */
  async onStateEvent(event: PersistedStateEvent): Promise<number> {
    const policy = this.options.cancelOnNewerState;
    if (policy === 'never') return 0;
    const { cancelled } = await this.storeCall(() =>
      this.store.cancelByStateKey({
        roomId: event.roomId,
        type: event.type,
        stateKey: event.stateKey,
        keepUserId: policy === 'other-senders' ? event.sender : undefined,
        nowMs: this.options.clock.now(),
      }),
    );
    for (const row of cancelled) this.delivery.report(row, 'timeout', { kind: 'cancelled', reason: 'newer-state' });
    return cancelled.length;
  }

  /** Starts delivery: sends what fell due while stopped (oldest first), then arms the timer. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.store.watch?.((dueAtMs) => this.wakeBy(dueAtMs));
    await this.drain();
  }

  /** Stops delivery: clears the timer and waits for sends in flight. Scheduling still works. */
  async stop(): Promise<void> {
    this.running = false;
    this.unwatch?.();
    this.unwatch = undefined;
    this.clearTimer();
    await this.draining;
  }

  /** Resolves when no delivery run is in progress. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private txnKey(requester: Requester, txnId: string): string {
    return `${requester.userId}\u0000${requester.deviceId ?? ''}\u0000${txnId}`;
  }

  private assertPlausibleId(delayId: unknown): void {
    if (!isPlausibleId(delayId)) throw new DelayedEventNotFoundError();
  }

  private async storeCall<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isDelayedEventsError(error)) throw error;
      throw new StoreUnavailableError(error);
    }
  }

  /** Makes sure the timer fires no later than `dueAtMs` (and, for shared stores, the poll interval). */
  private wakeBy(dueAtMs: number | undefined): void {
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

  private async drainLoop(): Promise<void> {
    const { clock, claimBatchSize, leaseMs, logger } = this.options;
    const claim = (): Promise<ClaimedDelayedEvent[]> => {
      if (!this.running) return Promise.resolve([]);
      const claiming = this.store.claimDue({ nowMs: clock.now(), max: claimBatchSize, leaseMs, claimToken: newClaimToken() });
      // Awaited only after the current batch is sent: marked handled so a fault meanwhile is not an
      // unhandled rejection (the await below still sees it).
      claiming.catch(() => undefined);
      return claiming;
    };
    let retryAtMs: number | undefined;
    let finalising: Promise<void> = Promise.resolve();
    do {
      this.drainAgain = false;
      try {
        let claiming = claim();
        for (let batch = await claiming; batch.length > 0; batch = await claiming) {
          // The next batch is claimed while this one is sent, so the store and this process work at the
          // same time. Batches are still sent one after the other, which keeps each room's order.
          claiming = claim();
          await this.delivery.sendBatch(batch);
          // This batch's finalisations go to the store now; waiting for the previous batch's keeps at
          // most two batches unfinalised (their leases hold meanwhile).
          const previous = finalising;
          finalising = this.delivery.finalised();
          await previous;
          // Let the host's I/O run between batches: a storm must not freeze HTTP serving. (Yielding
          // only every few milliseconds measured slower and with longer stalls: the turns give the
          // garbage collector its chances.)
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } catch (error) {
        logger.error?.('delayed events: store unavailable while claiming due events; retrying', error);
        retryAtMs = clock.now() + Math.min(this.options.pollIntervalMs, 5000);
      }
    } while (this.drainAgain && this.running && retryAtMs === undefined);
    await this.delivery.finalised();
    if (!this.running) return;
    let nextDueAtMs: number | undefined;
    try {
      nextDueAtMs = await this.store.nextDueAtMs();
    } catch (error) {
      logger.error?.('delayed events: store unavailable; retrying', error);
      retryAtMs ??= clock.now() + Math.min(this.options.pollIntervalMs, 5000);
    }
    this.wakeBy(retryAtMs === undefined ? nextDueAtMs : Math.min(retryAtMs, nextDueAtMs ?? retryAtMs));
  }
}
