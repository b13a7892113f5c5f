/**
 * Route table of the MSC4140 Client-Server endpoints of both spec profiles: which requests the
 * handlers answer, decided from the method, the raw path and the query alone, so adapters can pass a
 * request on before reading its body.
 *
 * Matching is plain prefix checks and one `split('/')`: no regular expressions, so no backtracking
 * whatever the path looks like.
 */

/** A management action of `POST …/delayed_events/{delay_id}`. */
export type DelayedEventAction = 'send' | 'cancel' | 'restart';

/** The stable query parameter that turns a send/state/redact request into a delayed one. */
export const DELAY_PARAM = 'delay';
/** The unstable query parameter of MSC4140; requests using it get the unstable error form. */
export const UNSTABLE_DELAY_PARAM = 'org.matrix.msc4140.delay';

/**
 * Which scheduling endpoint a delayed request came in on: the 2024 revision's `send`, `state` and
 * `redact` (with the delay parameter), or the 2026 revision's `delayed_event`.
 */
export type ScheduleEndpoint = 'send' | 'state' | 'redact' | 'delayed_event';

/**
 * A delayed `PUT …/rooms/{roomId}/send|state|redact/…` request. Segments are still percent-encoded;
 * the handler decodes them once.
 */
export interface ScheduleRoute {
  /** Discriminant. */
  readonly kind: 'schedule';
  /** True when the request used the unstable delay parameter. */
  readonly unstable: boolean;
  /** Which endpoint. */
  readonly endpoint: ScheduleEndpoint;
  /** `{roomId}`, percent-encoded. */
  readonly rawRoomId: string;
  /** `{eventType}` for send, state and delayed_event, `{eventId}` for redact; percent-encoded. */
  readonly rawFirst: string;
  /**
   * `{txnId}` for send, redact and delayed_event, `{stateKey}` for state (`""` when absent);
   * percent-encoded.
   */
  readonly rawSecond: string;
}

/** `POST …/delayed_events/{delay_id}` (body form) or `POST …/delayed_events/{delay_id}/{action}`. */
export interface ManageRoute {
  /** Discriminant. */
  readonly kind: 'manage';
  /** True on the `/unstable/org.matrix.msc4140/` prefix. */
  readonly unstable: boolean;
  /** `{delay_id}`, percent-encoded. */
  readonly rawDelayId: string;
  /** The action from the path, or `undefined` for the body form. */
  readonly action: DelayedEventAction | undefined;
}

/** `GET …/delayed_events/{delay_id}` (2026 profile). */
export interface LookupRoute {
  /** Discriminant. */
  readonly kind: 'lookup';
  /** True on the `/unstable/org.matrix.msc4140/` prefix. */
  readonly unstable: boolean;
  /** `{delay_id}`, percent-encoded. */
  readonly rawDelayId: string;
}

/** `GET …/delayed_events`. */
export interface ListRoute {
  /** Discriminant. */
  readonly kind: 'list';
  /** True on the `/unstable/org.matrix.msc4140/` prefix. */
  readonly unstable: boolean;
}

/**
 * Any other request under `…/delayed_events` (or a delayed request to a malformed send/state/redact
 * path): answered with JSON `M_UNRECOGNIZED`, without authentication.
 */
export interface UnrecognizedRoute {
  /** Discriminant. */
  readonly kind: 'unrecognized';
  /** True on the `/unstable/org.matrix.msc4140/` prefix or with the unstable delay parameter. */
  readonly unstable: boolean;
  /** 404 for an unknown path, 405 for a known path with another method. */
  readonly status: 404 | 405;
  /** For 405: the value of the `Allow` header. */
  readonly allow: string | undefined;
}

/** What a request was recognised as (see `DelayedEventsHandler.match`). */
export type DelayedEventsRoute = ScheduleRoute | ManageRoute | LookupRoute | ListRoute | UnrecognizedRoute;

/** Which routes are served: see {@link matchRoute}. */
export interface RouteSet {
  /** The 2026 revision's routes: `PUT …/rooms/{roomId}/delayed_event/…`, `GET …/delayed_events/{delay_id}`. */
  readonly revision2026: boolean;
  /**
   * The 2024 revision's routes: the delay parameter on send/state/redact, and the body form of
   * management (`POST …/delayed_events/{delay_id}` with `{"action": …}`).
   */
  readonly revision2024: boolean;
}

/** The routes of the default profile, `msc4140-2024`. */
export const ROUTES_2024: RouteSet = Object.freeze({ revision2026: false, revision2024: true });

const CLIENT_PREFIX = '/_matrix/client/';
const ROOMS_V3 = 'v3/rooms/';
const ROOMS_R0 = 'r0/rooms/';
const STABLE_DELAYED = 'v1/delayed_events';
const UNSTABLE_PREFIX = 'unstable/org.matrix.msc4140/';
const UNSTABLE_DELAYED = `${UNSTABLE_PREFIX}delayed_events`;
const UNSTABLE_ROOMS = `${UNSTABLE_PREFIX}rooms/`;

function unrecognized(status: 404 | 405, unstable: boolean, allow?: string): UnrecognizedRoute {
  return Object.freeze({ kind: 'unrecognized', status, unstable, allow });
}

// Fixed answers are allocated once.
const NOT_FOUND = [unrecognized(404, false), unrecognized(404, true)] as const;
const LIST_ONLY_GET = [unrecognized(405, false, 'GET'), unrecognized(405, true, 'GET')] as const;
const ONLY_POST = [unrecognized(405, false, 'POST'), unrecognized(405, true, 'POST')] as const;
const ONLY_GET = LIST_ONLY_GET;
const GET_OR_POST = [unrecognized(405, false, 'GET, POST'), unrecognized(405, true, 'GET, POST')] as const;
const LIST_ROUTES = [
  Object.freeze<ListRoute>({ kind: 'list', unstable: false }),
  Object.freeze<ListRoute>({ kind: 'list', unstable: true }),
] as const;

/** True for the actions of MSC4140; `action` may be any value. */
export function isDelayedEventAction(action: unknown): action is DelayedEventAction {
  return action === 'send' || action === 'cancel' || action === 'restart';
}

/**
 * Decides whether a request is one of ours, from the method, the raw path (percent-encoded, without
 * the query string) and the query. Returns `undefined` for requests the host handles itself.
 *
 * @remarks
 * With the 2024 routes (the default):
 * - `PUT /_matrix/client/{v3,r0}/rooms/{roomId}/send/{type}/{txnId}`, `…/state/{type}[/{stateKey}]`
 *   and `…/redact/{eventId}/{txnId}` are ours only when the query has `delay` or
 *   `org.matrix.msc4140.delay`; a delayed request to a malformed path of these three endpoints is
 *   answered 404 `M_UNRECOGNIZED` rather than passed on, so a delay is never silently dropped.
 * - `POST …/delayed_events/{delay_id}` is the body form of management.
 *
 * With the 2026 routes:
 * - `PUT /_matrix/client/v3/rooms/{roomId}/delayed_event/{type}/{txnId}` and its unstable form
 *   `/_matrix/client/unstable/org.matrix.msc4140/rooms/…` schedule.
 * - `GET …/delayed_events/{delay_id}` looks one event up.
 *
 * Always: everything under `/_matrix/client/v1/delayed_events` and
 * `/_matrix/client/unstable/org.matrix.msc4140/delayed_events` is ours, except `OPTIONS`, which is left
 * to the host's CORS handling.
 */
export function matchRoute(method: string, path: string, query: URLSearchParams, routes: RouteSet = ROUTES_2024): DelayedEventsRoute | undefined {
  if (!path.startsWith(CLIENT_PREFIX)) return undefined;
  const start = CLIENT_PREFIX.length;
  if (path.startsWith(ROOMS_V3, start) || path.startsWith(ROOMS_R0, start)) {
    if (method !== 'PUT') return undefined;
    return matchSchedule(path.slice(start + ROOMS_V3.length), query, routes, false);
  }
  if (routes.revision2026 && path.startsWith(UNSTABLE_ROOMS, start)) {
    if (method !== 'PUT') return undefined;
    return matchSchedule(path.slice(start + UNSTABLE_ROOMS.length), query, { revision2026: true, revision2024: false }, true);
  }
  let unstable: boolean;
  let tailStart: number;
  if (path.startsWith(STABLE_DELAYED, start)) {
    unstable = false;
    tailStart = start + STABLE_DELAYED.length;
  } else if (path.startsWith(UNSTABLE_DELAYED, start)) {
    unstable = true;
    tailStart = start + UNSTABLE_DELAYED.length;
  } else {
    return undefined;
  }
  if (method === 'OPTIONS') return undefined;
  const u = unstable ? 1 : 0;
  if (tailStart === path.length) return method === 'GET' ? LIST_ROUTES[u] : LIST_ONLY_GET[u];
  // `delayed_eventsX` is somebody else's path.
  if (path.charCodeAt(tailStart) !== 47 /* / */) return undefined;
  // Index arithmetic rather than split(): this is the path of every heartbeat.
  const idStart = tailStart + 1;
  const slash = path.indexOf('/', idStart);
  if (slash === -1) {
    if (idStart === path.length) return NOT_FOUND[u];
    const rawDelayId = path.slice(idStart);
    if (method === 'GET' && routes.revision2026) return { kind: 'lookup', unstable, rawDelayId };
    if (method === 'POST' && routes.revision2024) return { kind: 'manage', unstable, rawDelayId, action: undefined };
    if (routes.revision2026 && routes.revision2024) return GET_OR_POST[u];
    return routes.revision2026 ? ONLY_GET[u] : ONLY_POST[u];
  }
  if (slash === idStart || path.indexOf('/', slash + 1) !== -1) return NOT_FOUND[u];
  const action = actionAt(path, slash + 1);
  if (action === undefined) return NOT_FOUND[u];
  return method === 'POST' ? { kind: 'manage', unstable, rawDelayId: path.slice(idStart, slash), action } : ONLY_POST[u];
}

/** The action that ends `path` from `start`, without allocating for the plain spellings. */
function actionAt(path: string, start: number): DelayedEventAction | undefined {
  const length = path.length - start;
  if (length === 7 && path.startsWith('restart', start)) return 'restart';
  if (length === 6 && path.startsWith('cancel', start)) return 'cancel';
  if (length === 4 && path.startsWith('send', start)) return 'send';
  return decodeAction(path.slice(start));
}

function decodeAction(raw: string): DelayedEventAction | undefined {
  if (!raw.includes('%')) return undefined;
  try {
    const decoded = decodeURIComponent(raw);
    return isDelayedEventAction(decoded) ? decoded : undefined;
  } catch {
    return undefined;
  }
}

function matchSchedule(rest: string, query: URLSearchParams, routes: RouteSet, unstablePrefix: boolean): DelayedEventsRoute | undefined {
  // rest = {roomId}/{endpoint}/{a}[/{b}]
  const segments = rest.split('/');
  const endpoint = segments[1];
  if (endpoint === 'delayed_event' && routes.revision2026) {
    if (segments.length !== 4) return NOT_FOUND[unstablePrefix ? 1 : 0];
    return { kind: 'schedule', unstable: unstablePrefix, endpoint, rawRoomId: segments[0] as string, rawFirst: segments[2] as string, rawSecond: segments[3] as string };
  }
  const unstable = query.has(UNSTABLE_DELAY_PARAM);
  if (!unstable && !query.has(DELAY_PARAM)) return undefined;
  // A delay on a route this deployment does not serve is refused, never dropped: sending at once
  // would post a MatrixRTC "leave" at join time.
  if (!routes.revision2024) return endpoint === 'send' || endpoint === 'state' || endpoint === 'redact' ? NOT_FOUND[unstable ? 1 : 0] : undefined;
  if (endpoint !== 'send' && endpoint !== 'state' && endpoint !== 'redact') return undefined;
  const count = segments.length;
  const ok = endpoint === 'state' ? count === 3 || count === 4 : count === 4;
  if (!ok) return NOT_FOUND[unstable ? 1 : 0];
  return {
    kind: 'schedule',
    unstable,
    endpoint,
    rawRoomId: segments[0] as string,
    rawFirst: segments[2] as string,
    rawSecond: segments[3] ?? '',
  };
}
