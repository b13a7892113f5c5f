/** `finalise-delayed-events-3.lua`: arguments and reply. @internal @packageDocumentation */
import type { ClaimedDelayedEvent, MutationResult } from '../../../core/store.js';
import { stateSlotFromBase, type RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/**
 * Passing the owner and the state-index slot from the claimed fields spares the script decoding each
 * record beyond its claim token and hashing the slot: redis-server is what every worker shares.
 * @internal
 */
export function finaliseManyCall(k: RedisKeys, events: readonly ClaimedDelayedEvent[]): ScriptCall {
  const args: string[] = [];
  for (const event of events) {
    if (event.stateKey === undefined) args.push(event.delayId, event.claimToken, event.userId, '', '');
    else {
      const slot = stateSlotFromBase(k.base, event.roomId, event.type, event.stateKey);
      args.push(event.delayId, event.claimToken, event.userId, slot.key, slot.field);
    }
  }
  return { script: 'finaliseDelayedEvents', keys: [k.events, k.due, k.base], args };
}

/** @internal */
export function decodeFinaliseMany(reply: Reply, count: number): MutationResult[] {
  // Every item of a batch sees the same earliest due time: the one after the whole batch.
  const done = { ok: true, nextDueAtMs: optionalNumber(reply[count]) } as const;
  const results: MutationResult[] = [];
  for (let i = 0; i < count; i++) results.push(mapScriptStatus(reply[i], 'finaliseDelayedEvents') === 'ok' ? done : NOT_FOUND);
  return results;
}
