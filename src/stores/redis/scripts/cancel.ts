/** `cancel-delayed-events-3.lua`: arguments and reply. @internal @packageDocumentation */
import type { EventOutcome, MutationResult } from '../../../core/store.js';
import type { DelayId } from '../../../core/types.js';
import { decodeStoredRecord, lengthPrefixed } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/** One cancel of a batch. @internal */
export interface CancelItem {
  readonly delayId: DelayId;
  readonly userId: string;
}

/** @internal */
export type CancelResult = MutationResult<EventOutcome>;

/** @internal */
export function cancelCall(k: RedisKeys, items: readonly CancelItem[]): ScriptCall {
  const args: string[] = [];
  // The owner as records store it, so the script compares it without decoding.
  for (const { delayId, userId } of items) args.push(delayId, lengthPrefixed(userId));
  return { script: 'cancelDelayedEvents', keys: [k.events, k.due, k.base], args };
}

/** The script returns each removed record as stored, with its send time; decoded here. @internal */
export function decodeCancel(reply: Reply, items: readonly CancelItem[]): CancelResult[] {
  // Every item of a batch sees the same earliest due time: the one after the whole batch.
  const nextDueAtMs = optionalNumber(reply[3 * items.length]);
  return items.map(({ delayId }, i): CancelResult => {
    if (mapScriptStatus(reply[3 * i], 'cancelDelayedEvents') !== 'ok') return NOT_FOUND;
    return { ok: true, nextDueAtMs, event: decodeStoredRecord(delayId, String(reply[3 * i + 2]), reply[3 * i + 1]) };
  });
}
