/**
 * The fetch adapter behind a real Hono app, served by `@hono/node-server` on 127.0.0.1: what a Hono,
 * Bun or Deno host gets from `matrix-delayed-events/fetch`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { toFetchHandler } from '../../src/adapters/fetch/index.js';
import type { FetchHandlerOptions } from '../../src/adapters/fetch/index.js';
import { ConfigError } from '../../src/core/config-error.js';
import type { HandlerRequest } from '../../src/http/handlers.js';
import { ROOM } from '../helpers/fixtures.js';
import { ROOMS, STABLE, UNSTABLE, call, closeServer, listIds, makeAuthenticate, makeScheduler, scheduleMessage } from './helpers.js';
import type { TestServerOptions } from './helpers.js';

interface HonoServer {
  baseUrl: string;
  sent: ReturnType<typeof makeScheduler>['sent'];
  clock: ReturnType<typeof makeScheduler>['clock'];
  /** Requests that reached the host's own routes, with the body the host read. */
  hostSaw: { path: string; body: unknown }[];
  /** The `raw` each `authenticate` call received. */
  raws: unknown[];
  close(): Promise<void>;
}

let h: HonoServer;
afterEach(async () => {
  await h.close();
});

async function startHono(options: TestServerOptions = {}): Promise<HonoServer> {
  const { clock, sent, scheduler, logger } = makeScheduler(options);
  await scheduler.start();
  const authenticate = makeAuthenticate();
  const raws: unknown[] = [];
  const fetchOptions: FetchHandlerOptions = {
    scheduler,
    authenticate: (req: HandlerRequest) => {
      raws.push(req.raw);
      return authenticate(req);
    },
    logger,
    ...options.handler,
  };
  const delayedEvents = toFetchHandler(fetchOptions);
  const hostSaw: HonoServer['hostSaw'] = [];
  const app = new Hono();
  // The documented wiring: the library first, then the host's own routes.
  app.use('/_matrix/client/*', async (c, next) => (await delayedEvents(c.req.raw)) ?? next());
  app.put('/_matrix/client/v3/rooms/:roomId/send/:type/:txnId', async (c) => {
    const body: unknown = await c.req.json();
    hostSaw.push({ path: c.req.path, body });
    return c.json({ event_id: '$host', host: true, roomId: c.req.param('roomId'), body });
  });
  app.post('/_matrix/client/v3/echo', async (c) => {
    const body = await c.req.text();
    hostSaw.push({ path: c.req.path, body });
    return c.json({ host: true, body });
  });
  app.get('/health', (c) => c.text('ok'));

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    sent,
    clock,
    hostSaw,
    raws,
    async close() {
      await closeServer(server);
      await scheduler.stop();
    },
  };
}

/** A delayed send whose body is streamed (chunked, no Content-Length). */
function putStreamed(baseUrl: string, txnId: string, stream: ReadableStream<Uint8Array>): Promise<Response> {
  return fetch(`${baseUrl}${ROOMS}/send/m.room.message/${txnId}?delay=10`, {
    method: 'PUT',
    headers: { authorization: 'Bearer alice' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
}

describe('fetch adapter behind Hono (@hono/node-server)', () => {
  it('schedules, lists, manages and sends delayed events', async () => {
    h = await startHono();
    const id = await scheduleMessage(h.baseUrl, 'alice', 1000, 'e1', { body: 'bye' });
    const state = await call(h.baseUrl, 'PUT', `${ROOMS}/state/m.call.member/?org.matrix.msc4140.delay=2000`, { body: { k: 1 } });
    expect(state.status).toBe(200);
    expect(state.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await listIds(h.baseUrl, 'alice')).sort()).toEqual([id, state.json['delay_id']].sort());
    expect((await call(h.baseUrl, 'POST', `${UNSTABLE}/${state.json['delay_id'] as string}/cancel`)).status).toBe(200);
    expect((await call(h.baseUrl, 'POST', `${STABLE}/${id}`, { body: { action: 'restart' } })).status).toBe(200);
    await h.clock.advanceAsync(1000);
    expect(h.sent.map((e) => [e.delayId, e.roomId, e.content])).toEqual([[id, ROOM, { body: 'bye' }]]);
    // None of it reached the host's routes.
    expect(h.hostSaw).toEqual([]);
  });

  it('hands a delayed PUT body to the scheduler only: the host route never runs', async () => {
    h = await startHono();
    const content = { msgtype: 'm.text', body: 'ünïcödé', nested: { n: [1, 2, 3] } };
    const id = await scheduleMessage(h.baseUrl, 'alice', 10, 'mine', content);
    await h.clock.advanceAsync(10);
    expect(h.sent.map((e) => [e.delayId, e.content])).toEqual([[id, content]]);
    expect(h.hostSaw).toEqual([]);
  });

  it('passes other requests to the host with their bodies intact', async () => {
    h = await startHono();
    const now = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/now?foo=bar`, { body: { body: 'now', n: 1 } });
    expect(now.status).toBe(200);
    expect(now.json).toMatchObject({ host: true, roomId: ROOM, body: { body: 'now', n: 1 } });
    const big = 'y'.repeat(200_000); // far over maxBodyBytes: not ours, so not limited by us
    const echo = await call(h.baseUrl, 'POST', '/_matrix/client/v3/echo', { body: big });
    expect(echo.status).toBe(200);
    expect(echo.json['body']).toBe(big);
    const health = await fetch(`${h.baseUrl}/health`);
    expect(await health.text()).toBe('ok');
    expect(h.hostSaw.map((s) => s.path)).toEqual([`${ROOMS}/send/m.room.message/now`, '/_matrix/client/v3/echo']);
    expect(h.sent).toEqual([]);
  });

  it('answers unknown delayed_events routes and methods with JSON M_UNRECOGNIZED, without a token', async () => {
    h = await startHono();
    for (const [method, path, status] of [
      ['POST', `${STABLE}/`, 404],
      ['GET', `${STABLE}/abc/def/ghi`, 404],
      ['DELETE', STABLE, 405],
      ['PUT', `${UNSTABLE}/abc`, 405],
    ] as const) {
      const res = await call(h.baseUrl, method, path, { token: null });
      expect([method, path, res.status, res.json['errcode']]).toEqual([method, path, status, 'M_UNRECOGNIZED']);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      if (status === 405) expect(res.headers.get('allow')).toBeTruthy();
    }
  });

  it('answers 413 M_TOO_LARGE from Content-Length, and for a streamed body past the limit', async () => {
    h = await startHono({ handler: { maxBodyBytes: 1024 } });
    const big = (bytes: number): string => JSON.stringify({ body: 'x'.repeat(bytes - 11) });
    expect((await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/b1?delay=10`, { body: big(1024) })).status).toBe(200);
    const over = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/b2?delay=10`, { body: big(1025) });
    expect([over.status, over.json['errcode']]).toEqual([413, 'M_TOO_LARGE']);
    const unstable = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/b3?org.matrix.msc4140.delay=10`, { body: big(5000) });
    expect([unstable.status, unstable.json['errcode']]).toEqual([413, 'M_TOO_LARGE']);

    // No Content-Length: counted as it streams. The stream never ends, so an adapter that waited
    // for the whole body (or buffered it) would never answer.
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let offered = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        offered += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const streamed = await putStreamed(h.baseUrl, 'endless', stream);
    const offeredAtAnswer = offered;
    expect(streamed.status).toBe(413);
    // Answered long before the client could push even 8 MiB (socket buffers hold some hundreds of KiB).
    expect(offeredAtAnswer).toBeLessThan(8 * 1024 * 1024);
    expect(((await streamed.json()) as Record<string, unknown>)['errcode']).toBe('M_TOO_LARGE');
    expect(await listIds(h.baseUrl, 'alice')).toHaveLength(1);
    // The server keeps serving.
    expect((await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/b4?delay=10`, { body: big(100) })).status).toBe(200);
  });

  it('accepts a streamed body within the limit', async () => {
    h = await startHono({ handler: { maxBodyBytes: 1024 } });
    const parts = ['{"bo', 'dy":"stre', 'amed"}'].map((p) => new TextEncoder().encode(p));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const p of parts) controller.enqueue(p);
        controller.close();
      },
    });
    const res = await putStreamed(h.baseUrl, 'small', stream);
    expect(res.status).toBe(200);
    await h.clock.advanceAsync(10);
    expect(h.sent.map((e) => e.content)).toEqual([{ body: 'streamed' }]);
  });

  it('answers bad bodies with Matrix JSON errors, never a 500', async () => {
    h = await startHono();
    const notJson = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad1?delay=10`, { body: '{"body": ' });
    expect([notJson.status, notJson.json['errcode']]).toEqual([400, 'M_NOT_JSON']);
    const array = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad2?delay=10`, { body: '[1,2]' });
    expect([array.status, array.json['errcode']]).toEqual([400, 'M_BAD_JSON']);
    const empty = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad3?delay=10`, { body: '' });
    expect([empty.status, empty.json['errcode']]).toEqual([400, 'M_NOT_JSON']);
    const action = await call(h.baseUrl, 'POST', `${STABLE}/abc`, { body: { action: 'explode' } });
    expect(action.status).toBe(400);
    const delay = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad4?delay=soon`, { body: {} });
    expect([delay.status, delay.json['errcode']]).toEqual([400, 'M_INVALID_PARAM']);
    expect(h.hostSaw).toEqual([]);
  });

  it('authenticates before anything else, with the Request as raw', async () => {
    h = await startHono();
    const missing = await call(h.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/t1?delay=10`, { token: null, body: {} });
    expect([missing.status, missing.json['errcode']]).toEqual([401, 'M_MISSING_TOKEN']);
    const unknown = await call(h.baseUrl, 'GET', STABLE, { token: 'mallory' });
    expect([unknown.status, unknown.json['errcode']]).toEqual([401, 'M_UNKNOWN_TOKEN']);
    expect(h.raws).toHaveLength(2);
    for (const raw of h.raws) expect(raw).toBeInstanceOf(Request);
    expect(new URL((h.raws[1] as Request).url).pathname).toBe(STABLE);
  });

  it('a host that reads the body before the adapter gets a logged 500 naming the fix, not a hang or a crash', async () => {
    const { scheduler, logger, logged } = makeScheduler();
    await scheduler.start();
    const delayedEvents = toFetchHandler({ scheduler, authenticate: makeAuthenticate(), logger });
    const app = new Hono();
    app.use('*', async (c, next) => {
      await c.req.raw.text(); // the wrong order: a body reader first
      await next();
    });
    app.use('/_matrix/client/*', async (c, next) => (await delayedEvents(c.req.raw)) ?? next());
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    h = {
      close: async () => {
        await closeServer(server);
        await scheduler.stop();
      },
    } as HonoServer;
    const { port } = server.address() as AddressInfo;
    const res = await call(`http://127.0.0.1:${port}`, 'PUT', `${ROOMS}/send/m.room.message/x?delay=10`, { body: { a: 1 } });
    expect([res.status, res.json['errcode']]).toEqual([500, 'M_UNKNOWN']);
    const errors = logged.map((entry) => String(((entry as { message?: { err?: Error } }).message?.err as Error | undefined)?.message));
    expect(errors.some((m) => m.includes('mount it before anything that reads bodies')), errors.join('; ')).toBe(true);
    expect(await scheduler.list({ userId: '@alice:example.org', deviceId: 'ALICEPHONE' })).toMatchObject({ events: [] });
  });

  it('rejects invalid options when created', () => {
    h = { close: () => Promise.resolve() } as HonoServer;
    expect(() => toFetchHandler({ scheduler: {} as never, authenticate: () => ({ userId: '@a:b', deviceId: 'D' }) })).toThrow(ConfigError);
  });
});
