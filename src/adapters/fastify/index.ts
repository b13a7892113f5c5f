/**
 * `matrix-delayed-events/fastify`: the MSC4140 endpoints as a Fastify 5 plugin. `fastify` is an
 * optional peer dependency: only this entry point needs it, and only for its types.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { createDelayedEventsHandler } from '../../http/handlers.js';
import type { DelayedEventsHandlerOptions } from '../../http/handlers.js';
import { matchRequest, respond, writeResponse } from '../node/io.js';

/** Options of {@link delayedEventsPlugin}: those of the framework-agnostic handlers. */
export type FastifyDelayedEventsOptions = DelayedEventsHandlerOptions;

/** The plugin's type: a callback plugin with these options, as `fastify.register` takes it. */
export type DelayedEventsFastifyPlugin = FastifyPluginCallback<FastifyDelayedEventsOptions>;


/**
 * A Fastify plugin serving the delayed-events endpoints; register it on the root instance, before the
 * host's routes.
 *
 * @remarks
 * - It adds one `onRequest` hook. `onRequest` runs after routing but before Fastify reads or parses
 *   the body, and it runs for Fastify's 404 handler too, so the library sees its requests whether or
 *   not the host declared a route for them (a host's own send route included: a delayed send must
 *   never reach it).
 * - Whether a request is ours is decided from its method and raw URL alone. Requests it does not
 *   answer go on through Fastify untouched: content-type parsers, `bodyLimit`, schemas and handlers
 *   work as usual.
 * - For requests it answers, it calls `reply.hijack()` and writes the response to `reply.raw` itself,
 *   reading the raw body with the `node:http` adapter's limits (413 `M_TOO_LARGE`; bad JSON gets
 *   `M_NOT_JSON`/`M_BAD_JSON`, never Fastify's error page). Hijacked replies skip `onSend`, but
 *   Fastify still runs `onResponse` hooks, so request logging keeps working.
 * - The plugin is marked `skip-override` (what `fastify-plugin` does), so the hook applies to the
 *   whole instance rather than only to routes declared inside the plugin.
 * - `authenticate` receives a `HandlerRequest` whose `raw` is the `FastifyRequest`, for hosts whose
 *   own `onRequest` hook (registered earlier) already attached a user.
 *
 * @throws `ConfigError` (`ERR_DE_OPTION_INVALID`) from `register` (so from `ready()`/`listen()`) when
 *   an option is invalid.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { delayedEventsPlugin } from 'matrix-delayed-events/fastify';
 *
 * const app = Fastify();
 * await app.register(delayedEventsPlugin, { scheduler, authenticate });
 * app.put('/_matrix/client/v3/rooms/:roomId/send/:type/:txnId', hostSend); // sends without a delay
 * await app.listen({ port: 8008 });
 * ```
 */
export const delayedEventsPlugin: DelayedEventsFastifyPlugin = Object.assign(
  function matrixDelayedEvents(instance: FastifyInstance, options: FastifyDelayedEventsOptions, done: (error?: Error) => void): void {
    let handler: ReturnType<typeof createDelayedEventsHandler>;
    try {
      handler = createDelayedEventsHandler(options);
    } catch (error) {
      done(error as Error);
      return;
    }
    // A callback hook rather than an async one: the decision is synchronous, and an async hook would
    // have Fastify wait on a promise for every request of the host's other traffic.
    instance.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, next: (error?: Error) => void) => {
      const req = request.raw;
      const matched = matchRequest(handler, req.method, req.url ?? '');
      if (matched === undefined) {
        next();
        return;
      }
      const { route, method, path, query } = matched;
      // Ours: Fastify must neither parse the body nor reply. `next` is not called, which ends the hook
      // chain as Fastify documents for replies sent from a callback hook.
      reply.hijack();
      const res = reply.raw;
      respond(handler, req, res, route, method, path, query, undefined, request).catch((error: unknown) => {
        // Only a broken response object gets here; the handler itself never throws.
        try {
          writeResponse(res, handler.errorResponse(error, route));
        } catch {
          res.destroy();
        }
      });
    });
    done();
  },
  {
    [Symbol.for('skip-override')]: true as const,
    // What fastify-plugin sets: the name in Fastify's plugin tree and errors, and the versions served.
    [Symbol.for('fastify.display-name')]: 'matrix-delayed-events',
    [Symbol.for('plugin-meta')]: { name: 'matrix-delayed-events', fastify: '5.x' },
  },
);
