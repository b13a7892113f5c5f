/**
 * What owners see of their delayed events: the camelCase views the scheduler returns from `list` and
 * `lookup`, built from store records. The HTTP layer writes them in a profile's wire form.
 */
import type { FinalisedDelayedEvent, StoredDelayedEvent } from './store.js';
import type { DelayedEventDetails, JsonObject, PendingDelayedEvent } from './types.js';

/** A pending (or being sent) event as its owner sees it. */
export function pendingView(row: StoredDelayedEvent): PendingDelayedEvent {
  return {
    delayId: row.delayId,
    roomId: row.roomId,
    type: row.type,
    stateKey: row.stateKey,
    delayMs: row.delayMs,
    runningSinceMs: row.runningSinceMs,
    content: JSON.parse(row.contentJson) as JsonObject,
  };
}

/** A finalised event as its owner sees it. */
export function finalisedView(record: FinalisedDelayedEvent): DelayedEventDetails {
  return {
    delayId: record.delayId,
    roomId: record.roomId,
    type: record.type,
    stateKey: record.stateKey,
    delayMs: record.delayMs,
    runningSinceMs: record.runningSinceMs,
    content: JSON.parse(record.contentJson) as JsonObject,
    finalised: { outcome: record.outcome, atMs: record.finalisedAtMs, eventId: record.eventId, error: record.error },
  };
}
