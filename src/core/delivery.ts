/**
 * Sending due events: the delivery rate limit, the host's `sendEvent`, retries and finalisation.
 * Split from the scheduler so each stays readable; internal.
 */
import { asMatrixError, RateLimitedError, storeCall } from './errors.js';
import { logId } from './logging.js';
import type { SchedulerMetrics } from './metrics.js';
import type { ResolvedSchedulerOptions } from './options.js';
import type { RateLimiterLike } from './rate-limiter.js';
import type { DueDelayedEvent, FinalOutcome, JsonObject } from './types.js';
import type { ClaimedDelayedEvent, DelayedEventStore, FinalisedDelayedEvent, MutationResult, StoredDelayedEvent } from './store.js';

const SENT: FinalOutcome = Object.freeze({ kind: 'sent' });
/** Most finalisations sent to the store in one call; a full queue goes out without waiting for the turn to end. */
const FINALISE_BATCH = 256;

/**
 * The `content` getter every hand-over shares. A getter written in the object literal was a new
 * function per event, which gave every event object its own hidden class: about 1 KB of garbage per
 * event, most of a storm's allocation. The first read replaces the getter by the parsed value.
 */
const CONTENT: PropertyDescriptor = {
  get(this: DueDelayedEvent): JsonObject {
    const content = JSON.parse(this.contentJson) as JsonObject;
    // A host may have frozen the event: then each read parses again.
    if (Object.isExtensible(this)) Object.defineProperty(this, 'content', { value: content, enumerable: true, writable: false, configurable: false });
    return content;
  },
  enumerable: true,
  configurable: true,
};

function toDueEvent(event: StoredDelayedEvent, trigger: DueDelayedEvent['trigger']): DueDelayedEvent {
  // Parsed only when read: in a storm most of the cost of a hand-over was this parse, and hosts that
  // store JSON never need it.
  const due = {
    delayId: event.delayId,
    userId: event.userId,
    deviceId: event.deviceId,
    roomId: event.roomId,
    type: event.type,
    stateKey: event.stateKey,
    contentJson: event.contentJson,
    sendAtMs: event.sendAtMs,
    trigger,
  };
  return Object.defineProperty(due, 'content', CONTENT) as typeof due & { readonly content: JsonObject };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** The outcome of a send: the host's answer is the new event's ID when it is a string. */
function sentOutcome(result: unknown): FinalOutcome {
  return typeof result === 'string' ? { kind: 'sent', eventId: result } : SENT;
}

/** The record an outcome leaves for lookup. */
function toFinalised(event: StoredDelayedEvent, outcome: FinalOutcome, nowMs: number): FinalisedDelayedEvent {
  let error: FinalisedDelayedEvent['error'];
  if (outcome.kind === 'failed') {
    const matrixError = asMatrixError(outcome.error);
    error = matrixError === undefined ? { errcode: 'M_UNKNOWN', message: 'The event could not be sent.' } : { errcode: matrixError.errcode, message: matrixError.message };
  }
  return {
    delayId: event.delayId,
    userId: event.userId,
    roomId: event.roomId,
    type: event.type,
    stateKey: event.stateKey,
    contentJson: event.contentJson,
    delayMs: event.delayMs,
    runningSinceMs: event.runningSinceMs,
    outcome: outcome.kind,
    finalisedAtMs: nowMs,
    eventId: outcome.kind === 'sent' ? outcome.eventId : undefined,
    error,
  };
}

/** True for a host error that will not go away by retrying (a 4xx other than 429). */
export function isPermanentFailure(error: unknown): boolean {
  const matrixError = asMatrixError(error);
  return matrixError !== undefined && matrixError.httpStatus < 500 && matrixError.httpStatus !== 429;
}

/** @internal */
export class Delivery {
  // Finalisations waiting for the end of the current turn, as two parallel lists (no object per event).
  private queuedEvents: ClaimedDelayedEvent[] = [];
  private queuedOutcomes: FinalOutcome[] = [];
  private flushScheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Finalised events waiting to be retained (when retention is on), sent once per turn. */
  private retaining: FinalisedDelayedEvent[] = [];
  /** One controller per claim being sent: its signal goes to `sendEvent`. */
  private readonly leases = new Set<AbortController>();
  /** The claimed batches being sent (for `stop()` to release what it gives up). */
  private readonly sending = new Set<readonly ClaimedDelayedEvent[]>();

  constructor(
    private readonly options: ResolvedSchedulerOptions,
    private readonly store: DelayedEventStore,
    private readonly rateLimiter: RateLimiterLike,
    /** Asks the scheduler to wake up by `dueAtMs`. */
    private readonly wakeBy: (dueAtMs: number | undefined) => void,
  ) {}

  /**
   * Sends one claimed batch: events of one room one after another in due order, rooms concurrently up
   * to `maxConcurrentSends`. Resolves once every event was sent or failed. Their removal from the store
   * is queued and goes out as one store call per turn ({@link Delivery.finalised} waits for it), so a
   * room's next event never waits for a store round trip.
   */
  async sendBatch(batch: readonly ClaimedDelayedEvent[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    // One claim, one lease: the whole batch shares one signal.
    this.sending.add(batch);
    try {
      await this.underLease(first.leaseUntilMs, (signal) => this.sendRooms(batch, signal));
    } finally {
      this.sending.delete(batch);
    }
  }

  /** The claimed events of the batches being sent: those not yet finalised are still claimed. */
  heldClaims(): ClaimedDelayedEvent[] {
    const held: ClaimedDelayedEvent[] = [];
    for (const batch of this.sending) held.push(...batch);
    return held;
  }

  private async sendRooms(batch: readonly ClaimedDelayedEvent[], signal: AbortSignal): Promise<void> {
    const byRoom = new Map<string, ClaimedDelayedEvent[]>();
    for (const event of batch) {
      const room = byRoom.get(event.roomId);
      if (room) room.push(event);
      else byRoom.set(event.roomId, [event]);
    }
    const rooms = [...byRoom.values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      // Once the claim is given up (its lease ran out, or `stop()` stopped waiting), no further event
      // of the batch is handed over: it is due again, for whichever worker claims it next.
      while (next < rooms.length && !signal.aborted) {
        const room = rooms[next++] as ClaimedDelayedEvent[];
        for (const event of room) {
          if (signal.aborted) return;
          const sending = this.sendDue(event, signal);
          if (sending !== undefined) await sending;
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(this.options.maxConcurrentSends, rooms.length); i++) workers.push(worker());
    await Promise.all(workers);
  }

  /**
   * Sends one event its owner asked to send now (the `send` action). When the host refuses it, the
   * event goes back to the schedule as it was and the host's error is thrown.
   *
   * @throws whatever `sendEvent` threw; `StoreUnavailableError` when the store fails.
   */
  async sendByAction(event: ClaimedDelayedEvent): Promise<void> {
    const { metrics, clock } = this.options;
    const startMs = metrics === undefined ? 0 : clock.now();
    let result: unknown;
    try {
      result = await this.underLease(event.leaseUntilMs, async (signal) => this.handOver(event, 'action', signal));
    } catch (error) {
      if (metrics !== undefined) metrics.sendFinished(false, clock.now() - startMs, undefined);
      await storeCall(() => this.reschedule(event, event.sendAtMs, event.attempts));
      throw error;
    }
    if (metrics !== undefined) metrics.sendFinished(true, clock.now() - startMs, undefined);
    await storeCall(() => this.finalise(event, 'action', sentOutcome(result)));
  }

  /** Aborts the signal of every send in flight (their claims are given up, e.g. by `stop()`). */
  abortSends(reason: unknown): void {
    for (const lease of this.leases) lease.abort(reason);
  }

  /** Runs `send` with a signal that is aborted when the lease ends at `leaseUntilMs`. */
  private async underLease<T>(leaseUntilMs: number, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { clock } = this.options;
    const lease = new AbortController();
    const timer = clock.setTimer(() => lease.abort(new Error('the claim on this delayed event ran out')), leaseUntilMs - clock.now());
    this.leases.add(lease);
    try {
      return await send(lease.signal);
    } finally {
      clock.clearTimer(timer);
      this.leases.delete(lease);
    }
  }

  /**
   * Sends every finalisation queued so far to the store now. Resolves when those and all earlier ones
   * are stored and reported; never rejects (a store fault leaves the events to their lease).
   */
  finalised(): Promise<void> {
    this.flush();
    this.flushRetained();
    return this.inFlight.size === 0 ? Promise.resolve() : Promise.all(this.inFlight).then(() => undefined);
  }

  /**
   * Sends one event whose timer ran out. Never rejects: every outcome is stored or left to the lease.
   * Returns `undefined` when it finished synchronously (a synchronous host, no rate limit), so a storm
   * pays no promise per event there.
   */
  private sendDue(event: ClaimedDelayedEvent, signal: AbortSignal): Promise<void> | undefined {
    return this.rateLimiter.isEnabled('delivery') ? this.sendLimited(event, signal) : this.sendNow(event, signal);
  }

  private async sendLimited(event: ClaimedDelayedEvent, signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.options;
    try {
      const allowed = await this.rateLimiter.tryConsume('delivery', event);
      if (!allowed.ok) {
        if (this.options.deliveryRateLimitPolicy === 'defer') {
          if (this.options.metrics !== undefined) this.options.metrics.deferred();
          logger.info?.({ delayId: logId(event.delayId), retryAfterMs: allowed.retryAfterMs }, 'delayed event deferred by the delivery rate limit');
          await this.reschedule(event, clock.now() + allowed.retryAfterMs, event.attempts);
        } else {
          this.queueFinalise(event, { kind: 'failed', error: new RateLimitedError('delivery', allowed.retryAfterMs) });
        }
        return;
      }
    } catch (storeFault) {
      this.storeFault(event, storeFault);
      return;
    }
    await this.sendNow(event, signal);
  }

  /** The one place the host's `sendEvent` is called. */
  private handOver(event: ClaimedDelayedEvent, trigger: DueDelayedEvent['trigger'], signal: AbortSignal): unknown {
    return this.options.sendEvent(toDueEvent(event, trigger), signal);
  }

  /** Returns a claimed event to the schedule, due at `sendAtMs`, and wakes the timer for it. */
  private async reschedule(event: ClaimedDelayedEvent, sendAtMs: number, attempts: number): Promise<void> {
    const result = await this.store.reschedule(event.delayId, event.claimToken, { sendAtMs, attempts, nowMs: this.options.clock.now() });
    if (result.ok) this.wakeBy(result.nextDueAtMs);
  }

  /** Hands the event to the host; a synchronous host answers without a promise, which saves a turn per event. */
  private sendNow(event: ClaimedDelayedEvent, signal: AbortSignal): Promise<void> | undefined {
    // Measured on a path of its own, so a scheduler without metrics pays this one `if`.
    if (this.options.metrics !== undefined) return this.sendNowMeasured(event, signal, this.options.metrics);
    let sending: unknown;
    try {
      sending = this.handOver(event, 'timeout', signal);
    } catch (error) {
      return this.failed(event, error);
    }
    if (!isThenable(sending)) return void this.queueFinalise(event, sentOutcome(sending));
    return Promise.resolve(sending).then(
      (result) => this.queueFinalise(event, sentOutcome(result)),
      (error: unknown) => this.failed(event, error),
    );
  }

  /** {@link Delivery.sendNow}, reporting the call's duration and lateness to the metrics hook. */
  private sendNowMeasured(event: ClaimedDelayedEvent, signal: AbortSignal, metrics: SchedulerMetrics): Promise<void> | undefined {
    const { clock } = this.options;
    const startMs = clock.now();
    const latenessMs = startMs - event.sendAtMs;
    let sending: unknown;
    try {
      sending = this.handOver(event, 'timeout', signal);
    } catch (error) {
      metrics.sendFinished(false, clock.now() - startMs, latenessMs);
      return this.failed(event, error);
    }
    if (!isThenable(sending)) {
      metrics.sendFinished(true, clock.now() - startMs, latenessMs);
      return void this.queueFinalise(event, sentOutcome(sending));
    }
    return Promise.resolve(sending).then(
      (result) => {
        metrics.sendFinished(true, clock.now() - startMs, latenessMs);
        this.queueFinalise(event, sentOutcome(result));
      },
      (error: unknown) => {
        metrics.sendFinished(false, clock.now() - startMs, latenessMs);
        return this.failed(event, error);
      },
    );
  }

  private async failed(event: ClaimedDelayedEvent, error: unknown): Promise<void> {
    try {
      await this.handleFailure(event, error);
    } catch (storeFault) {
      this.storeFault(event, storeFault);
    }
  }

  private storeFault(event: ClaimedDelayedEvent, fault: unknown): void {
    // The claim's lease runs out and the event becomes due again, so nothing is lost.
    this.options.logger.error?.({ delayId: logId(event.delayId), err: fault }, 'delayed event: store fault during delivery; it will be sent after its lease');
  }

  private async handleFailure(event: ClaimedDelayedEvent, error: unknown): Promise<void> {
    const { deliveryRetry, logger, clock } = this.options;
    const attempts = event.attempts + 1;
    if (isPermanentFailure(error) || attempts >= deliveryRetry.attempts) {
      logger.warn?.({ delayId: logId(event.delayId), attempts, err: error }, 'delayed event failed');
      this.queueFinalise(event, { kind: 'failed', error });
      return;
    }
    const backoffMs = Math.min(deliveryRetry.maxBackoffMs, deliveryRetry.initialBackoffMs * 2 ** (attempts - 1));
    logger.warn?.({ delayId: logId(event.delayId), attempts, retryInMs: backoffMs, err: error }, 'delayed event: sending failed; retrying');
    await this.reschedule(event, clock.now() + backoffMs, attempts);
  }

  /**
   * Queues the removal of a delivered (or given-up) event. The queue goes to the store when the turn's
   * promise continuations have run (`process.nextTick`), when it is full, or on {@link Delivery.finalised}.
   */
  private queueFinalise(event: ClaimedDelayedEvent, outcome: FinalOutcome): void {
    this.queuedEvents.push(event);
    this.queuedOutcomes.push(outcome);
    if (this.queuedEvents.length >= FINALISE_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    const events = this.queuedEvents;
    if (events.length === 0) return;
    const outcomes = this.queuedOutcomes;
    this.queuedEvents = [];
    this.queuedOutcomes = [];
    const running: Promise<void> = this.finaliseAll(events, outcomes).finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
  }

  /** Removes claimed events, one store call when the store batches, and reports each one removed. */
  private async finaliseAll(events: readonly ClaimedDelayedEvent[], outcomes: readonly FinalOutcome[]): Promise<void> {
    if (this.store.finaliseMany === undefined) {
      await Promise.all(
        events.map(async (event, i) => {
          try {
            await this.finalise(event, 'timeout', outcomes[i] as FinalOutcome);
          } catch (storeFault) {
            this.storeFault(event, storeFault);
          }
        }),
      );
      return;
    }
    let results: readonly MutationResult[];
    try {
      results = await this.store.finaliseMany(events);
    } catch (storeFault) {
      // One line for the batch: a Redis outage mid-storm must not log a line per event.
      this.options.logger.error?.(
        { count: events.length, delayId: logId((events[0] as ClaimedDelayedEvent).delayId), err: storeFault },
        'delayed events: store fault while finalising; they will be sent again after their lease',
      );
      return;
    }
    for (let i = 0; i < events.length; i++) {
      if (results[i]?.ok) this.report(events[i] as ClaimedDelayedEvent, 'timeout', outcomes[i] as FinalOutcome);
    }
  }

  /** Removes a claimed event and reports the outcome (once: only the claim holder gets `ok`). */
  private async finalise(event: ClaimedDelayedEvent, trigger: DueDelayedEvent['trigger'], outcome: FinalOutcome): Promise<void> {
    const result = await this.store.finalise(event.delayId, event.claimToken);
    if (result.ok) this.report(event, trigger, outcome);
  }

  /**
   * Records an event that left the schedule: keeps it for lookup when retention is on, and calls the
   * `onFinalised` hook, shielding the scheduler from a throwing hook.
   */
  report(event: StoredDelayedEvent, trigger: DueDelayedEvent['trigger'], outcome: FinalOutcome): void {
    if (this.options.retainFinalised !== undefined) this.queueRetain(toFinalised(event, outcome, this.options.clock.now()));
    const metrics = this.options.metrics;
    if (metrics !== undefined) metrics.finalised(outcome, outcome.kind === 'failed' ? (asMatrixError(outcome.error)?.errcode ?? 'M_UNKNOWN') : undefined);
    const hook = this.options.onFinalised;
    if (hook === undefined) return;
    try {
      hook(toDueEvent(event, trigger), outcome);
    } catch (error) {
      this.options.logger.error?.({ delayId: logId(event.delayId), err: error }, 'delayed events: the onFinalised hook threw');
    }
  }

  private queueRetain(record: FinalisedDelayedEvent): void {
    this.retaining.push(record);
    if (this.retaining.length === 1) process.nextTick(() => this.flushRetained());
  }

  /** Hands the queued finalised events to the store's `retain`; a fault only costs their lookup. */
  private flushRetained(): void {
    const records = this.retaining;
    const policy = this.options.retainFinalised;
    if (records.length === 0 || policy === undefined) return;
    this.retaining = [];
    const options = { nowMs: this.options.clock.now(), maxAgeMs: policy.maxAgeMs, maxPerUser: policy.maxPerUser };
    const running: Promise<void> = Promise.resolve()
      .then(() => this.store.retain?.(records, options))
      .catch((fault: unknown) => this.options.logger.warn?.({ count: records.length, err: fault }, 'delayed events: finalised events could not be retained for lookup'))
      .finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
  }
}
