/**
 * Finds how a requester's delayed event left the schedule, when finalised events are retained
 * (`retainFinalised`). Internal to the scheduler.
 */
import { DelayedEventNotFoundError, storeCall } from './errors.js';
import type { ResolvedSchedulerOptions } from './options.js';
import type { DelayedEventStore, FinalisedDelayedEvent } from './store.js';
import type { DelayId } from './types.js';
import { isPlausibleId } from './validate.js';

/** @internal */
export class FinalisedLookup {
  constructor(
    private readonly options: ResolvedSchedulerOptions,
    private readonly store: DelayedEventStore,
  ) {}

  /** The requester's finalised event, if retention is on and it is still retained. */
  async find(userId: string, delayId: DelayId): Promise<FinalisedDelayedEvent | undefined> {
    const retention = this.options.retainFinalised;
    if (retention === undefined || !isPlausibleId(delayId)) return undefined;
    const options = { nowMs: this.options.clock.now(), maxAgeMs: retention.maxAgeMs };
    return storeCall(async () => this.store.getFinalised?.(delayId, userId, options));
  }

  /** The error for an action on an event that is not pending, saying how it ended where known. */
  async notFound(userId: string, delayId: DelayId): Promise<DelayedEventNotFoundError> {
    return new DelayedEventNotFoundError((await this.find(userId, delayId))?.outcome);
  }
}
