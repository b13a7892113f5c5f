import { randomBytes } from 'node:crypto';
import type { Requester } from './types.js';

/**
 * Random bytes drawn from `crypto` in blocks and handed out once each: one `randomBytes` call costs
 * microseconds, a slice of a block a fraction of that (Node's `randomUUID` caches entropy the same
 * way). Every ID still gets its own fresh bytes.
 */
const POOL_BYTES = 4608;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomBase64url(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const text = pool.toString('base64url', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return text;
}

/** A new delay ID: 144 random bits from `crypto`, base64url (24 characters, URL-safe, unguessable). */
export function newDelayId(): string {
  return randomBase64url(18);
}

/** A unique token for one claim by this process. */
export function newClaimToken(): string {
  return randomBase64url(12);
}

/** The store's key of a transaction ID: scoped to the requester's user and device. */
export function txnKey(requester: Requester, txnId: string): string {
  return `${requester.userId}\u0000${requester.deviceId ?? ''}\u0000${txnId}`;
}
