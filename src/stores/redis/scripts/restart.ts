/** `restart-delayed-events-n.lua`: arguments and reply. @internal @packageDocumentation */
import type { MutationResult, RestartOutcome } from '../../../core/store.js';
import type { DelayId } from '../../../core/types.js';
import { lengthPrefixed } from '../codec.js';
import type { FusedCharge } from '../fused-charge.js';
import type { RedisKeys } from '../keys.js';
import { mapScriptStatus } from '../script-status.js';
import { NOT_FOUND, optionalNumber, type Reply, type ScriptCall } from './call.js';

/** One restart of a batch. @internal */
export interface RestartItem {
  readonly delayId: DelayId;
  readonly userId: string;
  readonly nowMs: number;
  /** The `manage` point to take in the script first, when the pair's limiter offered one. */
  readonly charge: FusedCharge | undefined;
}

/** @internal */
export type RestartResult = MutationResult<RestartOutcome>;

/** A restart whose charge was refused (the event was not touched). @internal */
export interface RestartRefused {
  readonly ok: false;
  readonly reason: 'rate_limited';
  readonly retryAfterMs: number;
}

/**
 * Each charge's counter goes in KEYS (after the events hash and the due index, once per distinct
 * counter), so ioredis applies a client `keyPrefix` to it as rate-limiter-flexible's own scripts get it.
 * @internal
 */
export function restartCall(k: RedisKeys, items: readonly RestartItem[]): ScriptCall {
  const keys = [k.events, k.due];
  const counters = new Map<string, number>();
  const args: (string | number)[] = [k.wakeChannel];
  for (const { delayId, userId, nowMs, charge } of items) {
    // The owner as records store it, so the script compares it without decoding.
    args.push(delayId, lengthPrefixed(userId), nowMs);
    if (charge === undefined) {
      args.push(0, 0, 0, 0);
      continue;
    }
    let index = counters.get(charge.key);
    if (index === undefined) {
      index = keys.push(charge.key);
      counters.set(charge.key, index);
    }
    args.push(index, charge.limit, charge.secDuration, charge.blockMs);
  }
  return { script: 'restartDelayedEvents', keys, args };
}

/** @internal */
export function decodeRestart(reply: Reply, count: number): (RestartResult | RestartRefused)[] {
  const results: (RestartResult | RestartRefused)[] = [];
  for (let i = 0; i < count; i++) {
    const outcome = mapScriptStatus(reply[3 * i], 'restartDelayedEvents');
    if (outcome === 'rate_limited') results.push({ ok: false, reason: 'rate_limited', retryAfterMs: Number(reply[3 * i + 1]) });
    else if (outcome !== 'ok') results.push(NOT_FOUND);
    else results.push({ ok: true, nextDueAtMs: optionalNumber(reply[3 * i + 1]), sendAtMs: Number(reply[3 * i + 2]) });
  }
  return results;
}
