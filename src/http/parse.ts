/**
 * Validation of what clients send: the delay parameter, path segments, JSON bodies and management
 * actions. Every failure is an {@link InvalidRequestError}; the handler maps it to a response.
 */
import { InvalidRequestError } from '../core/errors.js';
import type { JsonObject } from '../core/types.js';
import { DELAY_PARAM, UNSTABLE_DELAY_PARAM, isDelayedEventAction } from './routes.js';
import type { DelayedEventAction } from './routes.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Reads the delay in ms from `delay` or `org.matrix.msc4140.delay`.
 *
 * @remarks
 * The value must be decimal digits only (no sign, no fraction, no exponent, no spaces) and at most
 * `Number.MAX_SAFE_INTEGER`. A parameter given twice, or both parameters with different values, is
 * rejected as ambiguous. The scheduler then checks the server's maximum.
 *
 * @throws {@link InvalidRequestError} `M_INVALID_PARAM` when the value is not such a number.
 */
export function parseDelay(query: URLSearchParams): number {
  const stable = query.getAll(DELAY_PARAM);
  const unstable = query.getAll(UNSTABLE_DELAY_PARAM);
  if (stable.length > 1 || unstable.length > 1) {
    throw new InvalidRequestError('M_INVALID_PARAM', 'The delay parameter was given more than once.');
  }
  const value = unstable[0] ?? stable[0];
  if (value === undefined) throw new InvalidRequestError('M_MISSING_PARAM', 'Missing delay parameter.');
  if (stable[0] !== undefined && unstable[0] !== undefined && stable[0] !== unstable[0]) {
    throw new InvalidRequestError('M_INVALID_PARAM', 'delay and org.matrix.msc4140.delay disagree.');
  }
  const length = value.length;
  let ok = length > 0;
  for (let i = 0; ok && i < length; i++) {
    const c = value.charCodeAt(i);
    ok = c >= 48 && c <= 57;
  }
  if (!ok) {
    throw new InvalidRequestError('M_INVALID_PARAM', 'The delay must be a non-negative integer number of milliseconds.');
  }
  // Leading zeros are allowed, so compare the number rather than the length.
  const delayMs = Number(value);
  if (delayMs > Number.MAX_SAFE_INTEGER) {
    throw new InvalidRequestError('M_INVALID_PARAM', 'The delay is too large.');
  }
  return delayMs;
}

/**
 * Decodes one path segment once (`decodeURIComponent`), so `%2F` becomes a literal `/` inside the
 * value and never a path separator.
 *
 * @throws {@link InvalidRequestError} `M_INVALID_PARAM` on a malformed escape such as `%E0%A4%A`.
 */
export function decodeSegment(raw: string, name: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidRequestError('M_INVALID_PARAM', `Malformed percent-encoding in ${name}.`);
  }
}

/** Outcome of {@link readJsonBody}. */
export type JsonBodyResult =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'json'; readonly value: unknown };

const ABSENT: JsonBodyResult = Object.freeze({ kind: 'absent' });
const INVALID: JsonBodyResult = Object.freeze({ kind: 'invalid' });

/**
 * Parses a raw body as JSON. An empty or whitespace-only body counts as absent; bytes that are not
 * UTF-8 or text that is not JSON count as invalid.
 */
export function readJsonBody(body: string | Uint8Array | undefined): JsonBodyResult {
  if (body === undefined || body.length === 0) return ABSENT;
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = utf8.decode(body);
    } catch {
      return INVALID;
    }
  }
  if (text.trim() === '') return ABSENT;
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return INVALID;
  }
}

/** True for a plain JSON object (not an array, not `null`). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The event content of a scheduling request.
 *
 * @throws {@link InvalidRequestError} `M_NOT_JSON` when the body is absent or not JSON, `M_BAD_JSON`
 * when it is JSON but not an object.
 */
export function requireContent(body: JsonBodyResult): JsonObject {
  if (body.kind !== 'json') throw new InvalidRequestError('M_NOT_JSON', 'Content not JSON.');
  if (!isJsonObject(body.value)) throw new InvalidRequestError('M_BAD_JSON', 'Content must be a JSON object.');
  return body.value;
}

/**
 * The content of a scheduling request: {@link requireContent}, and no number that JSON cannot carry.
 *
 * @remarks
 * `JSON.parse` turns an overflowing literal such as `1e400` into `Infinity`, which would be stored as
 * `null`. Rather than change the client's content silently, such a body is refused. The walk uses an
 * explicit stack, so deeply nested input cannot overflow the call stack.
 *
 * @throws {@link InvalidRequestError} as {@link requireContent}, and `M_BAD_JSON` for a number out of
 * the range of a double.
 */
export function requireEventContent(body: JsonBodyResult): JsonObject {
  const content = requireContent(body);
  const stack: unknown[] = [content];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new InvalidRequestError('M_BAD_JSON', 'Content contains a number out of range.');
    } else if (typeof value === 'object' && value !== null) {
      if (Array.isArray(value)) {
        for (const item of value) stack.push(item);
      } else {
        for (const key in value) stack.push((value as Record<string, unknown>)[key]);
      }
    }
  }
  return content;
}

/**
 * The `action` of a body-form management request (`{"action": "send"|"cancel"|"restart"}`).
 *
 * @throws {@link InvalidRequestError} `M_NOT_JSON` when the body is absent or not JSON; `M_BAD_JSON`
 * when it is not an object; `M_MISSING_PARAM` without `action`; `M_INVALID_PARAM` when `action` is
 * not one of the three strings.
 */
export function requireAction(body: JsonBodyResult): DelayedEventAction {
  const object = requireContent(body);
  if (!Object.prototype.hasOwnProperty.call(object, 'action')) {
    throw new InvalidRequestError('M_MISSING_PARAM', "'action' is missing.");
  }
  const action = object['action'];
  if (!isDelayedEventAction(action)) {
    throw new InvalidRequestError('M_INVALID_PARAM', "'action' must be one of send, cancel, restart.");
  }
  return action;
}

/** Size of a raw body in bytes (UTF-8 for strings). */
export function bodyByteLength(body: string | Uint8Array | undefined): number {
  if (body === undefined) return 0;
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
}

/** The body of the 2026 revision's `PUT …/rooms/{roomId}/delayed_event/{eventType}/{txnId}`. */
export interface DelayedEventBody {
  /** `delay_ms`: a positive integer. */
  readonly delayMs: number;
  /** `state_key`, for a state event. */
  readonly stateKey: string | undefined;
  /** `content`. */
  readonly content: JsonObject;
}

/**
 * Reads `{ delay_ms, state_key?, content }`.
 *
 * @throws {@link InvalidRequestError} `M_NOT_JSON` when the body is absent or not JSON; `M_BAD_JSON`
 * when it is not an object, or `content` is not an object (or holds a number out of range);
 * `M_MISSING_PARAM` without `delay_ms` or `content`; `M_INVALID_PARAM` when `delay_ms` is not a
 * positive integer or `state_key` is not a string.
 */
export function requireDelayedEventBody(body: JsonBodyResult): DelayedEventBody {
  const object = requireContent(body);
  const has = (name: string) => Object.prototype.hasOwnProperty.call(object, name);
  if (!has('delay_ms')) throw new InvalidRequestError('M_MISSING_PARAM', "'delay_ms' is missing.");
  const delayMs = object['delay_ms'];
  if (typeof delayMs !== 'number' || !Number.isSafeInteger(delayMs) || delayMs <= 0) {
    throw new InvalidRequestError('M_INVALID_PARAM', "'delay_ms' must be a positive integer number of milliseconds.");
  }
  const stateKey = object['state_key'];
  if (has('state_key') && typeof stateKey !== 'string') throw new InvalidRequestError('M_INVALID_PARAM', "'state_key' must be a string.");
  if (!has('content')) throw new InvalidRequestError('M_MISSING_PARAM', "'content' is missing.");
  const content = requireEventContent({ kind: 'json', value: object['content'] });
  return { delayMs, stateKey: stateKey as string | undefined, content };
}
