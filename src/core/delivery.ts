/**
 * Sending due events: the delivery rate limit, the host's `sendEvent`, retries and finalisation.
 * Split from the scheduler so each stays readable; internal.
 */
import { asMatrixError, RateLimitedError } from './errors.js';
import type { ResolvedSchedulerOptions } from './options.js';
import type { RateLimiter } from './rate-limiter.js';
import type { DueDelayedEvent, FinalOutcome, JsonObject } from './types.js';
import type { ClaimedDelayedEvent, DelayedEventStore, StoredDelayedEvent } from '../stores/store.js';

const ALLOWED = { ok: true } as const;

/** @internal */
export function toDueEvent(event: StoredDelayedEvent, trigger: DueDelayedEvent['trigger']): DueDelayedEvent {
  const contentJson = event.contentJson;
  // Parsed only when read: in a storm most of the cost of a hand-over was this parse, and hosts that
  // store JSON never need it.
  let content: JsonObject | undefined;
  return {
    delayId: event.delayId,
    userId: event.userId,
    deviceId: event.deviceId,
    roomId: event.roomId,
    type: event.type,
    stateKey: event.stateKey,
    get content(): JsonObject {
      return (content ??= JSON.parse(contentJson) as JsonObject);
    },
    contentJson,
    sendAtMs: event.sendAtMs,
    trigger,
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** True for a host error that will not go away by retrying (a 4xx other than 429). */
export function isPermanentFailure(error: unknown): boolean {
  const matrixError = asMatrixError(error);
  return matrixError !== undefined && matrixError.httpStatus < 500 && matrixError.httpStatus !== 429;
}

/** @internal */
export class Delivery {
  constructor(
    private readonly options: ResolvedSchedulerOptions,
    private readonly store: DelayedEventStore,
    private readonly rateLimiter: RateLimiter,
    /** Asks the scheduler to wake up by `dueAtMs`. */
    private readonly wakeBy: (dueAtMs: number | undefined) => void,
  ) {}

  /**
   * Sends one claimed batch: events of one room one after another in due order, rooms concurrently up
   * to `maxConcurrentSends`.
   */
  async sendBatch(batch: readonly ClaimedDelayedEvent[]): Promise<void> {
    const byRoom = new Map<string, ClaimedDelayedEvent[]>();
    for (const event of batch) {
      const room = byRoom.get(event.roomId);
      if (room) room.push(event);
      else byRoom.set(event.roomId, [event]);
    }
    const rooms = [...byRoom.values()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rooms.length) {
        const room = rooms[next++] as ClaimedDelayedEvent[];
        for (const event of room) await this.sendDue(event);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(this.options.maxConcurrentSends, rooms.length); i++) workers.push(worker());
    await Promise.all(workers);
  }

  /** Sends one event whose timer ran out. Never throws: every outcome is stored or left to the lease. */
  private async sendDue(event: ClaimedDelayedEvent): Promise<void> {
    const { clock, logger } = this.options;
    try {
      // Skipping the await when the bucket is off keeps a storm from paying a promise per event for nothing.
      const allowed = this.rateLimiter.isEnabled('delivery') ? await this.rateLimiter.tryConsume('delivery', event) : ALLOWED;
      if (!allowed.ok) {
        if (this.options.deliveryRateLimitPolicy === 'defer') {
          logger.info?.(`delayed event ${event.delayId} deferred by ${allowed.retryAfterMs} ms: delivery rate limit`);
          const nowMs = clock.now();
          const result = await this.store.reschedule(event.delayId, event.claimToken, {
            sendAtMs: nowMs + allowed.retryAfterMs,
            attempts: event.attempts,
            nowMs,
          });
          if (result.ok) this.wakeBy(result.nextDueAtMs);
        } else {
          await this.finalise(event, 'timeout', { kind: 'failed', error: new RateLimitedError('delivery', allowed.retryAfterMs) });
        }
        return;
      }
      let failure: unknown;
      let failed = false;
      try {
        const sending = this.options.sendEvent(toDueEvent(event, 'timeout'));
        // A synchronous host answers without a promise; skipping the await saves a turn per event.
        if (isThenable(sending)) await sending;
      } catch (error) {
        failed = true;
        failure = error;
      }
      if (!failed) return void (await this.finalise(event, 'timeout', { kind: 'sent' }));
      await this.handleFailure(event, failure);
    } catch (storeFault) {
      // The claim's lease runs out and the event becomes due again, so nothing is lost.
      logger.error?.(`delayed event ${event.delayId}: store fault during delivery; will retry after the lease`, storeFault);
    }
  }

  private async handleFailure(event: ClaimedDelayedEvent, error: unknown): Promise<void> {
    const { deliveryRetry, logger, clock } = this.options;
    const attempts = event.attempts + 1;
    if (isPermanentFailure(error) || attempts >= deliveryRetry.attempts) {
      logger.warn?.(`delayed event ${event.delayId} failed after ${attempts} attempt(s)`, error);
      await this.finalise(event, 'timeout', { kind: 'failed', error });
      return;
    }
    const backoffMs = Math.min(deliveryRetry.maxBackoffMs, deliveryRetry.initialBackoffMs * 2 ** (attempts - 1));
    logger.warn?.(`delayed event ${event.delayId}: attempt ${attempts} failed; retrying in ${backoffMs} ms`, error);
    const nowMs = clock.now();
    const result = await this.store.reschedule(event.delayId, event.claimToken, { sendAtMs: nowMs + backoffMs, attempts, nowMs });
    if (result.ok) this.wakeBy(result.nextDueAtMs);
  }

  /** Removes a claimed event and reports the outcome (once: only the claim holder gets `ok`). */
  async finalise(event: ClaimedDelayedEvent, trigger: DueDelayedEvent['trigger'], outcome: FinalOutcome): Promise<void> {
    const result = await this.store.finalise(event.delayId, event.claimToken, this.options.clock.now());
    if (result.ok) this.report(event, trigger, outcome);
  }

  /** Calls the `onFinalised` hook, shielding the scheduler from a throwing hook. */
  report(event: StoredDelayedEvent, trigger: DueDelayedEvent['trigger'], outcome: FinalOutcome): void {
    const hook = this.options.onFinalised;
    if (hook === undefined) return;
    try {
      hook(toDueEvent(event, trigger), outcome);
    } catch (error) {
      this.options.logger.error?.('onFinalised hook threw', error);
    }
  }
}
