/**
 * The only place that builds Redis key names. Every key has the shape
 * `<prefix>:{<hashTag>}:<kind>[:<id>]`, so all keys of one deployment share a hash tag and live in one
 * Redis Cluster slot.
 *
 * Lua builds the per-event keys itself, from data it reads inside the script (the owner of an event
 * being finalised, the state key of an event being cancelled) or from the items of a batch:
 * `includes/keys.lua` mirrors {@link userKeyFromBase}, {@link stateKeyFromBase} and
 * {@link txnKeyFromBase}, always starting from the `base` key that the script receives in `KEYS`.
 * The integration tests check both sides agree.
 *
 * @internal
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';

/** Kind tags, kept short because every byte of a key name is paid for once per key. */
const KIND = {
  /** HASH: delayId → packed event record. */
  events: 'ev',
  /** ZSET: delayId scored by due time (sendAtMs when pending, leaseUntilMs when claimed). */
  due: 'due',
  /** ZSET per user: outstanding delayIds (score 0: membership and count for the cap). */
  user: 'u',
  /** ZSET per (room, type, state key), by hash: delayIds of its state events (score 0). */
  state: 's',
  /** STRING per transaction key: `<expiresAtMs>:<delayId>`. */
  txn: 't',
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
  /** Pending state events of one (room, type, state key). */
  state(roomId: string, type: string, stateKey: string): string;
  /** Transaction record. */
  txn(txnKey: string): string;
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

/**
 * `<base>s:<first 16 hex digits of SHA-1("<roomBytes>:<room><typeBytes>:<type><stateKey>")>`. Byte
 * lengths (UTF-8) make the triple unambiguous; hashing keeps the key short (MatrixRTC state keys are
 * long, and there is one such key per pending state event). Scripts compare the stored room, type
 * and state key before acting, so a hash collision cannot cancel the wrong event. Mirrored by
 * `stateKey()` in `lua/includes/keys.lua`.
 * @internal
 */
export function stateKeyFromBase(base: string, roomId: string, type: string, stateKey: string): string {
  const triple = `${Buffer.byteLength(roomId)}:${roomId}${Buffer.byteLength(type)}:${type}${stateKey}`;
  return `${base}${KIND.state}:${createHash('sha1').update(triple, 'utf8').digest('hex').slice(0, 16)}`;
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
    state: (roomId, type, stateKey) => stateKeyFromBase(base, roomId, type, stateKey),
    txn: (txnKey) => txnKeyFromBase(base, txnKey),
  };
}
