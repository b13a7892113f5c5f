/** `reschedule-delayed-event-2.lua`: arguments and reply. @internal @packageDocumentation */
import type { MutationResult } from '../../../core/store.js';
import type { DelayId } from '../../../core/types.js';
import type { RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/** @internal */
export function rescheduleCall(k: RedisKeys, delayId: DelayId, claimToken: string, sendAtMs: number, attempts: number): ScriptCall {
  return { script: 'rescheduleDelayedEvent', keys: [k.events, k.due], args: [delayId, claimToken, sendAtMs, attempts, k.wakeChannel] };
}

/** @internal */
export function decodeReschedule(reply: Reply): MutationResult {
  if (mapScriptStatus(reply[0], 'rescheduleDelayedEvent') !== 'ok') return NOT_FOUND;
  return { ok: true, nextDueAtMs: optionalNumber(reply[1]) };
}
