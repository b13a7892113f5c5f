/**
 * Status codes of the Lua scripts (`lua/includes/status.lua`) and their one translator.
 *
 * @internal
 * @packageDocumentation
 */

/** Numeric status codes, mirrored by `lua/includes/status.lua`. @internal */
export const ScriptStatus = {
  OK: 0,
  DUPLICATE: 1,
  NOT_FOUND: -1,
  MAX_OUTSTANDING: -5,
  RATE_LIMITED: -6,
} as const;

/** What a script's status means to the store contract. @internal */
export type ScriptOutcome = 'ok' | 'duplicate' | 'not_found' | 'max_outstanding' | 'rate_limited';

/**
 * Translates a script's status code into the store contract's terms. The scripts answer `NOT_FOUND`
 * alike for unknown events, events of another user, events being sent and lost claims: callers must
 * not learn which (Synapse answers 404 for each, so IDs of others are never confirmed).
 *
 * @param status - First element of the script's reply.
 * @param script - Script name, for the error message.
 * @throws Error when the status is not one the scripts return (a version mismatch or a bug).
 * @internal
 */
export function mapScriptStatus(status: unknown, script: string): ScriptOutcome {
  switch (status) {
    case ScriptStatus.OK:
      return 'ok';
    case ScriptStatus.DUPLICATE:
      return 'duplicate';
    case ScriptStatus.NOT_FOUND:
      return 'not_found';
    case ScriptStatus.MAX_OUTSTANDING:
      return 'max_outstanding';
    case ScriptStatus.RATE_LIMITED:
      return 'rate_limited';
    default:
      throw new Error(`Lua script ${script} returned an unknown status ${JSON.stringify(status)}`);
  }
}
