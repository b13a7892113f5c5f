/** `claim-due-events-2.lua`: arguments and reply. @internal @packageDocumentation */
import type { ClaimedDelayedEvent, ClaimOptions } from '../../../core/store.js';
import { decodeClaimedRecord } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import type { Reply, ScriptCall } from './call.js';

/** @internal */
export function claimDueCall(k: RedisKeys, options: ClaimOptions & { readonly max: number }): ScriptCall {
  return { script: 'claimDueEvents', keys: [k.events, k.due], args: [options.nowMs, options.leaseMs, options.claimToken, options.max] };
}

/** The script returns (delayId, claimed record) pairs, decoded here. @internal */
export function decodeClaimDue(reply: Reply, options: ClaimOptions): ClaimedDelayedEvent[] {
  const leaseUntilMs = options.nowMs + options.leaseMs;
  const events: ClaimedDelayedEvent[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) events.push(decodeClaimedRecord(String(reply[i]), String(reply[i + 1]), leaseUntilMs));
  return events;
}
