/** `cancel-by-state-key-4.lua`: arguments and reply. @internal @packageDocumentation */
import type { CancelByStateKeyResult, StateKeyFilter } from '../../../core/store.js';
import { decodeRecordTriples } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import { optionalNumber, type Reply, type ScriptCall } from './call.js';

/** @internal */
export function cancelByStateKeyCall(k: RedisKeys, filter: StateKeyFilter): ScriptCall {
  return {
    script: 'cancelByStateKey',
    keys: [k.events, k.due, k.state(filter.roomId, filter.type, filter.stateKey), k.base],
    args: [filter.keepUserId ?? '', filter.keepUserId === undefined ? '0' : '1', filter.roomId, filter.type, filter.stateKey],
  };
}

/** @internal */
export function decodeCancelByStateKey(reply: Reply): CancelByStateKeyResult {
  return { nextDueAtMs: optionalNumber(reply[0]), cancelled: decodeRecordTriples(reply, 1) };
}
