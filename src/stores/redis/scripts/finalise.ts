/** `finalise-delayed-event-3.lua`: arguments and reply. @internal @packageDocumentation */
import type { MutationResult } from '../../../core/store.js';
import type { DelayId } from '../../../core/types.js';
import type { RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/** @internal */
export function finaliseCall(k: RedisKeys, delayId: DelayId, claimToken: string): ScriptCall {
  return { script: 'finaliseDelayedEvent', keys: [k.events, k.due, k.base], args: [delayId, claimToken] };
}

/** @internal */
export function decodeFinalise(reply: Reply): MutationResult {
  if (mapScriptStatus(reply[0], 'finaliseDelayedEvent') !== 'ok') return NOT_FOUND;
  return { ok: true, nextDueAtMs: optionalNumber(reply[1]) };
}
