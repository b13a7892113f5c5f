import { asMatrixError, isDelayedEventsError, type DelayedEventsError, type MatrixError, type MaxDelayExceededError, type MaxOutstandingError } from '../core/errors.js';
import type { SpecProfile } from '../core/options.js';
import type { Logger } from '../core/types.js';

/**
 * How MSC4140's own error codes are written:
 * - `"stable"`: errcode `M_MAX_DELAY_EXCEEDED` with `max_delay`.
 * - `"unstable"`, for requests made on the unstable prefix: errcode `M_UNKNOWN` with
 *   `org.matrix.msc4140.errcode` set to `M_MAX_DELAY_EXCEEDED` and `org.matrix.msc4140.max_delay`.
 */
export type ErrorStyle = 'stable' | 'unstable';

/** An HTTP response, ready to write. */
export interface ErrorResponse {
  /** HTTP status. */
  readonly status: number;
  /** Response headers (`Retry-After` on 429s). */
  readonly headers: Record<string, string>;
  /** The JSON body: `errcode`, `error` and any extra fields. */
  readonly body: Record<string, unknown>;
}

/** Options of {@link ErrorMapper}. */
export interface ErrorMapperOptions {
  /** Receives the detail of unexpected errors, which clients never see. */
  readonly logger?: Logger;
  /**
   * Whose error table to use. `"msc4140-2026"` answers a delay over the maximum with 403 `M_FORBIDDEN`
   * and a user at the cap with 429 `M_LIMIT_EXCEEDED` and a `Retry-After` of the seconds until that
   * user's next scheduled send (omitted when it is being sent).
   * @defaultValue `"msc4140-2024"`
   */
  readonly profile?: SpecProfile;
}

const MSC4140_ERRCODES = new Set(['M_MAX_DELAY_EXCEEDED', 'M_MAX_DELAYED_EVENTS_EXCEEDED']);
/** The prefix of MSC4140's unstable errcode and fields. */
const UNSTABLE_PREFIX = 'org.matrix.msc4140.';

/** The body fields beyond `errcode` and `error` that an error of this library carries, by wire name. */
function extraFields(error: DelayedEventsError): Record<string, unknown> | undefined {
  // errcode (not instanceof) identifies the class, so errors from another copy of the package map too.
  if (error.errcode === 'M_MAX_DELAY_EXCEEDED') return { max_delay: (error as MaxDelayExceededError).maxDelayMs };
  // A host's MatrixError carries its extra fields already in wire form.
  return (error as Partial<MatrixError>).details;
}

/**
 * Turns any error into a Matrix error response. Errors of this library keep their status and errcode;
 * Matrix errors thrown by host code (anything with a 4xx/5xx `httpStatus`/`statusCode` and an `errcode`)
 * pass through; anything else becomes a generic 500 `M_UNKNOWN`, with the detail sent to the logger.
 *
 * @example
 * ```ts
 * const mapper = new ErrorMapper({ logger: console });
 * const { status, headers, body } = mapper.toResponse(error, 'unstable');
 * ```
 */
export class ErrorMapper {
  private readonly logger: Logger;
  private readonly profile: SpecProfile;

  /** @param options - Where unexpected errors are logged, and the profile's error table. */
  constructor(options: ErrorMapperOptions = {}) {
    this.logger = options.logger ?? {};
    this.profile = options.profile ?? 'msc4140-2024';
  }

  /** Maps `error` to a response in the given style. Never throws. */
  toResponse(error: unknown, style: ErrorStyle = 'stable'): ErrorResponse {
    if (isDelayedEventsError(error) && this.profile === 'msc4140-2026') {
      const answer = table2026(error);
      if (answer !== undefined) return answer;
    }
    if (isDelayedEventsError(error)) {
      if (error.httpStatus >= 500) this.logger.error?.({ err: error.cause ?? error }, `delayed events: ${error.message}`);
      let body: Record<string, unknown> = { errcode: error.errcode, error: error.message, ...extraFields(error) };
      if (style === 'unstable' && MSC4140_ERRCODES.has(error.errcode)) body = unstableForm(body);
      const headers: Record<string, string> = {};
      if (error.retryAfterMs !== undefined) {
        headers['Retry-After'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
        body['retry_after_ms'] = error.retryAfterMs;
      }
      return { status: error.httpStatus, headers, body };
    }
    const matrixError = asMatrixError(error);
    if (matrixError !== undefined) {
      return { status: matrixError.httpStatus, headers: {}, body: { errcode: matrixError.errcode, error: matrixError.message } };
    }
    this.logger.error?.({ err: error }, 'delayed events: unexpected error');
    return { status: 500, headers: {}, body: { errcode: 'M_UNKNOWN', error: 'Internal server error.' } };
  }
}

/**
 * The 2026 revision's answers for the limits: the standard error codes rather than MSC4140's own.
 * `undefined` for errors it answers as the 2024 table does.
 */
function table2026(error: DelayedEventsError): ErrorResponse | undefined {
  if (error.errcode === 'M_MAX_DELAY_EXCEEDED') {
    return { status: 403, headers: {}, body: { errcode: 'M_FORBIDDEN', error: error.message } };
  }
  if (error.errcode === 'M_MAX_DELAYED_EVENTS_EXCEEDED') {
    const inMs = (error as MaxOutstandingError).nextSendInMs;
    const headers: Record<string, string> = inMs === undefined ? {} : { 'Retry-After': String(Math.ceil(inMs / 1000)) };
    return { status: 429, headers, body: { errcode: 'M_LIMIT_EXCEEDED', error: error.message } };
  }
  return undefined;
}

function unstableForm(stable: Record<string, unknown>): Record<string, unknown> {
  const unstable: Record<string, unknown> = {
    errcode: 'M_UNKNOWN',
    error: stable['error'],
    [`${UNSTABLE_PREFIX}errcode`]: stable['errcode'],
  };
  for (const [key, value] of Object.entries(stable)) {
    if (key !== 'errcode' && key !== 'error') unstable[`${UNSTABLE_PREFIX}${key}`] = value;
  }
  return unstable;
}
