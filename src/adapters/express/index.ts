/**
 * `matrix-delayed-events/express`: the MSC4140 endpoints as one Express middleware (Express 4.18+ or
 * 5). It needs neither `express` nor `@types/express`: the request and response are typed by the
 * `node:http` objects Express extends.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDelayedEventsHandler } from '../../http/handlers.js';
import type { DelayedEventsHandlerOptions } from '../../http/handlers.js';
import { matchRequest, respond, writeResponse } from '../node/io.js';
import type { PreparsedBody } from '../node/io.js';

/** The parts of an Express request the middleware reads. */
export interface ExpressLikeRequest extends IncomingMessage {
  /** The URL before any mount path was stripped (Express sets it). */
  originalUrl?: string;
  /** A body parsed by an earlier body parser, if any. */
  body?: unknown;
  /** Set by body-parser 1.x (Express 4) once it has read the body. */
  _body?: boolean;
}

/** Express's `next`. */
export type ExpressLikeNext = (error?: unknown) => void;

/** An Express middleware. */
export type ExpressLikeMiddleware = (req: ExpressLikeRequest, res: ServerResponse, next: ExpressLikeNext) => void;

/** Options of {@link toExpressRouter}: those of the framework-agnostic handlers. */
export type ExpressRouterOptions = DelayedEventsHandlerOptions;


/**
 * Creates an Express middleware serving the delayed-events endpoints; mount it before the host's own
 * routes and body parsers.
 *
 * @remarks
 * - Whether a request is ours is decided from its method, URL and query alone. Requests it does not
 *   answer (sends without a delay, everything else) go to `next()` with their body unread, so
 *   `express.json()` mounted after it works as usual.
 * - For requests it answers, it reads the raw body itself, at most `maxBodyBytes` (413 `M_TOO_LARGE`
 *   beyond); bad JSON gets Matrix errors (`M_NOT_JSON`, `M_BAD_JSON`), never Express's HTML pages.
 * - If a body parser did run first (`req.body` set and the stream consumed), the parsed body is used.
 *   Such a parser answers malformed JSON itself, though, so mount this middleware first.
 * - It matches `req.originalUrl`, so it also works mounted under a path (`app.use('/_matrix', …)`).
 *
 * @throws `ConfigError` (`ERR_DE_OPTION_INVALID`) when an option is invalid.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { toExpressRouter } from 'matrix-delayed-events/express';
 *
 * const app = express();
 * app.use(toExpressRouter({ scheduler, authenticate }));
 * app.use(express.json());
 * app.put('/_matrix/client/v3/rooms/:roomId/send/:type/:txnId', hostSendHandler);
 * ```
 */
export function toExpressRouter(options: ExpressRouterOptions): ExpressLikeMiddleware {
  const handler = createDelayedEventsHandler(options);
  return function delayedEventsMiddleware(req, res, next) {
    const matched = matchRequest(handler, req.method, req.originalUrl ?? req.url ?? '');
    if (matched === undefined) {
      next();
      return;
    }
    const { route, method, path, query } = matched;
    respond(handler, req, res, route, method, path, query, preparsed(req)).then(
      () => undefined,
      (error: unknown) => {
        if (res.headersSent) next(error);
        else writeResponse(res, handler.errorResponse(error, route));
      },
    );
  };
}

/** What an earlier body parser left, or `undefined` when the body is still unread. */
function preparsed(req: ExpressLikeRequest): PreparsedBody | undefined {
  // body-parser 1.x sets `req.body = {}` without reading a body it does not parse, so a body only
  // counts as parsed when the stream has been consumed (or body-parser 1.x says so).
  if (req._body !== true && !req.readableEnded) return undefined;
  const body = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body === 'string' || body instanceof Uint8Array) return { body };
  return { parsedBody: body };
}
