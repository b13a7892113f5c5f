/** `list-delayed-events-3.lua`: arguments and reply. @internal @packageDocumentation */
import type { ListCursor, StoredDelayedEvent } from '../../../core/store.js';
import { decodeRecordTriples } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import type { Reply, ScriptCall } from './call.js';

/** @internal */
export function listCall(k: RedisKeys, userId: string, after: ListCursor | undefined, limit: number): ScriptCall {
  return { script: 'listDelayedEvents', keys: [k.events, k.due, k.user(userId)], args: [after?.sendAtMs ?? '', after?.delayId ?? '', limit] };
}

/** @internal */
export function decodeList(reply: Reply): StoredDelayedEvent[] {
  return decodeRecordTriples(reply);
}
