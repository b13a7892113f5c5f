/**
 * `matrix-delayed-events/fetch`: the MSC4140 endpoints as a function from a WHATWG `Request` to a
 * `Response`, for servers built on the fetch API: Hono, Bun, Deno, undici-based servers.
 *
 * The adapter itself imports no Node built-in, but the shared HTTP layer uses the global `Buffer`
 * (`next_batch` tokens, string body sizes), so the runtime must provide it, as Node and Bun do. Its
 * tests run on Node only.
 *
 * @packageDocumentation
 */
import { InvalidRequestError } from '../../core/errors.js';
import { createDelayedEventsHandler } from '../../http/handlers.js';
import type { DelayedEventsHandler, DelayedEventsHandlerOptions, HandlerResponse } from '../../http/handlers.js';
import type { DelayedEventsRoute } from '../../http/routes.js';
import { needsBody } from '../needs-body.js';

/** Options of {@link toFetchHandler}: those of the framework-agnostic handlers. */
export type FetchHandlerOptions = DelayedEventsHandlerOptions;

/**
 * Answers one request if it is an MSC4140 request; resolves `undefined` when it is not ours, and the
 * host must answer it (its body is then untouched). Never rejects.
 */
export type FetchHandler = (request: Request) => Promise<Response | undefined>;

const CLIENT_PREFIX = '/_matrix/client/';

/** Outcome of {@link readBody}. */
type ReadResult =
  | { readonly kind: 'body'; readonly body: Uint8Array | undefined }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'unreadable' };

const NO_BODY: ReadResult = { kind: 'body', body: undefined };
const TOO_LARGE: ReadResult = { kind: 'too-large' };
const UNREADABLE: ReadResult = { kind: 'unreadable' };

/**
 * Creates a fetch-style handler for the delayed-events endpoints.
 *
 * @remarks
 * - Whether a request is ours is decided from its method and URL alone, before its body is touched: a
 *   request it passes on (`undefined`) still has its whole body for the host.
 * - For requests it answers, it reads the body itself, at most `maxBodyBytes`: a larger
 *   `Content-Length` is answered 413 `M_TOO_LARGE` without reading anything, and a body without one is
 *   counted as it streams in and refused as soon as it passes the limit, so an oversized body is
 *   never buffered.
 * - `authenticate` receives a `HandlerRequest` whose `raw` is the `Request`.
 *
 * @throws `ConfigError` (`ERR_DE_OPTION_INVALID`) when an option is invalid.
 *
 * @example
 * Hono (Node, Bun, Deno):
 * ```ts
 * import { Hono } from 'hono';
 * import { toFetchHandler } from 'matrix-delayed-events/fetch';
 *
 * const delayedEvents = toFetchHandler({ scheduler, authenticate });
 * const app = new Hono();
 * app.use('/_matrix/client/*', async (c, next) => (await delayedEvents(c.req.raw)) ?? next());
 * app.put('/_matrix/client/v3/rooms/:roomId/send/:type/:txnId', hostSend);
 * ```
 *
 * @example
 * Bun or Deno without a framework:
 * ```ts
 * const delayedEvents = toFetchHandler({ scheduler, authenticate });
 * Bun.serve({ fetch: async (request) => (await delayedEvents(request)) ?? hostFetch(request) });
 * ```
 */
export function toFetchHandler(options: FetchHandlerOptions): FetchHandler {
  const handler = createDelayedEventsHandler(options);
  return async function delayedEventsFetchHandler(request) {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      // A server never hands over an unparsable URL; if one does, it is not ours to judge.
      return undefined;
    }
    // `pathname` keeps the percent-encoding, which the handlers decode once per segment.
    const path = url.pathname;
    if (!path.startsWith(CLIENT_PREFIX)) return undefined;
    const method = request.method;
    const query = url.searchParams;
    const route = handler.match(method, path, query);
    if (route === undefined) return undefined;
    try {
      let body: Uint8Array | undefined;
      if (needsBody(route)) {
        const read = await readBody(request, handler.maxBodyBytes);
        if (read.kind === 'too-large') {
          return toResponse(handler.errorResponse(new InvalidRequestError('M_TOO_LARGE', `Request body exceeds ${handler.maxBodyBytes} bytes.`), route));
        }
        if (read.kind === 'unreadable') {
          return toResponse(handler.errorResponse(new InvalidRequestError('M_NOT_JSON', 'The request body could not be read.'), route));
        }
        body = read.body;
      }
      const headers = headersOf(request.headers);
      const response = await handler.handle({ method, path, query, headers, body, raw: request }, route);
      // `handle` answers every route `match` returned; `undefined` here would be a handler bug.
      return toResponse(response ?? unanswered(handler, route));
    } catch (error) {
      // Only a broken Request (e.g. a throwing headers getter) gets here; the handler never throws.
      return toResponse(handler.errorResponse(error, route));
    }
  };
}

function unanswered(handler: DelayedEventsHandler, route: DelayedEventsRoute): HandlerResponse {
  return handler.errorResponse(new Error('the handler did not answer a route it matched'), route);
}

/** The header shape of `HandlerRequest` (lower-case names, as `node:http` gives them). */
function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  // Headers iterates lower-case names, with repeated headers joined by ", " as node:http does.
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/**
 * Reads a request body of at most `limit` bytes.
 *
 * @remarks
 * A declared `Content-Length` over the limit is refused without touching the stream. Otherwise the
 * chunks are counted as they arrive; past the limit, reading stops and the reader's lock is released
 * rather than the stream cancelled: with `@hono/node-server` (and plain Node streams under it),
 * cancelling destroys the socket before the 413 can be written, while an abandoned body is drained or
 * discarded by the server once the response is sent.
 */
async function readBody(request: Request, limit: number): Promise<ReadResult> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) return TOO_LARGE;
  if (request.bodyUsed) {
    // A host bug, not a client error: something before the adapter read the body. Answered 500 and
    // logged by the handler's error mapping, with the fix in the message.
    throw new Error('the request body was already read before toFetchHandler ran: mount it before anything that reads bodies');
  }
  const stream = request.body;
  if (stream === null) return NO_BODY;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = value as Uint8Array;
      size += chunk.byteLength;
      if (size > limit) {
        reader.releaseLock();
        return TOO_LARGE;
      }
      chunks.push(chunk);
    }
  } catch {
    // The client went away or sent a broken body; whoever is still listening gets a clear answer.
    return UNREADABLE;
  }
  if (size === 0) return NO_BODY;
  if (chunks.length === 1) return { kind: 'body', body: chunks[0] };
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { kind: 'body', body };
}

/** A handler response as a fetch `Response`. */
function toResponse(response: HandlerResponse): Response {
  return new Response(JSON.stringify(response.body), { status: response.status, headers: response.headers });
}
