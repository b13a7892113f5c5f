import { ConfigError } from './config-error.js';
import { Delivery } from './delivery.js';
import { DeliveryLoop } from './delivery-loop.js';
import { asMatrixError, DelayedEventNotFoundError, storeCall } from './errors.js';
import type { MetricsOperation } from './metrics.js';
import { newClaimToken, newDelayId, txnKey } from './ids.js';
import { MaxOutstandingGuard } from './max-outstanding-guard.js';
import { resolveSchedulerOptions, type DelayedEventSchedulerOptions, type ResolvedSchedulerOptions } from './options.js';
import { RateLimiter, type RateLimiterLike } from './rate-limiter.js';
import type { DelayedEventStore, FinalisedDelayedEvent, ListCursor, StoreStats } from './store.js';
import type { DelayedEventDetails, DelayedEventsPage, DelayId, PersistedStateEvent, Requester, ScheduleRequest, ScheduleResult, SchedulerHealth } from './types.js';
import { finalisedView, pendingView } from './views.js';
import { asRequester, isPlausibleId, serialiseContent, validateDelay, validateIdentifier } from './validate.js';

/** The answers for a delay ID that cannot exist: found without a store round trip. */
const NOT_FOUND = Promise.resolve({ ok: false, reason: 'not_found' } as const);
const NONE = Promise.resolve(undefined);

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
 *   store: createMemoryStore(),
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
  readonly rateLimiter: RateLimiterLike;
  private readonly cap: MaxOutstandingGuard;
  private readonly delivery: Delivery;
  private readonly loop: DeliveryLoop;

  /**
   * @throws `ConfigError` (with a stable `code`) when an option is invalid.
   */
  constructor(options: DelayedEventSchedulerOptions) {
    this.options = resolveSchedulerOptions(options);
    this.store = options.store;
    this.rateLimiter = options.rateLimiter ?? new RateLimiter({ logger: this.options.logger });
    this.cap = new MaxOutstandingGuard({ maxPerUser: this.options.maxOutstandingPerUser });
    this.delivery = new Delivery(this.options, this.store, this.rateLimiter, (dueAtMs) => this.loop.wakeBy(dueAtMs));
    this.loop = new DeliveryLoop(this.options, this.store, this.delivery);
    this.options.metrics?.attach?.(this);
  }

  /**
   * Schedules an event to be sent after `delayMs`.
   *
   * @returns The delay ID (the first one again for a repeated transaction).
   * @throws `InvalidRequestError` (`M_INVALID_PARAM`, `M_BAD_JSON`), `MaxDelayExceededError`,
   * `ForbiddenError` (cap 0), `RateLimitedError`, `MaxOutstandingError`, `StoreUnavailableError`.
   */
  async schedule(request: ScheduleRequest): Promise<ScheduleResult> {
    try {
      const userId = validateIdentifier(request.userId, 'userId');
      const roomId = validateIdentifier(request.roomId, 'roomId');
      const type = validateIdentifier(request.type, 'type');
      const stateKey = request.stateKey === undefined ? undefined : validateIdentifier(request.stateKey, 'stateKey', true);
      const txnId = request.txnId === undefined ? undefined : validateIdentifier(request.txnId, 'txnId');
      const delayMs = validateDelay(request.delayMs, this.options.maxDelayMs);
      const contentJson = serialiseContent(request.content);
      const cap = this.cap.capFor(userId);
      const event = {
        delayId: newDelayId(),
        userId,
        deviceId: request.deviceId,
        roomId,
        type,
        stateKey,
        contentJson,
        delayMs,
        txnKey: txnId === undefined ? undefined : txnKey(request, txnId),
      };
      const { clock, txnTtlMs } = this.options;
      const result = await storeCall(() =>
        this.rateLimiter.guard('schedule', request, () => this.store.add(event, { nowMs: clock.now(), maxPerUser: cap, txnTtlMs })),
      );
      if (!result.ok) throw this.cap.exceeded(cap, result.userNextSendAtMs);
      if (this.options.metrics !== undefined && !result.duplicate) this.options.metrics.scheduled();
      this.loop.wakeBy(result.nextDueAtMs);
      return { delayId: result.delayId };
    } catch (error) {
      throw this.rejected('schedule', error);
    }
  }

  /**
   * The delay ID a transaction ID was answered with, if it is still remembered; for retried requests
   * whose body can no longer be read (matrix-js-sdk retries with the same transaction ID).
   */
  async findTransaction(requester: Requester, txnId: string): Promise<DelayId | undefined> {
    if (!isPlausibleId(txnId)) return undefined;
    return storeCall(() => this.store.findTxn(txnKey(requester, txnId), this.options.clock.now()));
  }

  /**
   * Restarts the delay of one of the requester's pending events: it becomes due at now + its delay.
   *
   * @throws `DelayedEventNotFoundError` (unknown, someone else's, sent or cancelled), `RateLimitedError`,
   * `StoreUnavailableError`.
   */
  async restart(requester: Requester | string, delayId: DelayId): Promise<void> {
    try {
      const who = asRequester(requester);
      const result = await storeCall(() =>
        this.rateLimiter.guard('manage', who, () => (isPlausibleId(delayId) ? this.store.restart(delayId, who.userId, this.options.clock.now()) : NOT_FOUND)),
      );
      if (!result.ok) throw await this.notFound(who, delayId);
      if (this.options.metrics !== undefined) this.options.metrics.restarted();
      this.loop.wakeBy(result.nextDueAtMs);
    } catch (error) {
      throw this.rejected('restart', error);
    }
  }

  /**
   * Cancels one of the requester's pending events.
   *
   * @throws `DelayedEventNotFoundError`, `RateLimitedError`, `StoreUnavailableError`.
   */
  async cancel(requester: Requester | string, delayId: DelayId): Promise<void> {
    try {
      const who = asRequester(requester);
      const result = await storeCall(() =>
        this.rateLimiter.guard('manage', who, () => (isPlausibleId(delayId) ? this.store.cancel(delayId, who.userId) : NOT_FOUND)),
      );
      if (!result.ok) throw await this.notFound(who, delayId);
      this.delivery.report(result.event, 'action', { kind: 'cancelled', reason: 'action' });
    } catch (error) {
      throw this.rejected('cancel', error);
    }
  }

  /**
   * Sends one of the requester's pending events now. If the host refuses it (e.g. power levels), the
   * error is thrown to the caller and the event stays scheduled as it was.
   *
   * @throws `DelayedEventNotFoundError`, `RateLimitedError`, `StoreUnavailableError`, or whatever
   * `sendEvent` threw.
   */
  async send(requester: Requester | string, delayId: DelayId): Promise<void> {
    try {
      const who = asRequester(requester);
      const { clock, leaseMs } = this.options;
      // `manage` innermost: its action reaches the store synchronously, which a limiter may rely on.
      const claimed = await storeCall(() =>
        this.rateLimiter.guard('send', who, () =>
          this.rateLimiter.guard('manage', who, () =>
            isPlausibleId(delayId) ? this.store.claim(delayId, who.userId, { nowMs: clock.now(), leaseMs, claimToken: newClaimToken() }) : NOT_FOUND,
          ),
        ),
      );
      if (!claimed.ok) throw await this.notFound(who, delayId);
      await this.delivery.sendByAction(claimed.event);
    } catch (error) {
      throw this.rejected('send', error);
    }
  }

  /**
   * Lists the requester's pending events in send-time order, a page at a time.
   *
   * @param options - `after`: the `next` of an earlier page; `limit`: page size (capped at
   * `listPageSize`).
   * @throws `RateLimitedError`, `StoreUnavailableError`.
   */
  async list(requester: Requester | string, options: { after?: ListCursor | undefined; limit?: number | undefined } = {}): Promise<DelayedEventsPage> {
    try {
      const who = asRequester(requester);
      const pageSize = this.options.listPageSize;
      const limit = options.limit !== undefined && Number.isSafeInteger(options.limit) && options.limit > 0 ? Math.min(options.limit, pageSize) : pageSize;
      // One more than asked for tells whether another page follows.
      const rows = await storeCall(() =>
        this.rateLimiter.guard('manage', who, () => this.store.listForUser(who.userId, { after: options.after, limit: limit + 1 })),
      );
      const page = rows.slice(0, limit);
      const events = page.map(pendingView);
      const last = page[page.length - 1];
      return rows.length > limit && last !== undefined ? { events, next: { sendAtMs: last.sendAtMs, delayId: last.delayId } } : { events };
    } catch (error) {
      throw this.rejected('list', error);
    }
  }

  /**
   * One of the requester's delayed events: pending, or finalised and still retained
   * (`retainFinalised`).
   *
   * @throws `DelayedEventNotFoundError` (unknown, someone else's, or no longer retained),
   * `RateLimitedError`, `StoreUnavailableError`.
   */
  async lookup(requester: Requester | string, delayId: DelayId): Promise<DelayedEventDetails> {
    try {
      const who = asRequester(requester);
      const row = await storeCall(() => this.rateLimiter.guard('manage', who, () => (isPlausibleId(delayId) ? this.store.get(delayId) : NONE)));
      if (row !== undefined && row.userId === who.userId) return pendingView(row);
      const finalised = await this.findFinalised(who, delayId);
      if (finalised === undefined) throw new DelayedEventNotFoundError();
      return finalisedView(finalised);
    } catch (error) {
      throw this.rejected('lookup', error);
    }
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
    const { cancelled } = await storeCall(() =>
      this.store.cancelByStateKey({
        roomId: event.roomId,
        type: event.type,
        stateKey: event.stateKey,
        keepUserId: policy === 'other-senders' ? event.sender : undefined,
      }),
    );
    for (const row of cancelled) this.delivery.report(row, 'timeout', { kind: 'cancelled', reason: 'newer-state' });
    return cancelled.length;
  }

  /** Starts delivery: sends what fell due while stopped (oldest first), then arms the timer. */
  start(): Promise<void> {
    return this.loop.start();
  }

  /**
   * Stops delivery: clears the timer, stops claiming, and waits for the sends in flight. Scheduling
   * still works.
   *
   * @param options - `deadlineMs`: wait at most this long, then abort the sends' signals and release
   * every claim this process still holds (with a store that has `release`), so another worker sends
   * those events at once rather than after `leaseMs`. Without it, waits for every send in flight.
   * Either way a batch claimed ahead and not yet started is released at once (or, with a store
   * without `release`, sent first).
   */
  stop(options: { readonly deadlineMs?: number } = {}): Promise<void> {
    const deadlineMs = options.deadlineMs;
    if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs) || deadlineMs < 0)) {
      return Promise.reject(new ConfigError('ERR_DE_OPTION_INVALID', `deadlineMs must be a number >= 0 (got ${String(deadlineMs)})`));
    }
    return this.loop.stop({ deadlineMs });
  }

  /**
   * A health report for readiness probes: whether the store answers, the state of the wake-up timer,
   * and how far behind delivery is.
   *
   * @param options - `timeoutMs`: how long to wait for the store before calling it unreachable
   * (default 2000).
   */
  async health(options: { readonly timeoutMs?: number } = {}): Promise<SchedulerHealth> {
    const { clock } = this.options;
    const timer = this.loop.timerState();
    const nowMs = clock.now();
    let nextDueAtMs: number | undefined;
    let store: SchedulerHealth['store'] = 'ok';
    let handle: unknown;
    try {
      nextDueAtMs = await Promise.race([
        this.store.nextDueAtMs(),
        new Promise<never>((_resolve, reject) => {
          handle = clock.setTimer(() => reject(new Error('store health check timed out')), options.timeoutMs ?? 2000);
        }),
      ]);
    } catch {
      store = 'unreachable';
    } finally {
      clock.clearTimer(handle);
    }
    if (store === 'unreachable') return { store, timer };
    return nextDueAtMs === undefined ? { store, timer } : { store, timer, nextDueAtMs, oldestDueLagMs: Math.max(0, nowMs - nextDueAtMs) };
  }

  /** Resolves when no delivery run is in progress. */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  /**
   * Counts from the store for metrics and health: outstanding events and the earliest due time;
   * `undefined` when the store lacks `stats`.
   *
   * @throws `StoreUnavailableError` when the store fails.
   */
  stats(): Promise<StoreStats | undefined> {
    return storeCall(async () => this.store.stats?.());
  }

  /** Reports a refused request to the metrics hook; returns the error to throw. */
  private rejected(operation: MetricsOperation, error: unknown): unknown {
    const metrics = this.options.metrics;
    if (metrics !== undefined) metrics.rejected(operation, asMatrixError(error)?.errcode ?? 'M_UNKNOWN');
    return error;
  }

  private async findFinalised(who: Requester, delayId: DelayId): Promise<FinalisedDelayedEvent | undefined> {
    const retention = this.options.retainFinalised;
    if (retention === undefined || !isPlausibleId(delayId)) return undefined;
    const options = { nowMs: this.options.clock.now(), maxAgeMs: retention.maxAgeMs };
    return storeCall(async () => this.store.getFinalised?.(delayId, who.userId, options));
  }

  /** The error for an action on an event that is not pending, saying how it ended where known. */
  private async notFound(who: Requester, delayId: DelayId): Promise<DelayedEventNotFoundError> {
    return new DelayedEventNotFoundError((await this.findFinalised(who, delayId))?.outcome);
  }
}
