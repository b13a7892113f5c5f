/**
 * The one error family of the library. Every expected failure is a {@link DelayedEventsError} with a
 * Matrix `errcode`, an HTTP status and typed fields (`retryAfterMs`, `maxDelayMs`, …). The wire form
 * (field names, the unstable errcode form, `Retry-After`) is written only by `ErrorMapper` in
 * `src/http/`.
 */

const BRAND = Symbol.for('matrix-delayed-events.error');

/** Matrix error codes this library produces. */
export type DelayedEventsErrcode =
  | 'M_MAX_DELAY_EXCEEDED'
  | 'M_MAX_DELAYED_EVENTS_EXCEEDED'
  | 'M_LIMIT_EXCEEDED'
  | 'M_NOT_FOUND'
  | 'M_INVALID_PARAM'
  | 'M_MISSING_PARAM'
  | 'M_NOT_JSON'
  | 'M_BAD_JSON'
  | 'M_TOO_LARGE'
  | 'M_UNRECOGNIZED'
  | 'M_FORBIDDEN'
  | 'M_MISSING_TOKEN'
  | 'M_UNKNOWN_TOKEN'
  | 'M_UNKNOWN';

/**
 * Base of every error the library throws on purpose. Recognise it with {@link isDelayedEventsError},
 * which, unlike `instanceof`, also works across the ESM and CJS copies of this package.
 */
export class DelayedEventsError extends Error {
  /** The Matrix error code (the stable one; `ErrorMapper` derives the unstable form). */
  readonly errcode: string;
  /** HTTP status the error maps to. */
  readonly httpStatus: number;
  /** When the client may retry, in ms from now (rate limits); `undefined` otherwise. */
  readonly retryAfterMs: number | undefined;

  /**
   * @param errcode - Matrix error code.
   * @param httpStatus - HTTP status.
   * @param message - Human-readable message; it is sent to the client as `error`.
   * @param options - Optional retry time and cause.
   */
  constructor(errcode: string, httpStatus: number, message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DelayedEventsError';
    this.errcode = errcode;
    this.httpStatus = httpStatus;
    this.retryAfterMs = options.retryAfterMs;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * A Matrix error from anywhere: the host's `sendEvent` or `authenticate` may throw it to refuse with a
 * specific status and errcode (e.g. 403 `M_FORBIDDEN` when power levels forbid the event).
 */
export class MatrixError extends DelayedEventsError {
  /** Extra fields for the response body, as the host wrote them (wire names). */
  readonly details: Readonly<Record<string, unknown>>;
  /**
   * @param httpStatus - HTTP status (4xx for a permanent refusal).
   * @param errcode - Matrix error code.
   * @param message - Human-readable message for the client.
   * @param options - Optional extra body fields, retry time and cause.
   */
  constructor(
    httpStatus: number,
    errcode: string,
    message: string,
    options: { details?: Record<string, unknown>; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(errcode, httpStatus, message, options);
    this.name = 'MatrixError';
    this.details = Object.freeze({ ...options.details });
  }
}

/** The delay ID is unknown, belongs to someone else, or the event was already sent or cancelled. */
export class DelayedEventNotFoundError extends DelayedEventsError {
  /**
   * How the requester's event left the schedule, when it did and is still retained (see the
   * scheduler's `retainFinalised`): lets the HTTP layer answer a repeated action by its outcome.
   */
  readonly finalisedOutcome: 'sent' | 'cancelled' | 'failed' | undefined;
  /** @param finalisedOutcome - How the requester's event left the schedule, if known. */
  constructor(finalisedOutcome?: 'sent' | 'cancelled' | 'failed') {
    super('M_NOT_FOUND', 404, 'No pending delayed event with that ID.');
    this.name = 'DelayedEventNotFoundError';
    this.finalisedOutcome = finalisedOutcome;
  }
}

/** The requested delay is longer than the server allows. */
export class MaxDelayExceededError extends DelayedEventsError {
  /** The largest delay allowed, in ms. */
  readonly maxDelayMs: number;
  /** @param maxDelayMs - The largest delay allowed, in ms. */
  constructor(maxDelayMs: number) {
    super('M_MAX_DELAY_EXCEEDED', 400, 'The requested delay exceeds the allowed maximum.');
    this.name = 'MaxDelayExceededError';
    this.maxDelayMs = maxDelayMs;
  }
}

/** The user already has the maximum number of outstanding delayed events. */
export class MaxOutstandingError extends DelayedEventsError {
  /** The cap that was reached. */
  readonly maxPerUser: number;
  /** When the user's earliest outstanding event is due, Unix ms, if known. */
  readonly userNextSendAtMs: number | undefined;
  /**
   * How long until the user's earliest outstanding event is due, in ms: when a slot may free up.
   * `undefined` when it is already due (being sent) or unknown.
   */
  readonly nextSendInMs: number | undefined;
  /**
   * @param maxPerUser - The cap that was reached.
   * @param userNextSendAtMs - When the user's earliest outstanding event is due.
   * @param nowMs - The time of the refusal, Unix ms.
   */
  constructor(maxPerUser: number, userNextSendAtMs?: number, nowMs?: number) {
    super('M_MAX_DELAYED_EVENTS_EXCEEDED', 400, 'The maximum number of delayed events has been reached.');
    this.name = 'MaxOutstandingError';
    this.maxPerUser = maxPerUser;
    this.userNextSendAtMs = userNextSendAtMs;
    this.nextSendInMs = userNextSendAtMs !== undefined && nowMs !== undefined && userNextSendAtMs > nowMs ? userNextSendAtMs - nowMs : undefined;
  }
}

/** A rate limit was hit; retry after {@link DelayedEventsError.retryAfterMs}. */
export class RateLimitedError extends DelayedEventsError {
  /** Which bucket ran out. */
  readonly bucket: string;
  /**
   * @param bucket - Which bucket ran out.
   * @param retryAfterMs - How long until a request would be allowed, in ms.
   */
  constructor(bucket: string, retryAfterMs: number) {
    super('M_LIMIT_EXCEEDED', 429, 'Too many requests; retry later.', {
      retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)),
    });
    this.name = 'RateLimitedError';
    this.bucket = bucket;
  }
}

/** The request is malformed: bad JSON, a missing or invalid parameter, a body too large. */
export class InvalidRequestError extends DelayedEventsError {
  /**
   * @param errcode - One of `M_INVALID_PARAM`, `M_MISSING_PARAM`, `M_NOT_JSON`, `M_BAD_JSON`, `M_TOO_LARGE`.
   * @param message - What is wrong, for the client.
   */
  constructor(
    errcode: 'M_INVALID_PARAM' | 'M_MISSING_PARAM' | 'M_NOT_JSON' | 'M_BAD_JSON' | 'M_TOO_LARGE',
    message: string,
  ) {
    super(errcode, errcode === 'M_TOO_LARGE' ? 413 : 400, message);
    this.name = 'InvalidRequestError';
  }
}

/** The request is not allowed at all (e.g. scheduling is disabled for the user). */
export class ForbiddenError extends DelayedEventsError {
  /** @param message - Why, for the client. */
  constructor(message: string) {
    super('M_FORBIDDEN', 403, message);
    this.name = 'ForbiddenError';
  }
}

/** The store could not be reached or failed; nothing was changed by the request. */
export class StoreUnavailableError extends DelayedEventsError {
  /** @param cause - The underlying fault (logged, never sent to clients). */
  constructor(cause?: unknown) {
    super('M_UNKNOWN', 503, 'Delayed events storage unavailable; retry later.', { cause });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Runs a store call; a fault of the store (anything but an error of this family) becomes a
 * {@link StoreUnavailableError}, so clients get 503 and the detail goes to the logger.
 *
 * @internal
 */
export async function storeCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isDelayedEventsError(error)) throw error;
    throw new StoreUnavailableError(error);
  }
}

/**
 * True for any error of this family, including ones thrown by another copy (ESM vs CJS) of the
 * package, where `instanceof` fails.
 */
export function isDelayedEventsError(value: unknown): value is DelayedEventsError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** What a Matrix-shaped error looks like, whoever threw it. */
export interface MatrixErrorShape {
  /** Matrix error code. */
  readonly errcode: string;
  /** HTTP status. */
  readonly httpStatus: number;
  /** Message for the client. */
  readonly message: string;
}

/**
 * Reads an error thrown by host code as a Matrix error: ours, matrix-js-sdk's `MatrixError`
 * (`httpStatus` + `errcode`), or any object with a numeric `statusCode`/`status` and a string `errcode`.
 * Returns `undefined` for anything else.
 */
export function asMatrixError(value: unknown): MatrixErrorShape | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Record<string, unknown>;
  const errcode = candidate['errcode'] ?? (candidate['data'] as Record<string, unknown> | undefined)?.['errcode'];
  const status = candidate['httpStatus'] ?? candidate['statusCode'] ?? candidate['status'];
  if (typeof errcode !== 'string' || typeof status !== 'number' || !Number.isInteger(status)) return undefined;
  if (status < 400 || status > 599) return undefined;
  const message = typeof candidate['message'] === 'string' ? candidate['message'] : errcode;
  return { errcode, httpStatus: status, message };
}
