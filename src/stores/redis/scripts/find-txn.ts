/** `find-txn-1.lua`: arguments and reply. @internal @packageDocumentation */
import type { DelayId } from '../../../core/types.js';
import type { RedisKeys } from '../keys.js';
import type { ScriptCall } from './call.js';

/** @internal */
export function findTxnCall(k: RedisKeys, txnKey: string, nowMs: number): ScriptCall {
  return { script: 'findTxn', keys: [k.txn(txnKey)], args: [nowMs] };
}

/** @internal */
export function decodeFindTxn(reply: unknown): DelayId | undefined {
  return typeof reply === 'string' ? reply : undefined;
}
