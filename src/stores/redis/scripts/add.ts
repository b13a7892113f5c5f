/** `add-delayed-events-3.lua`: arguments and reply. @internal @packageDocumentation */
import type { AddOptions, AddResult, NewDelayedEvent } from '../../../core/store.js';
import { encodeNewEvent, lengthPrefixed } from '../codec.js';
import { stateSlotFromBase, txnKeyFromBase, userKeyFromBase, type RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { optionalNumber, type Reply, type ScriptCall } from './call.js';

/** One add of a batch. @internal */
export interface AddItem {
  readonly event: NewDelayedEvent;
  readonly options: AddOptions;
}

/**
 * Every string the script stores is built here (record, key suffixes, state slot, transaction
 * record), so that redis-server, which every worker shares, only runs commands.
 * @internal
 */
export function addCall(k: RedisKeys, items: readonly AddItem[]): ScriptCall {
  const args: (string | number)[] = [k.wakeChannel];
  for (const { event, options } of items) {
    const { delayId, stateKey, txnKey } = event;
    const state = stateKey === undefined ? undefined : stateSlotFromBase('', event.roomId, event.type, stateKey);
    args.push(
      delayId,
      options.nowMs,
      options.maxPerUser,
      userKeyFromBase('', event.userId),
      encodeNewEvent(event),
      options.nowMs + event.delayMs,
      txnKey === undefined ? '' : txnKeyFromBase('', txnKey),
      `${options.nowMs + options.txnTtlMs}:${delayId}`,
      options.txnTtlMs,
      state?.key ?? '',
      state?.field ?? '',
      lengthPrefixed(delayId),
    );
  }
  return { script: 'addDelayedEvents', keys: [k.events, k.due, k.base], args };
}

/** @internal */
export function decodeAdd(reply: Reply, count: number): AddResult[] {
  const results: AddResult[] = [];
  for (let i = 0; i < count; i++) {
    const outcome = mapScriptStatus(reply[3 * i], 'addDelayedEvents');
    const nextDueAtMs = optionalNumber(reply[3 * i + 2]);
    results.push(
      outcome === 'max_outstanding'
        ? { ok: false, reason: 'max_outstanding', userNextSendAtMs: nextDueAtMs }
        : { ok: true, delayId: String(reply[3 * i + 1]), duplicate: outcome === 'duplicate', nextDueAtMs },
    );
  }
  return results;
}
