import { InvalidRequestError, MaxDelayExceededError } from './errors.js';
import type { JsonObject, Requester } from './types.js';

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
