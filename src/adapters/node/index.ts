/**
 * `matrix-delayed-events/node`: the MSC4140 endpoints for a plain `node:http` server, or any framework
 * that exposes Node's request and response objects (Fastify's `request.raw`/`reply.raw`, Koa's
 * `ctx.req`/`ctx.res`, h3's `event.node`).
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createDelayedEventsHandler } from '../../http/handlers.js';
import type { DelayedEventsHandlerOptions } from '../../http/handlers.js';
import { respond, writeResponse } from './io.js';

/** Options of {@link toNodeHandler}: those of the framework-agnostic handlers. */
export type NodeHandlerOptions = DelayedEventsHandlerOptions;

/**
 * Serves one request if it is an MSC4140 request; resolves `true` when it answered (or the client went
 * away while its body was read), `false` when the host must handle the request itself.
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

const CLIENT_PREFIX = '/_matrix/client/';

/**
 * Creates a `node:http` request handler for the delayed-events endpoints.
 *
 * @remarks
 * Whether a request is ours is decided from its method, path and query alone, before anything is
 * read: a request it passes on (`false`) still has its whole body unread for the host. For requests it
 * answers, it reads the body itself (at most `maxBodyBytes`; more is answered 413 `M_TOO_LARGE`).
 * Pass it the raw Node objects, never ones whose body a framework has already consumed.
 *
 * @throws `ConfigError` (`ERR_DE_OPTION_INVALID`) when an option is invalid.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toNodeHandler } from 'matrix-delayed-events/node';
 *
 * const delayedEvents = toNodeHandler({ scheduler, authenticate });
 * createServer(async (req, res) => {
 *   if (await delayedEvents(req, res)) return;
 *   hostRoutes(req, res); // everything else, including sends without a delay
 * }).listen(8008);
 * ```
 */
export function toNodeHandler(options: NodeHandlerOptions): NodeHandler {
  const handler = createDelayedEventsHandler(options);
  return async function delayedEventsNodeHandler(req, res) {
    const url = req.url ?? '';
    // Cheapest possible rejection of the host's other traffic. The split below is `matchRequest()`
    // (io.ts) written out: this adapter is the heartbeat's hot path, so it allocates no result object.
    if (!url.startsWith(CLIENT_PREFIX)) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';
    const route = handler.match(method, path, query);
    if (route === undefined) return false;
    try {
      await respond(handler, req, res, route, method, path, query, undefined);
    } catch (error) {
      // Only a broken response object gets here; the handler itself never throws.
      try {
        writeResponse(res, handler.errorResponse(error, route));
      } catch {
        res.destroy();
      }
    }
    return true;
  };
}
