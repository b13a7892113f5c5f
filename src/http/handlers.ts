/**
 * Framework-agnostic handlers of the MSC4140 Client-Server endpoints: a request-like object in, a
 * `{ status, headers, body }` response out (or `undefined`: not ours). They never throw.
 */
import type { DelayedEventScheduler } from '../core/delayed-event-scheduler.js';
import { ErrorMapper } from './error-mapper.js';
import type { ErrorStyle } from './error-mapper.js';
import { ConfigError } from '../core/config-error.js';
import { asMatrixError, InvalidRequestError, isDelayedEventsError, MatrixError, type DelayedEventNotFoundError } from '../core/errors.js';
import type { SchedulerMetrics } from '../core/metrics.js';
import { SPEC_PROFILES, type SpecProfile } from '../core/options.js';
import type { Logger, Requester } from '../core/types.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { bodyByteLength, decodeSegment, parseDelay, readJsonBody, requireAction, requireDelayedEventBody, requireEventContent } from './parse.js';
import { wireProfile, type WireProfile } from './profiles.js';
import type { JsonBodyResult } from './parse.js';
import { matchRoute } from './routes.js';
import type { DelayedEventAction, DelayedEventsRoute, ManageRoute, ScheduleRoute, UnrecognizedRoute } from './routes.js';

/** A request as any HTTP framework can describe it. */
export interface HandlerRequest {
  /** HTTP method, upper case (`PUT`, `POST`, `GET`, …). */
  readonly method: string;
  /** The raw path: still percent-encoded, without the query string. */
  readonly path: string;
  /** The parsed query string. */
  readonly query: URLSearchParams;
  /** Request headers, as `node:http` gives them (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw body, or `undefined` when there is none. */
  readonly body: string | Uint8Array | undefined;
  /**
   * A body the framework already parsed as JSON (e.g. by `express.json()`). When not `undefined`, it
   * is used instead of {@link HandlerRequest.body}.
   */
  readonly parsedBody?: unknown;
  /**
   * The framework's own request object (the adapters set it), for `authenticate` functions that need
   * more than the headers, e.g. a user a previous middleware attached.
   */
  readonly raw?: unknown;
}

/** A response to write back: a JSON object body with its status and headers. */
export interface HandlerResponse {
  /** HTTP status. */
  readonly status: number;
  /**
   * Headers to send, with lower-case names; always includes `content-type: application/json`, plus
   * `retry-after` on 429 and `allow` on 405.
   */
  readonly headers: Record<string, string>;
  /** The JSON body; serialise it with `JSON.stringify`. */
  readonly body: Record<string, unknown>;
}

/**
 * Resolves the requester of a request, typically from its access token. Throw a Matrix error to
 * refuse, e.g. `new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token')` or
 * `new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token')`; it is sent as it is.
 */
export type AuthenticateFn = (request: HandlerRequest) => Promise<Requester> | Requester;

/** The part of {@link DelayedEventScheduler} the handlers call. */
export type HandlerScheduler = Pick<
  DelayedEventScheduler,
  'schedule' | 'findTransaction' | 'send' | 'cancel' | 'restart' | 'list' | 'lookup'
> & {
  /** The scheduler's resolved options; its `profile` is the handler's default. */
  readonly options?: {
    /** The scheduler's spec profile. */
    readonly profile?: SpecProfile;
    /** The scheduler's metrics hook: the handler reports the refusals it makes itself there. */
    readonly metrics?: Pick<SchedulerMetrics, 'rejected'> | undefined;
  };
};

/**
 * Which error form responses use: `"auto"` follows the request (the unstable path prefix or the
 * `org.matrix.msc4140.delay` parameter give the unstable form), the others force one form.
 */
export type ErrorStyleOption = 'auto' | ErrorStyle;

/** Options of {@link createDelayedEventsHandler}. */
export interface DelayedEventsHandlerOptions {
  /** The scheduler that does the work, with its rate limits and caps. */
  readonly scheduler: HandlerScheduler;
  /** Resolves the requester; called before anything that could consume rate-limit points. */
  readonly authenticate: AuthenticateFn;
  /**
   * The MSC4140 revision served: its routes, wire field names and error table (see
   * `docs/guide/spec-profiles.md`).
   * @defaultValue the scheduler's `profile` (`"msc4140-2024"` unless set)
   */
  readonly profile?: SpecProfile;
  /**
   * Under the `msc4140-2026` profile, also serve the 2024 routes (the delay parameter on
   * send/state/redact, and the body form of management) for clients that have not moved yet.
   * @defaultValue `true`
   */
  readonly serve2024Routes?: boolean;
  /**
   * Error form of responses.
   * @defaultValue `"auto"`
   */
  readonly errorStyle?: ErrorStyleOption;
  /**
   * Largest request body accepted, in bytes; larger ones get 413 `M_TOO_LARGE`.
   * @defaultValue 65536 (the Matrix limit on a whole event)
   */
  readonly maxBodyBytes?: number;
  /** Where unexpected errors (answered 500 `M_UNKNOWN`) are logged. */
  readonly logger?: Logger;
}

/** The handler set returned by {@link createDelayedEventsHandler}. */
export interface DelayedEventsHandler {
  /** The resolved body limit in bytes, for adapters that read bodies. */
  readonly maxBodyBytes: number;
  /**
   * Decides from method, raw path and query whether a request is ours, before its body is read.
   * `undefined`: pass it to the host.
   */
  match(method: string, path: string, query: URLSearchParams): DelayedEventsRoute | undefined;
  /**
   * Answers a request, or returns `undefined` when it is not ours. Never throws.
   *
   * @param request - The request.
   * @param route - The result of {@link DelayedEventsHandler.match} for this same request, when the
   *   caller already has it (saves matching twice).
   */
  handle(request: HandlerRequest, route?: DelayedEventsRoute): Promise<HandlerResponse | undefined>;
  /**
   * Maps an error to a response in the form the route calls for; for adapters that fail before
   * {@link DelayedEventsHandler.handle}, e.g. on a body over the limit. Never throws.
   */
  errorResponse(error: unknown, route: DelayedEventsRoute | undefined): HandlerResponse;
}

const DEFAULT_MAX_BODY_BYTES = 65_536;
const JSON_TYPE = 'application/json';
const ERROR_STYLES: readonly ErrorStyleOption[] = ['auto', 'stable', 'unstable'];
const SCHEDULER_METHODS = ['schedule', 'findTransaction', 'send', 'cancel', 'restart', 'list', 'lookup'] as const;

/**
 * Creates the MSC4140 request handlers over a scheduler.
 *
 * @remarks
 * Order of checks for a recognised request: body size (413), authentication (401, no rate-limit
 * points used), request validation (400), then the scheduler (rate limits, caps, 404). Unknown paths
 * and methods under `…/delayed_events` are answered 404/405 `M_UNRECOGNIZED` without authentication.
 *
 * @throws `ConfigError` (`ERR_DE_OPTION_INVALID`) when an option is invalid.
 *
 * @example
 * ```ts
 * const handler = createDelayedEventsHandler({
 *   scheduler,
 *   authenticate: async (req) => {
 *     const user = await users.byToken(bearerToken(req.headers));
 *     if (!user) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token');
 *     return { userId: user.id, deviceId: user.deviceId };
 *   },
 * });
 * const response = await handler.handle({ method, path, query, headers, body });
 * if (response === undefined) {
 *   // not ours: the host's own routes answer
 * }
 * ```
 */
export function createDelayedEventsHandler(options: DelayedEventsHandlerOptions): DelayedEventsHandler {
  const { scheduler, authenticate } = options ?? ({} as DelayedEventsHandlerOptions);
  const missing = SCHEDULER_METHODS.find(
    (name) => typeof (scheduler as Partial<Record<string, unknown>> | null | undefined)?.[name] !== 'function',
  );
  if (missing !== undefined) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `scheduler must be a DelayedEventScheduler (no ${missing}() found)`);
  }
  if (typeof authenticate !== 'function') {
    throw new ConfigError('ERR_DE_OPTION_INVALID', 'authenticate must be a function returning { userId, deviceId }');
  }
  const errorStyle = options.errorStyle ?? 'auto';
  if (!ERROR_STYLES.includes(errorStyle)) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `errorStyle must be one of auto, stable, unstable (got ${String(errorStyle)})`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `maxBodyBytes must be an integer > 0 (got ${String(maxBodyBytes)})`);
  }
  const profileName = options.profile ?? scheduler.options?.profile ?? 'msc4140-2024';
  if (!SPEC_PROFILES.includes(profileName)) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `profile must be one of ${SPEC_PROFILES.join(', ')} (got ${String(profileName)})`);
  }
  const profile = wireProfile(profileName, options.serve2024Routes ?? true);
  const match = (method: string, path: string, query: URLSearchParams) => matchRoute(method, path, query, profile.routes);
  const logger = options.logger;
  const mapper = new ErrorMapper({ profile: profileName, ...(logger === undefined ? {} : { logger }) });

  const styleOf = (route: DelayedEventsRoute | undefined): ErrorStyle =>
    errorStyle !== 'auto' ? errorStyle : route?.unstable === true ? 'unstable' : 'stable';

  const errorResponse = (error: unknown, route: DelayedEventsRoute | undefined): HandlerResponse => {
    try {
      const mapped = mapper.toResponse(error, styleOf(route));
      return { status: mapped.status, headers: withJsonType(mapped.headers), body: mapped.body };
    } catch (mapperFault) {
      logger?.error?.({ err: mapperFault }, 'matrix-delayed-events: error mapping failed');
      return { status: 500, headers: { 'content-type': JSON_TYPE }, body: { errcode: 'M_UNKNOWN', error: 'Internal server error' } };
    }
  };

  const unrecognizedResponse = (route: UnrecognizedRoute): HandlerResponse => {
    const response = errorResponse(
      new MatrixError(route.status, 'M_UNRECOGNIZED', route.status === 405 ? 'Unrecognized request method' : 'Unrecognized request'),
      route,
    );
    if (route.allow !== undefined) response.headers['allow'] = route.allow;
    return response;
  };

  return {
    maxBodyBytes,
    match,
    errorResponse,
    async handle(request, route) {
      let matched = route;
      const stage: Stage = { atScheduler: false };
      try {
        matched ??= match(request.method, request.path, request.query);
        if (matched === undefined) return undefined;
        if (matched.kind === 'unrecognized') {
          scheduler.options?.metrics?.rejected('request', 'M_UNRECOGNIZED');
          return unrecognizedResponse(matched);
        }
        if (request.body !== undefined && request.parsedBody === undefined && bodyByteLength(request.body) > maxBodyBytes) {
          throw new InvalidRequestError('M_TOO_LARGE', `Request body exceeds ${maxBodyBytes} bytes.`);
        }
        // Authentication comes before anything that could consume rate-limit points.
        const pending = authenticate(request);
        const requester = checkRequester(isPromiseLike(pending) ? await pending : pending);
        switch (matched.kind) {
          case 'manage':
            await manage(scheduler, requester, request, matched, profile, stage);
            return ok({});
          case 'schedule':
            return ok({ delay_id: await schedule(scheduler, requester, request, matched, stage) });
          case 'lookup': {
            const delayId = decodeSegment(matched.rawDelayId, 'delay_id');
            stage.atScheduler = true;
            return ok(profile.details(await scheduler.lookup(requester, delayId)));
          }
          case 'list':
            return ok(await list(scheduler, requester, request.query, profile, stage));
        }
      } catch (error) {
        // The scheduler counts its own refusals; these are the ones the HTTP layer made.
        if (!stage.atScheduler && matched !== undefined) scheduler.options?.metrics?.rejected('request', asMatrixError(error)?.errcode ?? 'M_UNKNOWN');
        return errorResponse(error, matched);
      }
    },
  };
}

function withJsonType(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { 'content-type': JSON_TYPE };
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}

function ok(body: Record<string, unknown>): HandlerResponse {
  return { status: 200, headers: { 'content-type': JSON_TYPE }, body };
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function checkRequester(requester: Requester): Requester {
  if (typeof requester !== 'object' || requester === null || typeof requester.userId !== 'string' || requester.userId === '') {
    // A host bug, not a client error: answered 500 and logged by the mapper.
    throw new Error('authenticate() did not return a requester with a userId');
  }
  return requester;
}

function bodyOf(request: HandlerRequest): JsonBodyResult {
  if (request.parsedBody !== undefined) return { kind: 'json', value: request.parsedBody };
  return readJsonBody(request.body);
}

/** How far a request got: refusals before the scheduler are counted by the handler. */
interface Stage {
  atScheduler: boolean;
}

async function schedule(
  scheduler: HandlerScheduler,
  requester: Requester,
  request: HandlerRequest,
  route: ScheduleRoute,
  stage: Stage,
): Promise<string> {
  const endpoint = route.endpoint;
  const roomId = decodeSegment(route.rawRoomId, 'roomId');
  const first = decodeSegment(route.rawFirst, endpoint === 'redact' ? 'eventId' : 'eventType');
  const second = decodeSegment(route.rawSecond, endpoint === 'state' ? 'stateKey' : 'txnId');
  // The scheduler checks the room, type and state key; what it cannot see is checked here: the event
  // a redaction names (it goes into the content) and the transaction ID (scoped below).
  if (endpoint === 'redact' && first === '') throw new InvalidRequestError('M_INVALID_PARAM', 'Empty event ID.');
  if (endpoint !== 'state' && second === '') throw new InvalidRequestError('M_INVALID_PARAM', 'Empty transaction ID.');
  // The 2024 routes carry the delay in the query, the 2026 route in the body.
  const queryDelayMs = endpoint === 'delayed_event' ? undefined : parseDelay(request.query);
  // Transaction IDs are scoped per endpoint: the same txnId on send and on redact are two requests.
  const txnId = endpoint === 'state' ? undefined : `${endpoint}:${second}`;

  const body = bodyOf(request);
  if (body.kind !== 'json' && txnId !== undefined) {
    // A retried PUT may come without its body; answer with the delay ID of the first attempt.
    const known = await scheduler.findTransaction(requester, txnId);
    if (known !== undefined) return known;
  }
  const who = { userId: requester.userId, deviceId: requester.deviceId, roomId };
  if (endpoint === 'delayed_event') {
    const { delayMs, stateKey, content } = requireDelayedEventBody(body);
    stage.atScheduler = true;
    return (await scheduler.schedule({ ...who, delayMs, type: first, stateKey, content, txnId })).delayId;
  }
  const content = requireEventContent(body);
  const delayed = { ...who, delayMs: queryDelayMs as number };
  stage.atScheduler = true;
  switch (endpoint) {
    case 'send':
      return (await scheduler.schedule({ ...delayed, type: first, content, txnId })).delayId;
    case 'state':
      return (await scheduler.schedule({ ...delayed, type: first, stateKey: second, content })).delayId;
    case 'redact':
      return (await scheduler.schedule({ ...delayed, type: 'm.room.redaction', content: { ...content, redacts: first }, txnId })).delayId;
  }
}

// Not async: it hands back the scheduler's promise without another wrapper (this is the hot path).
function manage(scheduler: HandlerScheduler, requester: Requester, request: HandlerRequest, route: ManageRoute, profile: WireProfile, stage: Stage): Promise<void> {
  // The path form ignores any body; the body form requires {"action": …}.
  const action = route.action ?? requireAction(bodyOf(request));
  const delayId = decodeSegment(route.rawDelayId, 'delay_id');
  stage.atScheduler = true;
  const acting = act(scheduler, requester, delayId, action);
  return profile.name === 'msc4140-2024' ? acting : acting.catch((error: unknown) => settle(error, action, profile));
}

function act(scheduler: HandlerScheduler, requester: Requester, delayId: string, action: DelayedEventAction): Promise<void> {
  switch (action) {
    case 'send':
      return scheduler.send(requester, delayId);
    case 'cancel':
      return scheduler.cancel(requester, delayId);
    case 'restart':
      return scheduler.restart(requester, delayId);
  }
}

/** A repeated action on an event that already left the schedule is answered by its outcome. */
function settle(error: unknown, action: DelayedEventAction, profile: WireProfile): void {
  const outcome = isDelayedEventsError(error) ? (error as Partial<DelayedEventNotFoundError>).finalisedOutcome : undefined;
  const answer = outcome === undefined ? undefined : profile.settled(action, outcome);
  if (answer === undefined) throw error;
  if (answer !== 'ok') throw answer;
}

async function list(scheduler: HandlerScheduler, requester: Requester, query: URLSearchParams, profile: WireProfile, stage: Stage): Promise<Record<string, unknown>> {
  const from = query.get('from');
  const after = from === null || from === '' ? undefined : decodeCursor(from);
  stage.atScheduler = true;
  const page = await scheduler.list(requester, after === undefined ? {} : { after });
  const body: Record<string, unknown> = { delayed_events: page.events.map((event) => profile.listItem(event)) };
  if (page.next !== undefined) body['next_batch'] = encodeCursor(page.next);
  return body;
}
