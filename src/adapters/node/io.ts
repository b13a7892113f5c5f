/**
 * Reading bodies from and writing responses to `node:http` objects; shared by the `node:http` and
 * Express adapters.
 *
 * @internal
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidRequestError } from '../../core/errors.js';
import type { DelayedEventsHandler, HandlerResponse } from '../../http/handlers.js';
import type { DelayedEventsRoute } from '../../http/routes.js';
import { needsBody } from '../needs-body.js';

/** How much of an oversized body is read and discarded before the connection is closed instead. */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** Outcome of {@link readBody}. */
type ReadResult =
  | { readonly kind: 'body'; readonly body: string | Uint8Array | undefined }
  | { readonly kind: 'too-large'; readonly closeConnection: boolean }
  | { readonly kind: 'aborted' };

const NO_BODY: ReadResult = { kind: 'body', body: undefined };
const ABORTED: ReadResult = { kind: 'aborted' };
const TOO_LARGE_KEEP: ReadResult = { kind: 'too-large', closeConnection: false };
const TOO_LARGE_CLOSE: ReadResult = { kind: 'too-large', closeConnection: true };


/**
 * Takes a body that is already all buffered in `req`, synchronously; `undefined` when it is not (still
 * arriving, chunked and unfinished, over `limit`) or when another reader listens to the stream (taking
 * the body would hide it from that reader): {@link readBody} then reads it with listeners.
 *
 * @remarks
 * Node emits `request` before it parses the body, and runs the tick queue again once it has pushed the
 * body bytes of that socket read, but only at the next checkpoint after that does it mark the message
 * complete. So one tick after the `request` event, a small body that came with its headers (nearly all
 * of them) is buffered while `req.complete` is still false: with a `Content-Length` (and no
 * `Transfer-Encoding`), the parser pushes exactly that many bytes, so a buffered length equal to it is
 * the whole body. Taking it with one `read()` skips the flowing-mode machinery, four listeners and their
 * ticks. The stream is then resumed so that its end is still emitted (and the request freed) when the
 * parser reaches it. Each pipelined request has its own `IncomingMessage`, so a later request's bytes
 * are never mixed in.
 */
function bufferedBody(req: IncomingMessage, limit: number): ReadResult | undefined {
  if (req.readableEnded) return NO_BODY;
  const length = req.readableLength;
  if (length > limit || req.readableFlowing === true || req.readableEncoding !== null || hasReaders(req)) return undefined;
  if (!req.complete) {
    const headers = req.headers;
    const declared = headers['content-length'];
    if (declared === undefined || headers['transfer-encoding'] !== undefined || Number(declared) !== length) return undefined;
  }
  const body = req.read() as Buffer | null;
  if (!req.readableEnded) req.resume();
  return body === null ? NO_BODY : { kind: 'body', body };
}

function hasReaders(req: IncomingMessage): boolean {
  return req.listenerCount('data') > 0 || req.listenerCount('readable') > 0;
}

/**
 * Reads the body: at once when it is all buffered, else one tick later (see {@link bufferedBody}),
 * else with listeners.
 *
 * @remarks
 * The wait is a `process.nextTick` that does the work inside the tick, not a promise: a host listener
 * that attaches to `data` after the adapter ran starts flowing the stream in a tick queued after this
 * one, and the microtask of a promise would only run after that tick had already emitted the body.
 * When another reader already listens, the listeners are attached at once, as they always were, so
 * both see every chunk.
 */
function takeBody(req: IncomingMessage, limit: number): ReadResult | Promise<ReadResult> {
  const now = bufferedBody(req, limit);
  if (now !== undefined) return now;
  if (req.readableFlowing === true || hasReaders(req)) return readBody(req, limit);
  return new Promise((resolve) => {
    process.nextTick(() => resolve(bufferedBody(req, limit) ?? readBody(req, limit)));
  });
}

/**
 * Reads a request body of at most `limit` bytes. Over the limit, the rest is read and discarded (up to
 * {@link DRAIN_LIMIT_BYTES}) so the 413 can be delivered on a healthy connection, as body-parser does;
 * beyond that, or when `Content-Length` already says so, the 413 goes out at once with
 * `Connection: close` while the rest is discarded.
 *
 * @remarks
 * One set of listeners, never removed: once the promise is settled they ignore what follows, which is
 * cheaper on the hot path than `off()` four times per request.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<ReadResult> {
  if (req.readableEnded) return Promise.resolve(NO_BODY);
  let tooLarge = false;
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const length = Number(declared);
    if (length > DRAIN_LIMIT_BYTES) {
      req.resume();
      return Promise.resolve(TOO_LARGE_CLOSE);
    }
    tooLarge = length > limit;
  }
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: ReadResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (!tooLarge && size <= limit) {
        chunks.push(chunk);
        return;
      }
      if (!tooLarge) {
        tooLarge = true;
        chunks = [];
      }
      if (size > DRAIN_LIMIT_BYTES) settle(TOO_LARGE_CLOSE);
    });
    req.on('end', () => {
      if (tooLarge) settle(TOO_LARGE_KEEP);
      else if (size === 0) settle(NO_BODY);
      else settle({ kind: 'body', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    });
    req.on('error', () => settle(ABORTED));
    req.on('close', () => {
      if (!req.complete) settle(ABORTED);
    });
  });
}

/** Writes a handler response as JSON. Does nothing when the host already started a response. */
export function writeResponse(res: ServerResponse, response: HandlerResponse, closeConnection = false): void {
  if (res.headersSent || res.writableEnded) return;
  const json = JSON.stringify(response.body);
  const headers = response.headers;
  headers['content-length'] = String(Buffer.byteLength(json));
  if (closeConnection) headers['connection'] = 'close';
  res.writeHead(response.status, headers);
  res.end(json);
}

/** What the host's framework already did with the body, for the Express adapter. */
export interface PreparsedBody {
  /** A raw body the framework already read. */
  readonly body?: string | Uint8Array | undefined;
  /** A body the framework already parsed as JSON. */
  readonly parsedBody?: unknown;
}

/**
 * Answers a request that {@link DelayedEventsHandler.match} claimed: reads its body if the route needs
 * one (unless `preparsed` says it was read already), runs the handler and writes the response.
 *
 * @param raw - What `authenticate` sees as `raw`: the framework's own request object when it has one
 *   (Fastify's), else `req`.
 * @returns The response written, or `undefined` when the client went away first.
 */
export async function respond(
  handler: DelayedEventsHandler,
  req: IncomingMessage,
  res: ServerResponse,
  route: DelayedEventsRoute,
  method: string,
  path: string,
  query: URLSearchParams,
  preparsed: PreparsedBody | undefined,
  raw: unknown = req,
): Promise<HandlerResponse | undefined> {
  let body: string | Uint8Array | undefined;
  let parsedBody: unknown;
  if (preparsed !== undefined) {
    body = preparsed.body;
    parsedBody = preparsed.parsedBody;
  } else if (needsBody(route)) {
    const read = await takeBody(req, handler.maxBodyBytes);
    if (read.kind === 'aborted') return undefined;
    if (read.kind === 'too-large') {
      const error = new InvalidRequestError('M_TOO_LARGE', `Request body exceeds ${handler.maxBodyBytes} bytes.`);
      const response = handler.errorResponse(error, route);
      writeResponse(res, response, read.closeConnection);
      return response;
    }
    body = read.body;
  }
  const response = await handler.handle({ method, path, query, headers: req.headers, body, parsedBody, raw }, route);
  if (response !== undefined) writeResponse(res, response);
  return response;
}

/** A request under `/_matrix/client/` that the handler recognised, with its URL taken apart once. */
export interface MatchedRequest {
  /** What the handler recognised. */
  readonly route: DelayedEventsRoute;
  /** The request method. */
  readonly method: string;
  /** The raw path, without the query string. */
  readonly path: string;
  /** The parsed query string. */
  readonly query: URLSearchParams;
}

const CLIENT_PREFIX = '/_matrix/client/';

/**
 * Decides from method and URL alone whether a request is the handler's, before any body is read;
 * `undefined` for the host's own traffic (rejected by a prefix check before anything is parsed).
 */
export function matchRequest(handler: DelayedEventsHandler, method: string | undefined, url: string): MatchedRequest | undefined {
  if (!url.startsWith(CLIENT_PREFIX)) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const verb = method ?? 'GET';
  const route = handler.match(verb, path, query);
  return route === undefined ? undefined : { route, method: verb, path, query };
}
