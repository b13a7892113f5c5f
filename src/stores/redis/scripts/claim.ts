/** `claim-delayed-event-2.lua`: arguments and reply. @internal @packageDocumentation */
import type { ClaimedDelayedEvent, ClaimOptions, EventOutcome, MutationResult } from '../../../core/store.js';
import type { DelayId } from '../../../core/types.js';
import { decodeClaimedRecord } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/** @internal */
export function claimCall(k: RedisKeys, delayId: DelayId, userId: string, options: ClaimOptions): ScriptCall {
  return { script: 'claimDelayedEvent', keys: [k.events, k.due], args: [delayId, userId, options.nowMs, options.leaseMs, options.claimToken] };
}

/** @internal */
export function decodeClaim(delayId: DelayId, reply: Reply, options: ClaimOptions): MutationResult<EventOutcome<ClaimedDelayedEvent>> {
  if (mapScriptStatus(reply[0], 'claimDelayedEvent') !== 'ok') return NOT_FOUND;
  return { ok: true, nextDueAtMs: optionalNumber(reply[1]), event: decodeClaimedRecord(delayId, String(reply[2]), options.nowMs + options.leaseMs) };
}
