import { randomBytes } from 'node:crypto';
import { InvalidRequestError } from './errors.js';
import type { ListCursor } from '../stores/store.js';

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

/** Encodes a list position as an opaque `next_batch` token. */
export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(`${cursor.sendAtMs}.${cursor.delayId}`, 'utf8').toString('base64url');
}

/**
 * Decodes a `from` token made by {@link encodeCursor}.
 *
 * @throws {@link InvalidRequestError} `M_INVALID_PARAM` for anything else.
 */
export function decodeCursor(token: string): ListCursor {
  const text = token.length <= 512 ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const dot = text.indexOf('.');
  const sendAtMs = Number(text.slice(0, dot));
  const delayId = text.slice(dot + 1);
  if (dot <= 0 || !Number.isSafeInteger(sendAtMs) || delayId.length === 0 || encodeCursor({ sendAtMs, delayId }) !== token) {
    throw new InvalidRequestError('M_INVALID_PARAM', 'Invalid pagination token in "from".');
  }
  return { sendAtMs, delayId };
}
