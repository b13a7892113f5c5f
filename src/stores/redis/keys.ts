/**
 * The only place that builds Redis key names. Every key has the shape
 * `<prefix>:{<hashTag>}:<kind>[:<id>]`, so all keys of one deployment share a hash tag and live in one
 * Redis Cluster slot.
 *
 * Lua builds the per-event keys itself, from data it reads inside the script (the owner of an event
 * being finalised, the state key of an event being cancelled) or from the items of a batch:
 * `includes/keys.lua` mirrors {@link userKeyFromBase}, {@link stateSlotFromBase} and
 * {@link txnKeyFromBase}, always starting from the `base` key that the script receives in `KEYS`.
 * The integration tests check both sides agree.
 *
 * @internal
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { lengthPrefixed } from './codec.js';

/** Kind tags, kept short because every byte of a key name is paid for once per key. */
const KIND = {
  /** HASH: delayId → packed event record. */
  events: 'ev',
  /** ZSET: delayId scored by due time (sendAtMs when pending, leaseUntilMs when claimed). */
  due: 'due',
  /** ZSET per user: outstanding delayIds (score 0: membership and count for the cap). */
  user: 'u',
  /** HASH per state-index bucket: short hash of (room, type, state key) → packed delayIds. */
  state: 's',
  /** STRING per transaction key: `<expiresAtMs>:<delayId>`. */
  txn: 't',
  /** HASH per user: delayId → packed finalised record (retention, see encodeFinalised in codec.ts). */
  finalised: 'f',
  /** ZSET per user: the delayIds of `finalised`, scored by finalisedAtMs (for pruning by age and count). */
  finalisedAge: 'fz',
} as const;

/** Key names of one store. @internal */
export interface RedisKeys {
  /** `<prefix>:{<tag>}:`, passed to scripts that derive keys from stored data. */
  readonly base: string;
  /** The events hash. */
  readonly events: string;
  /** The due index. */
  readonly due: string;
  /** Pub/sub channel announcing a new earliest due time (not a key; carries the same tag for clarity). */
  readonly wakeChannel: string;
  /** Per-user outstanding index. */
  user(userId: string): string;
  /** The state-index bucket holding one (room, type, state key). */
  state(roomId: string, type: string, stateKey: string): string;
  /** Transaction record. */
  txn(txnKey: string): string;
  /** The owner's retained finalised records. */
  finalised(userId: string): string;
  /** The owner's retained finalised delay IDs by finalisation time. */
  finalisedAge(userId: string): string;
}

/** Characters that would break the `<prefix>:{<tag>}:` shape. */
const FORBIDDEN = /[{}]/;

/**
 * Checks a key prefix or hash tag: non-empty, no braces.
 *
 * @returns An error message, or `undefined` when the value is fine.
 * @internal
 */
export function checkKeyPart(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `${name} must be a non-empty string`;
  if (FORBIDDEN.test(value)) return `${name} must not contain "{" or "}" (got ${JSON.stringify(value)})`;
  return undefined;
}

/** `<base>u:<userId>`; mirrored by `userKey()` in `lua/includes/keys.lua`. @internal */
export function userKeyFromBase(base: string, userId: string): string {
  return `${base}${KIND.user}:${userId}`;
}

/** `<base>t:<txnKey>`; mirrored by `txnKey()` in `lua/includes/keys.lua`. @internal */
export function txnKeyFromBase(base: string, txnKey: string): string {
  return `${base}${KIND.txn}:${txnKey}`;
}

/** Buckets of the state index; mirrored by `STATE_BUCKETS` in `lua/includes/keys.lua`. @internal */
export const STATE_BUCKETS = 1024;

/**
 * Where the state index lists the pending events of one (room, type, state key): field `field` of
 * the bucket hash `key` = `<base>s:<bucket in hex>`. From `h` = SHA-1 (hex) of
 * `"<roomBytes>:<room><typeBytes>:<type><stateKey>"` (UTF-8 byte lengths make the triple
 * unambiguous): bucket = first 3 hex digits mod {@link STATE_BUCKETS}, field = the next 12. One
 * small hash per bucket instead of one key per triple saves a Redis key (~100 bytes) per pending
 * state event; buckets stay listpack-encoded (compact) up to `hash-max-listpack-entries` triples
 * each. Scripts compare the stored room, type and state key before acting, so a hash collision
 * cannot cancel the wrong event. Mirrored by `stateSlot()` in `lua/includes/keys.lua`.
 * @internal
 */
export function stateSlotFromBase(base: string, roomId: string, type: string, stateKey: string): { readonly key: string; readonly field: string } {
  const triple = `${lengthPrefixed(roomId)}${lengthPrefixed(type)}${stateKey}`;
  const h = createHash('sha1').update(triple, 'utf8').digest('hex');
  return { key: `${base}${KIND.state}:${(parseInt(h.slice(0, 3), 16) % STATE_BUCKETS).toString(16)}`, field: h.slice(3, 15) };
}

/**
 * Builds the key names of one store.
 *
 * @param prefix - Deployment prefix, e.g. `mde`.
 * @param hashTag - Hash tag shared by every key, e.g. `mde`.
 * @internal
 */
export function redisKeys(prefix: string, hashTag: string): RedisKeys {
  const base = `${prefix}:{${hashTag}}:`;
  return {
    base,
    events: `${base}${KIND.events}`,
    due: `${base}${KIND.due}`,
    wakeChannel: `${base}wake`,
    user: (userId) => userKeyFromBase(base, userId),
    state: (roomId, type, stateKey) => stateSlotFromBase(base, roomId, type, stateKey).key,
    txn: (txnKey) => txnKeyFromBase(base, txnKey),
    finalised: (userId) => `${base}${KIND.finalised}:${userId}`,
    finalisedAge: (userId) => `${base}${KIND.finalisedAge}:${userId}`,
  };
}
