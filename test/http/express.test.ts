import { createServer } from 'node:http';
import type { Server } from 'node:http';
import express from 'express';
import type { Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { toExpressRouter } from '../../src/adapters/express/index.js';
import type { ExpressRouterOptions } from '../../src/adapters/express/index.js';
import { MatrixError } from '../../src/core/errors.js';
import { versionsUnstableFeatures } from '../../src/http/versions.js';
import { CAROL } from '../helpers/fixtures.js';
import { ROOMS, STABLE, UNSTABLE, call, closeServer, listIds, listen, makeAuthenticate, makeScheduler, scheduleMessage } from './helpers.js';
import type { TestServerOptions } from './helpers.js';

interface ExpressServer {
  baseUrl: string;
  sent: ReturnType<typeof makeScheduler>['sent'];
  clock: ReturnType<typeof makeScheduler>['clock'];
  close(): Promise<void>;
}

let x: ExpressServer;
afterEach(async () => {
  await x.close();
});

type Layout = 'router-first' | 'json-first' | 'mounted';

/** An Express host: the delayed-events middleware, express.json(), and the host's own routes. */
async function startExpress(layout: Layout, options: TestServerOptions = {}): Promise<ExpressServer> {
  const { clock, sent, scheduler, logger } = makeScheduler(options);
  await scheduler.start();
  const routerOptions: ExpressRouterOptions = { scheduler, authenticate: makeAuthenticate(), logger, ...options.handler };
  const app = express();
  if (layout === 'json-first') app.use(express.json());
  if (layout === 'mounted') app.use('/_matrix', toExpressRouter(routerOptions));
  else app.use(toExpressRouter(routerOptions));
  if (layout !== 'json-first') app.use(express.json());
  app.get('/_matrix/client/versions', (_req: Request, res: Response) => {
    res.json({ versions: ['v1.11'], unstable_features: { 'org.example.other': true, ...versionsUnstableFeatures(true) } });
  });
  app.put('/_matrix/client/v3/rooms/:roomId/send/:type/:txnId', (req: Request, res: Response) => {
    res.status(200).json({ event_id: '$host', host: true, params: req.params, body: req.body as unknown });
  });
  const server: Server = createServer(app);
  const baseUrl = await listen(server);
  return {
    baseUrl,
    sent,
    clock,
    async close() {
      await closeServer(server);
      await scheduler.stop();
    },
  };
}

describe.each(['router-first', 'mounted'] as const)('Express adapter (%s)', (layout) => {
  it('schedules, lists, manages and sends delayed events', async () => {
    x = await startExpress(layout);
    const id = await scheduleMessage(x.baseUrl, 'alice', 1000, 'e1', { body: 'bye' });
    const state = await call(x.baseUrl, 'PUT', `${ROOMS}/state/m.call.member/?org.matrix.msc4140.delay=2000`, { body: {} });
    expect(state.status).toBe(200);
    expect((await listIds(x.baseUrl, 'alice')).length).toBe(2);
    expect((await call(x.baseUrl, 'POST', `${UNSTABLE}/${state.json['delay_id'] as string}/cancel`)).status).toBe(200);
    expect((await call(x.baseUrl, 'POST', `${STABLE}/${id}`, { body: { action: 'restart' } })).status).toBe(200);
    await x.clock.advanceAsync(1000);
    expect(x.sent.map((e) => [e.delayId, e.content])).toEqual([[id, { body: 'bye' }]]);
  });

  it('passes sends without a delay to the host with their body intact for express.json()', async () => {
    x = await startExpress(layout);
    const res = await call(x.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/now?foo=bar`, { body: { body: 'now', n: 1 } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ host: true, body: { body: 'now', n: 1 } });
  });

  it('answers unknown delayed_events routes and methods with JSON M_UNRECOGNIZED, not HTML', async () => {
    x = await startExpress(layout);
    for (const [method, path, status] of [
      ['POST', `${STABLE}/`, 404],
      ['POST', `${UNSTABLE}/abc/oops`, 404],
      ['DELETE', STABLE, 405],
    ] as const) {
      const res = await call(x.baseUrl, method, path, { token: null });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.json['errcode']).toBe('M_UNRECOGNIZED');
    }
  });

  it('answers malformed JSON and oversized bodies with Matrix errors, not HTML', async () => {
    x = await startExpress(layout, { handler: { maxBodyBytes: 2048 } });
    const bad = await call(x.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad?delay=10`, {
      body: '{"oops',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json['errcode']).toBe('M_NOT_JSON');
    const noAction = await call(x.baseUrl, 'POST', `${STABLE}/abc`, { body: {} });
    expect(noAction.status).toBe(400);
    expect(noAction.json['errcode']).toBe('M_MISSING_PARAM');
    const huge = await call(x.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/huge?delay=10`, { body: { body: 'x'.repeat(5000) } });
    expect(huge.status).toBe(413);
    expect(huge.headers.get('content-type')).toBe('application/json');
    expect(huge.json['errcode']).toBe('M_TOO_LARGE');
  });

  it('answers 401 and 429 as JSON with Retry-After', async () => {
    x = await startExpress(layout, { rateLimits: { manage: { points: 1, durationMs: 60_000 } } });
    expect((await call(x.baseUrl, 'GET', STABLE, { token: null })).json['errcode']).toBe('M_MISSING_TOKEN');
    expect((await call(x.baseUrl, 'GET', STABLE)).status).toBe(200);
    const limited = await call(x.baseUrl, 'GET', STABLE);
    expect(limited.status).toBe(429);
    expect(limited.json['errcode']).toBe('M_LIMIT_EXCEEDED');
    expect(limited.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    expect(typeof limited.json['retry_after_ms']).toBe('number');
  });
});

describe('Express adapter after express.json()', () => {
  it('uses the body the parser already read', async () => {
    x = await startExpress('json-first');
    const res = await call(x.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/pre?delay=10`, { body: { body: 'parsed' } });
    expect(res.status).toBe(200);
    const managed = await call(x.baseUrl, 'POST', `${STABLE}/${res.json['delay_id'] as string}`, { body: { action: 'send' } });
    expect(managed.status).toBe(200);
    expect(x.sent.map((e) => e.content)).toEqual([{ body: 'parsed' }]);
  });

  it('still reads a body the parser skipped (no JSON content type)', async () => {
    x = await startExpress('json-first');
    const res = await call(x.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/raw?delay=10`, {
      body: '{"body":"raw"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(200);
    await x.clock.advanceAsync(10);
    expect(x.sent.map((e) => e.content)).toEqual([{ body: 'raw' }]);
  });
});

describe('Express adapter and host authentication middleware', () => {
  it('hands authenticate the Express request as raw, with what earlier middleware attached', async () => {
    const { clock, sent, scheduler } = makeScheduler();
    await scheduler.start();
    const app = express();
    app.use((req: Request, _res: Response, next: () => void) => {
      (req as Request & { user?: string }).user = req.headers['x-user'] === 'carol' ? CAROL.userId : undefined;
      next();
    });
    app.use(
      toExpressRouter({
        scheduler,
        authenticate: (req) => {
          const user = (req.raw as Request & { user?: string }).user;
          if (user === undefined) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
          return { userId: user };
        },
      }),
    );
    const server = createServer(app);
    const baseUrl = await listen(server);
    x = { baseUrl, sent, clock, close: async () => { await closeServer(server); await scheduler.stop(); } };
    expect((await call(baseUrl, 'GET', STABLE, { token: null })).status).toBe(401);
    const ok = await call(baseUrl, 'PUT', `${ROOMS}/send/m.room.message/c?delay=5`, { token: null, headers: { 'x-user': 'carol' }, body: {} });
    expect(ok.status).toBe(200);
    await clock.advanceAsync(5);
    expect(sent.map((e) => e.userId)).toEqual([CAROL.userId]);
  });
});

describe('versionsUnstableFeatures', () => {
  it('advertises org.matrix.msc4140 only when enabled', async () => {
    expect(versionsUnstableFeatures()).toEqual({ 'org.matrix.msc4140': true });
    expect(versionsUnstableFeatures(true)).toEqual({ 'org.matrix.msc4140': true });
    expect(versionsUnstableFeatures(false)).toEqual({});
    x = await startExpress('router-first');
    const res = await call(x.baseUrl, 'GET', '/_matrix/client/versions', { token: null });
    expect(res.json['unstable_features']).toEqual({ 'org.example.other': true, 'org.matrix.msc4140': true });
  });
});
