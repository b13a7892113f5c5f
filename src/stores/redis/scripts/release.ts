/** `release-delayed-events-2.lua`: arguments and reply. @internal @packageDocumentation */
import type { ClaimedDelayedEvent, MutationResult } from '../../../core/store.js';
import type { RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/** @internal */
export function releaseCall(k: RedisKeys, events: readonly ClaimedDelayedEvent[]): ScriptCall {
  const args: string[] = [k.wakeChannel];
  for (const event of events) args.push(event.delayId, event.claimToken);
  return { script: 'releaseDelayedEvents', keys: [k.events, k.due], args };
}

/** @internal */
export function decodeRelease(reply: Reply, count: number): MutationResult[] {
  // Every item of a batch sees the same earliest due time: the one after the whole batch.
  const done = { ok: true, nextDueAtMs: optionalNumber(reply[count]) } as const;
  const results: MutationResult[] = [];
  for (let i = 0; i < count; i++) results.push(mapScriptStatus(reply[i], 'releaseDelayedEvents') === 'ok' ? done : NOT_FOUND);
  return results;
}
