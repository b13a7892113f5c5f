import { InvalidRequestError, MaxDelayExceededError } from './errors.js';
import { newDelayId, txnKey } from './ids.js';
import type { NewDelayedEvent } from './store.js';
import type { JsonObject, Requester, ScheduleRequest } from './types.js';

/** Longest identifier (room, type, state key, txn, delay ID) accepted, in UTF-16 code units. */
export const MAX_IDENTIFIER_LENGTH = 255;

/**
 * Validates a delay: an integer number of ms, 0 allowed, at most `maxDelayMs`.
 *
 * @throws {@link InvalidRequestError} `M_INVALID_PARAM` for negative, fractional, non-numeric or
 * unsafe values; {@link MaxDelayExceededError} above the maximum.
 */
export function validateDelay(delayMs: unknown, maxDelayMs: number): number {
  if (typeof delayMs !== 'number' || !Number.isSafeInteger(delayMs) || delayMs < 0) {
    throw new InvalidRequestError('M_INVALID_PARAM', 'The delay must be a non-negative integer number of milliseconds.');
  }
  if (delayMs > maxDelayMs) throw new MaxDelayExceededError(maxDelayMs);
  return delayMs;
}

/**
 * Validates a required identifier string.
 *
 * @throws {@link InvalidRequestError} `M_INVALID_PARAM`.
 */
export function validateIdentifier(value: unknown, name: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0) || value.length > MAX_IDENTIFIER_LENGTH) {
    throw new InvalidRequestError('M_INVALID_PARAM', `"${name}" must be a string of 1 to ${MAX_IDENTIFIER_LENGTH} characters.`);
  }
  return value;
}

/**
 * Validates event content (a JSON object) and serialises it once.
 *
 * @throws {@link InvalidRequestError} `M_BAD_JSON` for anything but a JSON-serialisable object.
 */
export function serialiseContent(content: unknown): string {
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw new InvalidRequestError('M_BAD_JSON', 'Event content must be a JSON object.');
  }
  try {
    return JSON.stringify(content as JsonObject);
  } catch {
    throw new InvalidRequestError('M_BAD_JSON', 'Event content must be serialisable as JSON.');
  }
}

/**
 * An identifier worth asking the store about (a delay ID or transaction ID): anything else cannot
 * exist, which is known without a round trip.
 */
export function isPlausibleId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_IDENTIFIER_LENGTH;
}

/** A requester given as a bare user ID or as user and device. */
export function asRequester(requester: Requester | string): Requester {
  return typeof requester === 'string' ? { userId: requester } : requester;
}

/**
 * Checks what a scheduling request means (identifiers, the delay against `maxDelayMs`, the content)
 * and builds the event to add, with a fresh delay ID.
 *
 * @throws {@link InvalidRequestError}, {@link MaxDelayExceededError}.
 */
export function validateScheduleRequest(request: ScheduleRequest, maxDelayMs: number): NewDelayedEvent {
  const txnId = request.txnId === undefined ? undefined : validateIdentifier(request.txnId, 'txnId');
  return {
    delayId: newDelayId(),
    userId: validateIdentifier(request.userId, 'userId'),
    deviceId: request.deviceId,
    roomId: validateIdentifier(request.roomId, 'roomId'),
    type: validateIdentifier(request.type, 'type'),
    stateKey: request.stateKey === undefined ? undefined : validateIdentifier(request.stateKey, 'stateKey', true),
    delayMs: validateDelay(request.delayMs, maxDelayMs),
    contentJson: serialiseContent(request.content),
    txnKey: txnId === undefined ? undefined : txnKey(request, txnId),
  };
}

/** A listing's page size: the caller's `limit` when it is a positive integer, at most `maxPageSize`. */
export function pageSizeFor(limit: number | undefined, maxPageSize: number): number {
  return limit !== undefined && Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, maxPageSize) : maxPageSize;
}
