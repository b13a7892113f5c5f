/** `get-delayed-event-2.lua`: arguments and reply. @internal @packageDocumentation */
import type { StoredDelayedEvent } from '../../../core/store.js';
import type { DelayId } from '../../../core/types.js';
import { decodeStoredRecord } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import type { Reply, ScriptCall } from './call.js';

/** @internal */
export function getCall(k: RedisKeys, delayId: DelayId): ScriptCall {
  return { script: 'getDelayedEvent', keys: [k.events, k.due], args: [delayId] };
}

/** @internal */
export function decodeGet(delayId: DelayId, reply: Reply | null): StoredDelayedEvent | undefined {
  return reply === null ? undefined : decodeStoredRecord(delayId, String(reply[0]), reply[1]);
}
