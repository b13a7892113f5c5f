/**
 * The Fastify plugin in a real Fastify 5 app listening on 127.0.0.1: the library's requests are
 * answered by it, everything else still goes through Fastify's own routing, body parsing and limits.
 */
import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { delayedEventsPlugin } from '../../src/adapters/fastify/index.js';
import { ConfigError } from '../../src/core/config-error.js';
import type { HandlerRequest } from '../../src/http/handlers.js';
import { ROOM } from '../helpers/fixtures.js';
import { ROOMS, STABLE, UNSTABLE, call, listIds, makeAuthenticate, makeScheduler, rawCall, scheduleMessage } from './helpers.js';
import type { TestServerOptions } from './helpers.js';

interface FastifyServer {
  app: FastifyInstance;
  baseUrl: string;
  sent: ReturnType<typeof makeScheduler>['sent'];
  clock: ReturnType<typeof makeScheduler>['clock'];
  /** Requests that reached the host's own handlers, with the body Fastify parsed. */
  hostSaw: { url: string; body: unknown }[];
  /** The `raw` each `authenticate` call received. */
  raws: unknown[];
  /** URLs whose `onResponse` hook ran (Fastify's request logging point). */
  responded: string[];
  close(): Promise<void>;
}

let f: FastifyServer | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

async function startFastify(options: TestServerOptions & { maxParamLength?: number } = {}): Promise<FastifyServer> {
  const { clock, sent, scheduler, logger } = makeScheduler(options);
  await scheduler.start();
  const authenticate = makeAuthenticate();
  const raws: unknown[] = [];
  const hostSaw: FastifyServer['hostSaw'] = [];
  const responded: string[] = [];
  // maxParamLength as the guide recommends: Matrix IDs and state keys run past Fastify's default 100.
  const app = Fastify({ bodyLimit: 1_000_000, routerOptions: { maxParamLength: options.maxParamLength ?? 1024 } });
  app.addHook('onResponse', (request, _reply, done) => {
    responded.push(request.url);
    done();
  });
  await app.register(delayedEventsPlugin, {
    scheduler,
    authenticate: (req: HandlerRequest) => {
      raws.push(req.raw);
      return authenticate(req);
    },
    logger,
    ...options.handler,
  });
  app.put('/_matrix/client/v3/rooms/:roomId/send/:type/:txnId', async (request: FastifyRequest<{ Params: { roomId: string } }>) => {
    hostSaw.push({ url: request.url, body: request.body });
    return { event_id: '$host', host: true, roomId: request.params.roomId, body: request.body };
  });
  app.post('/_matrix/client/v3/echo', async (request) => {
    hostSaw.push({ url: request.url, body: request.body });
    return { host: true, body: request.body };
  });
  // A route inside an encapsulated child context: the plugin's hook must reach it too.
  await app.register(
    async (child) => {
      child.put('/rooms/:roomId/state/:type/:stateKey', async (request) => {
        hostSaw.push({ url: request.url, body: request.body });
        return { event_id: '$child' };
      });
    },
    { prefix: '/_matrix/client/v3' },
  );
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    baseUrl: address,
    sent,
    clock,
    hostSaw,
    raws,
    responded,
    async close() {
      await app.close();
      await scheduler.stop();
    },
  };
}

describe('Fastify plugin', () => {
  it('schedules, lists, manages and sends delayed events', async () => {
    f = await startFastify();
    const id = await scheduleMessage(f.baseUrl, 'alice', 1000, 'e1', { body: 'bye' });
    // The host declared a state route (in a child context) and a send route: delayed requests on
    // them are still the library's.
    const state = await call(f.baseUrl, 'PUT', `${ROOMS}/state/m.call.member/k?org.matrix.msc4140.delay=2000`, { body: { k: 1 } });
    expect(state.status).toBe(200);
    expect(state.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await listIds(f.baseUrl, 'alice')).sort()).toEqual([id, state.json['delay_id']].sort());
    expect((await call(f.baseUrl, 'POST', `${UNSTABLE}/${state.json['delay_id'] as string}/cancel`)).status).toBe(200);
    expect((await call(f.baseUrl, 'POST', `${STABLE}/${id}`, { body: { action: 'restart' } })).status).toBe(200);
    await f.clock.advanceAsync(1000);
    expect(f.sent.map((e) => [e.delayId, e.roomId, e.content])).toEqual([[id, ROOM, { body: 'bye' }]]);
    expect(f.hostSaw).toEqual([]);
    // Hijacked replies still reach Fastify's onResponse hooks.
    expect(f.responded).toContain(`${ROOMS}/send/m.room.message/e1?delay=1000`);
  });

  it("leaves other requests to Fastify's routes and JSON parser, bodies intact", async () => {
    f = await startFastify({ handler: { maxBodyBytes: 1024 } });
    const now = await call(f.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/now?foo=bar`, { body: { body: 'now', n: 1 } });
    expect(now.status).toBe(200);
    expect(now.json).toMatchObject({ host: true, roomId: ROOM, body: { body: 'now', n: 1 } });
    const state = await call(f.baseUrl, 'PUT', `${ROOMS}/state/m.room.topic/`, { body: { topic: 't' } });
    expect([state.status, state.json['event_id']]).toEqual([200, '$child']);
    // Far over the library's maxBodyBytes, under Fastify's bodyLimit: not ours, so not limited by us.
    const big = { blob: 'y'.repeat(100_000) };
    const echo = await call(f.baseUrl, 'POST', '/_matrix/client/v3/echo', { body: big });
    expect([echo.status, echo.json['body']]).toEqual([200, big]);
    // Fastify's own errors for its own routes are untouched: bad JSON to a host route is Fastify's 400.
    const badHost = await call(f.baseUrl, 'POST', '/_matrix/client/v3/echo', { body: '{nope', headers: { 'content-type': 'application/json' } });
    expect([badHost.status, badHost.json['code']]).toEqual([400, 'FST_ERR_CTP_INVALID_JSON_BODY']);
    const missing = await call(f.baseUrl, 'GET', '/_matrix/client/v3/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.json['errcode']).toBeUndefined();
    expect(f.hostSaw.map((s) => s.body)).toEqual([{ body: 'now', n: 1 }, { topic: 't' }, big]);
    expect(f.sent).toEqual([]);
  });

  it('answers unknown delayed_events routes and methods with JSON M_UNRECOGNIZED, without a token', async () => {
    f = await startFastify();
    for (const [method, path, status] of [
      ['POST', `${STABLE}/`, 404],
      ['GET', `${STABLE}/abc/def/ghi`, 404],
      ['DELETE', STABLE, 405],
      ['PUT', `${UNSTABLE}/abc`, 405],
    ] as const) {
      const res = await call(f.baseUrl, method, path, { token: null });
      expect([method, path, res.status, res.json['errcode']]).toEqual([method, path, status, 'M_UNRECOGNIZED']);
      if (status === 405) expect(res.headers.get('allow')).toBeTruthy();
    }
    expect(f.raws).toEqual([]);
  });

  it('answers 413 M_TOO_LARGE and bad JSON with Matrix errors, not Fastify ones', async () => {
    f = await startFastify({ handler: { maxBodyBytes: 1024 } });
    const over = await call(f.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/big?delay=10`, { body: { body: 'x'.repeat(2000) } });
    expect([over.status, over.json['errcode']]).toEqual([413, 'M_TOO_LARGE']);
    const notJson = await call(f.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad?delay=10`, { body: '{"body": ', headers: { 'content-type': 'application/json' } });
    expect([notJson.status, notJson.json['errcode']]).toEqual([400, 'M_NOT_JSON']);
    // A content type Fastify has no parser for (it would answer 415) is still ours to judge.
    const textPlain = await call(f.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/txt?delay=10`, { body: '{"body":"t"}', headers: { 'content-type': 'text/weird' } });
    expect(textPlain.status).toBe(200);
    expect(await listIds(f.baseUrl, 'alice')).toHaveLength(1);
    expect(f.hostSaw).toEqual([]);
  });

  it('schedules on routes the host declared with long parameters (maxParamLength raised)', async () => {
    f = await startFastify();
    const stateKey = `_@alice:example.org_ALICEPHONE_${'m'.repeat(150)}`;
    const res = await call(f.baseUrl, 'PUT', `${ROOMS}/state/m.call.member/${encodeURIComponent(stateKey)}?delay=10`, { body: {} });
    expect(res.status).toBe(200);
    await f.clock.advanceAsync(10);
    expect(f.sent.map((e) => e.stateKey)).toEqual([stateKey]);
  });

  // What the plugin cannot change: Fastify's router answers these before any hook runs. Both fail
  // closed (nothing is scheduled, nothing reaches the host's route), as the guide says.
  it("leaves Fastify's router errors alone: over maxParamLength (414) and malformed escapes (400)", async () => {
    f = await startFastify({ maxParamLength: 100 });
    const long = await call(f.baseUrl, 'PUT', `${ROOMS}/state/m.call.member/${'k'.repeat(150)}?delay=10`, { body: {} });
    expect([long.status, long.json['code']]).toEqual([414, 'FST_ERR_MAX_PARAM_LENGTH']);
    const badEscape = await rawCall(f.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/%E0%A4%A?delay=10`, { body: '{}' });
    expect([badEscape.status, badEscape.json['code']]).toEqual([400, 'FST_ERR_BAD_URL']);
    expect(await listIds(f.baseUrl, 'alice')).toEqual([]);
    expect(f.hostSaw).toEqual([]);
    expect(f.sent).toEqual([]);
  });

  it('authenticates with the FastifyRequest as raw', async () => {
    f = await startFastify();
    const missing = await call(f.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/t1?delay=10`, { token: null, body: {} });
    expect([missing.status, missing.json['errcode']]).toEqual([401, 'M_MISSING_TOKEN']);
    expect(f.raws).toHaveLength(1);
    const raw = f.raws[0] as FastifyRequest;
    expect(raw.raw.url).toBe(`${ROOMS}/send/m.room.message/t1?delay=10`);
    expect(typeof raw.id).toBe('string');
  });

  it('fails registration on invalid options', async () => {
    const app = Fastify();
    await expect(
      app.register(delayedEventsPlugin, { scheduler: {} as never, authenticate: () => ({ userId: '@a:b', deviceId: 'D' }) }).ready(),
    ).rejects.toBeInstanceOf(ConfigError);
    await app.close();
  });
});
