/** `read-store-stats-1.lua`: arguments and reply. @internal @packageDocumentation */
import type { StoreStats } from '../../../core/store.js';
import type { RedisKeys } from '../keys.js';
import { optionalNumber, type Reply, type ScriptCall } from './call.js';

/** @internal */
export function statsCall(k: RedisKeys): ScriptCall {
  return { script: 'readStoreStats', keys: [k.due], args: [] };
}

/** @internal */
export function decodeStats(reply: Reply): StoreStats {
  return { outstanding: Number(reply[0]), nextDueAtMs: optionalNumber(reply[1]) };
}
