/**
 * The `next_batch` / `from` pagination token of the listing endpoint: an opaque, URL-safe encoding of
 * the store's {@link ListCursor}.
 */
import { InvalidRequestError } from '../core/errors.js';
import type { ListCursor } from '../core/store.js';

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
