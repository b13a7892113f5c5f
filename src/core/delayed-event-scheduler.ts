import { Delivery } from './delivery.js';
import { DeliveryLoop } from './delivery-loop.js';
import { asMatrixError, DelayedEventNotFoundError, storeCall } from './errors.js';
import type { MetricsOperation } from './metrics.js';
import { newClaimToken, txnKey } from './ids.js';
import { MaxOutstandingGuard } from './max-outstanding-guard.js';
import { resolveSchedulerOptions, type DelayedEventSchedulerOptions, type ResolvedSchedulerOptions } from './options.js';
import { RateLimiter, type RateLimiterLike } from './rate-limiter.js';
import type { DelayedEventStore, ListCursor, StoreStats } from './store.js';
import type { DelayedEventDetails, DelayedEventsPage, DelayId, PersistedStateEvent, Requester, ScheduleRequest, ScheduleResult, SchedulerHealth } from './types.js';
import { finalisedView, pendingView } from './views.js';
import { checkHealth } from './health.js';
import { FinalisedLookup } from './finalised-lookup.js';
import { asRequester, isPlausibleId, pageSizeFor, validateScheduleRequest } from './validate.js';

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
 * const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: (event) => homeserver.insert(event) });
 * await scheduler.start();
 * const { delayId } = await scheduler.schedule({ userId, deviceId, roomId, type, stateKey, content: {}, delayMs: 10_000 });
 * await scheduler.restart({ userId, deviceId }, delayId); // the MatrixRTC heartbeat
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
  private readonly finalised: FinalisedLookup;

  /** @throws `ConfigError` (with a stable `code`) when an option is invalid. */
  constructor(options: DelayedEventSchedulerOptions) {
    this.options = resolveSchedulerOptions(options);
    this.store = options.store;
    this.rateLimiter = options.rateLimiter ?? new RateLimiter({ logger: this.options.logger });
    this.cap = new MaxOutstandingGuard({ maxPerUser: this.options.maxOutstandingPerUser });
    this.delivery = new Delivery(this.options, this.store, this.rateLimiter, (dueAtMs) => this.loop.wakeBy(dueAtMs));
    this.loop = new DeliveryLoop(this.options, this.store, this.delivery);
    this.finalised = new FinalisedLookup(this.options, this.store);
    this.options.metrics?.attach?.(this);
  }

  /**
   * Schedules an event to be sent after `delayMs`; a repeated transaction gets the first delay ID.
   * @throws `InvalidRequestError` (`M_INVALID_PARAM`, `M_BAD_JSON`), `MaxDelayExceededError`,
   * `ForbiddenError` (cap 0), `RateLimitedError`, `MaxOutstandingError`, `StoreUnavailableError`.
   */
  async schedule(request: ScheduleRequest): Promise<ScheduleResult> {
    return this.counted('schedule', async () => {
      const event = validateScheduleRequest(request, this.options.maxDelayMs);
      const cap = this.cap.capFor(event.userId);
      const { clock, txnTtlMs } = this.options;
      const result = await storeCall(() =>
        this.rateLimiter.guard('schedule', request, () => this.store.add(event, { nowMs: clock.now(), maxPerUser: cap, txnTtlMs })),
      );
      if (!result.ok) throw this.cap.exceeded(cap, result.userNextSendAtMs, clock.now());
      if (this.options.metrics !== undefined && !result.duplicate) this.options.metrics.scheduled();
      this.loop.wakeBy(result.nextDueAtMs);
      return { delayId: result.delayId };
    });
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
   * @throws `DelayedEventNotFoundError` (unknown, another user's, sent or cancelled), `RateLimitedError`, `StoreUnavailableError`.
   */
  async restart(requester: Requester | string, delayId: DelayId): Promise<void> {
    return this.counted('restart', async () => {
      const who = asRequester(requester);
      const result = await storeCall(() =>
        this.rateLimiter.guard('manage', who, () => (isPlausibleId(delayId) ? this.store.restart(delayId, who.userId, this.options.clock.now()) : NOT_FOUND)),
      );
      if (!result.ok) throw await this.finalised.notFound(who.userId, delayId);
      if (this.options.metrics !== undefined) this.options.metrics.restarted();
      this.loop.wakeBy(result.nextDueAtMs);
    });
  }

  /**
   * Cancels one of the requester's pending events.
   * @throws `DelayedEventNotFoundError`, `RateLimitedError`, `StoreUnavailableError`.
   */
  async cancel(requester: Requester | string, delayId: DelayId): Promise<void> {
    return this.counted('cancel', async () => {
      const who = asRequester(requester);
      const result = await storeCall(() =>
        this.rateLimiter.guard('manage', who, () => (isPlausibleId(delayId) ? this.store.cancel(delayId, who.userId) : NOT_FOUND)),
      );
      if (!result.ok) throw await this.finalised.notFound(who.userId, delayId);
      this.delivery.report(result.event, 'action', { kind: 'cancelled', reason: 'action' });
    });
  }

  /**
   * Sends one of the requester's pending events now. If the host refuses it (e.g. power levels), the
   * error is thrown to the caller and the event stays scheduled as it was.
   * @throws `DelayedEventNotFoundError`, `RateLimitedError`, `StoreUnavailableError`, or what `sendEvent` threw.
   */
  async send(requester: Requester | string, delayId: DelayId): Promise<void> {
    return this.counted('send', async () => {
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
      if (!claimed.ok) throw await this.finalised.notFound(who.userId, delayId);
      await this.delivery.sendByAction(claimed.event);
    });
  }

  /**
   * Lists the requester's pending events in send-time order, a page at a time: `after` is the `next`
   * of an earlier page, `limit` the page size (at most `listPageSize`).
   * @throws `RateLimitedError`, `StoreUnavailableError`.
   */
  async list(requester: Requester | string, options: { after?: ListCursor | undefined; limit?: number | undefined } = {}): Promise<DelayedEventsPage> {
    return this.counted('list', async () => {
      const who = asRequester(requester);
      const limit = pageSizeFor(options.limit, this.options.listPageSize);
      // One more than asked for tells whether another page follows.
      const rows = await storeCall(() =>
        this.rateLimiter.guard('manage', who, () => this.store.listForUser(who.userId, { after: options.after, limit: limit + 1 })),
      );
      const page = rows.slice(0, limit);
      const events = page.map(pendingView);
      const last = page[page.length - 1];
      return rows.length > limit && last !== undefined ? { events, next: { sendAtMs: last.sendAtMs, delayId: last.delayId } } : { events };
    });
  }

  /**
   * One of the requester's delayed events: pending, or finalised and still retained (`retainFinalised`).
   * @throws `DelayedEventNotFoundError` (unknown, another user's, or no longer retained), `RateLimitedError`, `StoreUnavailableError`.
   */
  async lookup(requester: Requester | string, delayId: DelayId): Promise<DelayedEventDetails> {
    return this.counted('lookup', async () => {
      const who = asRequester(requester);
      const row = await storeCall(() => this.rateLimiter.guard('manage', who, () => (isPlausibleId(delayId) ? this.store.get(delayId) : NONE)));
      if (row !== undefined && row.userId === who.userId) return pendingView(row);
      const finalised = await this.finalised.find(who.userId, delayId);
      if (finalised === undefined) throw new DelayedEventNotFoundError();
      return finalisedView(finalised);
    });
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
   * Stops delivery: clears the timer, stops claiming, and waits for the sends in flight (scheduling
   * still works). With `deadlineMs`: waits at most that long, then aborts the sends' signals and
   * releases every claim still held (stores with `release`), so another worker takes over at once.
   */
  stop(options: { readonly deadlineMs?: number } = {}): Promise<void> {
    return this.loop.stop(options);
  }

  /**
   * For readiness probes: whether the store answers (within `timeoutMs`, default 2000), the state of
   * the wake-up timer, and how far behind delivery is.
   */
  health(options: { readonly timeoutMs?: number } = {}): Promise<SchedulerHealth> {
    return checkHealth(this.store, this.loop.timerState(), this.options.clock, options.timeoutMs ?? 2000);
  }

  /** Resolves when no delivery run is in progress. */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  /**
   * Outstanding events and the earliest due time, from the store (`undefined` when it lacks `stats`).
   * @throws `StoreUnavailableError` when the store fails.
   */
  stats(): Promise<StoreStats | undefined> {
    return storeCall(async () => this.store.stats?.());
  }

  /** Runs one request, reporting a refusal to the metrics hook (by errcode). */
  private async counted<T>(operation: MetricsOperation, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      this.options.metrics?.rejected(operation, asMatrixError(error)?.errcode ?? 'M_UNKNOWN');
      throw error;
    }
  }
}
