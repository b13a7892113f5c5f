/** `read-store-stats-1.lua`: arguments and reply. @internal @packageDocumentation */
import type { RedisKeys } from '../keys.js';
import { optionalNumber, type Reply, type ScriptCall } from './call.js';

/** What the Redis store's `stats()` reports. @internal */
export interface RedisStoreStats {
  /** Outstanding events: pending and claimed, of every user. */
  readonly outstanding: number;
  /** Earliest due time; `undefined` when empty. */
  readonly nextDueAtMs: number | undefined;
}

/** @internal */
export function statsCall(k: RedisKeys): ScriptCall {
  return { script: 'readStoreStats', keys: [k.due], args: [] };
}

/** @internal */
export function decodeStats(reply: Reply): RedisStoreStats {
  return { outstanding: Number(reply[0]), nextDueAtMs: optionalNumber(reply[1]) };
}
