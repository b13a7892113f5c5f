import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MatrixError } from '../../src/core/errors.js';
import { ROOMS, STABLE, UNSTABLE, call, listIds, scheduleMessage, startNodeServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let s: TestServer;
afterEach(async () => {
  await s.close();
});

function expect429(res: { status: number; headers: Headers; json: Record<string, unknown> }, windowMs: number): void {
  expect(res.status).toBe(429);
  expect(res.json['errcode']).toBe('M_LIMIT_EXCEEDED');
  const retryAfterMs = res.json['retry_after_ms'];
  expect(typeof retryAfterMs).toBe('number');
  expect(retryAfterMs as number).toBeGreaterThan(0);
  expect(retryAfterMs as number).toBeLessThanOrEqual(windowMs);
  const header = res.headers.get('retry-after');
  expect(header).toMatch(/^[1-9][0-9]*$/);
  expect(Number(header)).toBe(Math.max(1, Math.ceil((retryAfterMs as number) / 1000)));
}

describe('authentication', () => {
  const endpoints = (id: string): [string, string, unknown][] => [
    ['PUT', `${ROOMS}/send/m.room.message/a1?delay=10`, { a: 1 }],
    ['PUT', `${ROOMS}/state/m.call.member/k?org.matrix.msc4140.delay=10`, { a: 1 }],
    ['PUT', `${ROOMS}/redact/%24e/a2?delay=10`, {}],
    ['POST', `${STABLE}/${id}`, { action: 'cancel' }],
    ['POST', `${UNSTABLE}/${id}/cancel`, undefined],
    ['GET', STABLE, undefined],
    ['GET', UNSTABLE, undefined],
  ];

  it('answers 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN on every endpoint and changes nothing', async () => {
    s = await startNodeServer();
    const id = await scheduleMessage(s.baseUrl, 'alice', 1000, 'keep');
    for (const [method, path, body] of endpoints(id)) {
      const missing = await call(s.baseUrl, method, path, { token: null, body });
      expect(missing.status, path).toBe(401);
      expect(missing.json['errcode']).toBe('M_MISSING_TOKEN');
      const unknown = await call(s.baseUrl, method, path, { token: 'mallory', body });
      expect(unknown.status, path).toBe(401);
      expect(unknown.json['errcode']).toBe('M_UNKNOWN_TOKEN');
    }
    expect(await listIds(s.baseUrl, 'alice')).toEqual([id]);
  });

  it('authenticates before validating: a bad delay without a token is 401, not 400', async () => {
    s = await startNodeServer();
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/x?delay=-5`, { token: null, body: {} });
    expect(res.status).toBe(401);
  });

  it('answers 500 M_UNKNOWN, with no detail, when authenticate fails unexpectedly, and logs it', async () => {
    s = await startNodeServer({
      handler: {
        authenticate: () => {
          throw new Error('database password is hunter2');
        },
      },
    });
    const res = await call(s.baseUrl, 'GET', STABLE);
    expect(res.status).toBe(500);
    expect(res.json['errcode']).toBe('M_UNKNOWN');
    expect(res.text).not.toContain('hunter2');
    expect(s.logged.length).toBeGreaterThan(0);
  });

  it('answers 500 M_UNKNOWN when authenticate returns no user ID', async () => {
    s = await startNodeServer({ handler: { authenticate: () => ({ userId: '' }) } });
    const res = await call(s.baseUrl, 'GET', STABLE);
    expect(res.status).toBe(500);
    expect(res.json['errcode']).toBe('M_UNKNOWN');
  });
});

describe('rate limits', () => {
  it('429 carries Retry-After and retry_after_ms; 401, M_UNRECOGNIZED and 400 answers use no points', async () => {
    s = await startNodeServer({ rateLimits: { manage: { points: 2, durationMs: 60_000 } } });
    const id = await scheduleMessage(s.baseUrl, 'alice', 10_000, 'rl');
    for (let i = 0; i < 5; i++) {
      expect((await call(s.baseUrl, 'POST', `${STABLE}/${id}/restart`, { token: null })).status).toBe(401);
      expect((await call(s.baseUrl, 'POST', `${STABLE}/${id}/restart`, { token: 'mallory' })).status).toBe(401);
      expect((await call(s.baseUrl, 'POST', `${STABLE}/${id}/oops`)).status).toBe(404);
      expect((await call(s.baseUrl, 'GET', `${STABLE}/${id}`)).status).toBe(405);
      expect((await call(s.baseUrl, 'POST', `${STABLE}/${id}`, { body: {} })).status).toBe(400);
    }
    expect((await call(s.baseUrl, 'POST', `${STABLE}/${id}/restart`)).status).toBe(200);
    expect((await call(s.baseUrl, 'POST', `${UNSTABLE}/${id}`, { body: { action: 'restart' } })).status).toBe(200);
    const limited = await call(s.baseUrl, 'POST', `${STABLE}/${id}/restart`);
    expect429(limited, 60_000);
    const limitedUnstable = await call(s.baseUrl, 'GET', UNSTABLE);
    expect429(limitedUnstable, 60_000);
    // Bob's bucket is his own.
    expect((await call(s.baseUrl, 'GET', STABLE, { token: 'bob' })).status).toBe(200);
  });

  it('limits scheduling in both styles', async () => {
    s = await startNodeServer({ rateLimits: { schedule: { points: 1, durationMs: 30_000 } } });
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/s1?delay=10`, { body: {} })).status).toBe(200);
    expect429(await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/s2?delay=10`, { body: {} }), 30_000);
    expect429(await call(s.baseUrl, 'PUT', `${ROOMS}/state/t/k?org.matrix.msc4140.delay=10`, { body: {} }), 30_000);
    expect((await listIds(s.baseUrl, 'alice')).length).toBe(1);
  });

  it('limits the send action separately', async () => {
    s = await startNodeServer({ rateLimits: { send: { points: 1, durationMs: 30_000 } } });
    const a = await scheduleMessage(s.baseUrl, 'alice', 10_000, 'sa');
    const b = await scheduleMessage(s.baseUrl, 'alice', 10_000, 'sb');
    expect((await call(s.baseUrl, 'POST', `${STABLE}/${a}/send`)).status).toBe(200);
    expect429(await call(s.baseUrl, 'POST', `${STABLE}/${b}`, { body: { action: 'send' } }), 30_000);
    expect((await call(s.baseUrl, 'POST', `${STABLE}/${b}/restart`)).status).toBe(200);
    expect(s.sent.map((e) => e.delayId)).toEqual([a]);
  });
});

describe('host refusals and error style', () => {
  it("passes the host's refusal of a send action through and keeps the event scheduled", async () => {
    s = await startNodeServer({
      scheduler: {
        sendEvent: () => {
          throw new MatrixError(403, 'M_FORBIDDEN', 'You may not send this event');
        },
      },
    });
    const id = await scheduleMessage(s.baseUrl, 'alice', 10_000, 'refused');
    const res = await call(s.baseUrl, 'POST', `${UNSTABLE}/${id}/send`);
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ errcode: 'M_FORBIDDEN', error: 'You may not send this event' });
    expect(await listIds(s.baseUrl, 'alice')).toEqual([id]);
  });

  it('errorStyle "stable" forces the stable form on unstable requests', async () => {
    s = await startNodeServer({ scheduler: { maxDelayMs: 1000 }, handler: { errorStyle: 'stable' } });
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/f1?org.matrix.msc4140.delay=1001`, { body: {} });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ errcode: 'M_MAX_DELAY_EXCEEDED', max_delay: 1000 });
  });

  it('errorStyle "unstable" forces the unstable form on stable requests', async () => {
    s = await startNodeServer({ scheduler: { maxDelayMs: 1000 }, handler: { errorStyle: 'unstable' } });
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/f2?delay=1001`, { body: {} });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      errcode: 'M_UNKNOWN',
      'org.matrix.msc4140.errcode': 'M_MAX_DELAY_EXCEEDED',
      'org.matrix.msc4140.max_delay': 1000,
    });
  });
});

describe('body size limit', () => {
  const big = (bytes: number): string => JSON.stringify({ body: 'x'.repeat(bytes - 11) });

  it('accepts a body of exactly maxBodyBytes and answers 413 M_TOO_LARGE one byte over', async () => {
    s = await startNodeServer({ handler: { maxBodyBytes: 1024 } });
    expect(big(1024)).toHaveLength(1024);
    const ok = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/b1?delay=10`, { body: big(1024) });
    expect(ok.status).toBe(200);
    const over = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/b2?delay=10`, { body: big(1025) });
    expect(over.status).toBe(413);
    expect(over.json['errcode']).toBe('M_TOO_LARGE');
    const manage = await call(s.baseUrl, 'POST', `${STABLE}/abc`, { body: big(1025) });
    expect(manage.status).toBe(413);
    expect(manage.json['errcode']).toBe('M_TOO_LARGE');
    expect((await listIds(s.baseUrl, 'alice')).length).toBe(1);
  });

  it('counts a unicode body in bytes, not characters', async () => {
    s = await startNodeServer({ handler: { maxBodyBytes: 1024 } });
    const body = JSON.stringify({ body: '😀'.repeat(300) }); // 300 characters, 1200+ bytes
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/u1?delay=10`, { body });
    expect(res.status).toBe(413);
  });

  /** A delayed send whose body is streamed (chunked, no Content-Length). */
  function putStreamed(baseUrl: string, txnId: string, stream: ReadableStream<Uint8Array>): Promise<Response> {
    return fetch(`${baseUrl}${ROOMS}/send/m.room.message/${txnId}?delay=10`, {
      method: 'PUT',
      headers: { authorization: 'Bearer alice' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
  }

  it('answers 413 for a chunked body without Content-Length', async () => {
    s = await startNodeServer({ handler: { maxBodyBytes: 1024 } });
    const chunk = new TextEncoder().encode('x'.repeat(600));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"body":"'));
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
      },
    });
    const res = await putStreamed(s.baseUrl, 'chunked', stream);
    expect(res.status).toBe(413);
    expect(((await res.json()) as Record<string, unknown>)['errcode']).toBe('M_TOO_LARGE');
  });

  it('answers 413 with Connection: close for a chunked body past 1 MiB', async () => {
    s = await startNodeServer({ handler: { maxBodyBytes: 1024 } });
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Endless unless the server stops reading; 4 MiB at most.
        if (sent >= 4 * 1024 * 1024) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const res = await putStreamed(s.baseUrl, 'endless', stream);
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(((await res.json()) as Record<string, unknown>)['errcode']).toBe('M_TOO_LARGE');
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it('survives a client that disconnects in the middle of its body', async () => {
    s = await startNodeServer();
    const { port, hostname } = new URL(s.baseUrl);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `PUT ${ROOMS}/send/m.room.message/cut?delay=10 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice\r\n` +
            'Content-Length: 1000\r\n\r\n{"body":"partial',
          () => setImmediate(() => socket.destroy()),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/whole?delay=10`, { body: {} })).status).toBe(200);
  });

  it('answers 413 for large bodies (default limit 64 KiB) and keeps serving', async () => {
    s = await startNodeServer();
    const sizes = [65_537, 200_000, 3_000_000];
    for (const size of sizes) {
      const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/huge${size}?delay=10`, { body: big(size) });
      expect(res.status, String(size)).toBe(413);
      expect(res.json['errcode']).toBe('M_TOO_LARGE');
      // Over 1 MiB the rest is not worth reading: the connection is closed instead.
      expect(res.headers.get('connection')).toBe(size > 1024 * 1024 ? 'close' : 'keep-alive');
    }
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/fine?delay=10`, { body: big(65_536) })).status).toBe(200);
  });

  it('does not read the body of a request it passes on, whatever its size', async () => {
    s = await startNodeServer({ handler: { maxBodyBytes: 1024 } });
    const body = big(100_000);
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/host`, { body });
    expect(res.status).toBe(418);
    expect(res.json['body']).toBe(body);
  });
});
