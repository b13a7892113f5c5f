/**
 * What every script module builds: the script's name, its KEYS and its ARGV. Each module in this
 * folder is the TypeScript side of one Lua script in `../lua/` (arguments builder and reply decoder),
 * so `redis-store.ts` only orchestrates.
 *
 * @internal
 * @packageDocumentation
 */
import type { luaScripts } from '../lua/scripts.generated.js';

/** One script call. @internal */
export interface ScriptCall {
  readonly script: keyof typeof luaScripts;
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
}

/** A script reply as ioredis hands it over. @internal */
export type Reply = readonly unknown[];

/** A number, or `undefined` for Lua's false/nil. @internal */
export function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined || value === false ? undefined : Number(value);
}

/** The answer for an event not in a state the operation applies to. @internal */
export const NOT_FOUND = { ok: false, reason: 'not_found' } as const;
