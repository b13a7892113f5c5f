/** `retain-finalised-events-n.lua`: arguments. @internal @packageDocumentation */
import type { FinalisedDelayedEvent, RetentionOptions } from '../../../core/store.js';
import { encodeFinalised } from '../codec.js';
import type { RedisKeys } from '../keys.js';
import type { ScriptCall } from './call.js';

/**
 * How long past `maxAgeMs` an owner's retention keys outlive their last write on the server, so that
 * the age of a record is decided by `nowMs` (the caller's clock) and not by Redis's clock; the same
 * grace as transaction records (`TXN_GRACE_MS` in add-one.lua).
 * @internal
 */
export const RETENTION_GRACE_MS = 60_000;

/**
 * Groups the batch by owner here rather than in Lua, so that every key the script touches is in KEYS
 * (built by keys.ts, prefixed by ioredis for a client `keyPrefix`, and declared as Redis Cluster
 * expects). Records keep their order within an owner, so a delay ID twice in one batch keeps the later.
 * @internal
 */
export function retainCall(k: RedisKeys, events: readonly FinalisedDelayedEvent[], options: RetentionOptions): ScriptCall {
  const byOwner = new Map<string, (string | number)[]>();
  for (const event of events) {
    let items = byOwner.get(event.userId);
    if (items === undefined) {
      items = [];
      byOwner.set(event.userId, items);
    }
    items.push(event.delayId, event.finalisedAtMs, encodeFinalised(event));
  }
  const keys: string[] = [];
  const args: (string | number)[] = [options.nowMs, options.maxAgeMs, options.maxPerUser, options.maxAgeMs + RETENTION_GRACE_MS];
  for (const [userId, items] of byOwner) {
    keys.push(k.finalised(userId), k.finalisedAge(userId));
    args.push(items.length / 3, ...items);
  }
  return { script: 'retainFinalisedEvents', keys, args };
}
