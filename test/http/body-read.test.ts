/**
 * How the node:http adapter reads bodies on the wire: split over packets, sent late, pipelined,
 * mixed on one keep-alive connection. A reader that took a body before it was complete, or took bytes
 * of the next request, fails these.
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOMS, STABLE, UNSTABLE, call, rawExchange, rawHead, rawRequest, scheduleMessage, startNodeServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let s: TestServer;
afterEach(async () => {
  await s.close();
});

/** Pending events of alice as delay ID → content body. */
async function contents(): Promise<Record<string, unknown>> {
  const res = await call(s.baseUrl, 'GET', STABLE);
  const events = res.json['delayed_events'] as { delay_id: string; content: { body?: unknown } }[];
  return Object.fromEntries(events.map((e) => [e.delay_id, e.content.body]));
}

const send = (txnId: string): string => `${ROOMS}/send/m.room.message/${txnId}?delay=60000`;

describe('node:http adapter: request bodies on the wire', () => {
  it('reads a body split over two packets, the second sent late', async () => {
    s = await startNodeServer();
    const id = await scheduleMessage(s.baseUrl, 'alice', 60_000, 'split');
    const body = JSON.stringify({ action: 'cancel' });
    const [res] = await rawExchange(s.baseUrl, [rawHead('POST', `${STABLE}/${id}`, body.length) + body.slice(0, 7), 50, body.slice(7)], 1);
    expect(res).toMatchObject({ status: 200, json: {} });
    expect(await contents()).toEqual({});
  });

  it('reads a body sent only after its headers', async () => {
    s = await startNodeServer();
    const body = JSON.stringify({ msgtype: 'm.text', body: 'late' });
    const [res] = await rawExchange(s.baseUrl, [rawHead('PUT', send('late'), body.length), 50, body], 1);
    expect(res?.status).toBe(200);
    expect(await contents()).toEqual({ [res?.json['delay_id'] as string]: 'late' });
  });

  it('keeps a multi-byte character split between packets intact', async () => {
    s = await startNodeServer();
    const bytes = Buffer.from(JSON.stringify({ msgtype: 'm.text', body: 'a😀b' }));
    const cut = bytes.indexOf(Buffer.from('😀')) + 2;
    const [res] = await rawExchange(s.baseUrl, [rawHead('PUT', send('emoji'), bytes.length), bytes.subarray(0, cut), 30, bytes.subarray(cut)], 1);
    expect(res?.status).toBe(200);
    expect(await contents()).toEqual({ [res?.json['delay_id'] as string]: 'a😀b' });
  });

  it('answers pipelined requests in order, each with its own body', async () => {
    s = await startNodeServer();
    const a = await scheduleMessage(s.baseUrl, 'alice', 60_000, 'a');
    const b = await scheduleMessage(s.baseUrl, 'alice', 60_000, 'b');
    const pipelined =
      rawRequest('POST', `${STABLE}/${a}`, { action: 'cancel' }) +
      rawRequest('PUT', send('p1'), { msgtype: 'm.text', body: 'first' }) +
      rawRequest('POST', `${UNSTABLE}/${b}`, { action: 'send' }) +
      rawRequest('PUT', send('p2'), { msgtype: 'm.text', body: 'second' });
    const responses = await rawExchange(s.baseUrl, [pipelined], 4);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(responses[0]?.json).toEqual({});
    expect(responses[2]?.json).toEqual({});
    expect(s.sent.map((e) => e.delayId)).toEqual([b]);
    expect(await contents()).toEqual({
      [responses[1]?.json['delay_id'] as string]: 'first',
      [responses[3]?.json['delay_id'] as string]: 'second',
    });
  });

  it('reads a pipelined body that straddles two packets between complete requests', async () => {
    s = await startNodeServer();
    const middle = JSON.stringify({ msgtype: 'm.text', body: 'middle' });
    const responses = await rawExchange(
      s.baseUrl,
      [
        rawRequest('PUT', send('s1'), { msgtype: 'm.text', body: 'before' }) + rawHead('PUT', send('s2'), middle.length) + middle.slice(0, 10),
        50,
        middle.slice(10) + rawRequest('PUT', send('s3'), { msgtype: 'm.text', body: 'after' }),
      ],
      3,
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await contents()).toEqual({
      [responses[0]?.json['delay_id'] as string]: 'before',
      [responses[1]?.json['delay_id'] as string]: 'middle',
      [responses[2]?.json['delay_id'] as string]: 'after',
    });
  });

  it('keeps one keep-alive connection healthy across whole, split, malformed and oversized bodies', async () => {
    s = await startNodeServer({ handler: { maxBodyBytes: 1024 } });
    const split = JSON.stringify({ msgtype: 'm.text', body: 'split' });
    const oversized = JSON.stringify({ body: 'x'.repeat(2000) });
    const responses = await rawExchange(
      s.baseUrl,
      [
        rawRequest('PUT', send('k1'), { msgtype: 'm.text', body: 'whole' }),
        20,
        rawHead('PUT', send('k2'), split.length) + split.slice(0, 4),
        20,
        split.slice(4),
        20,
        rawHead('PUT', send('k3'), 11) + '{"msgtype":',
        20,
        rawHead('PUT', send('k4'), oversized.length) + oversized,
        20,
        rawRequest('PUT', send('k5'), { msgtype: 'm.text', body: 'again' }),
      ],
      5,
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 400, 413, 200]);
    expect(responses[2]?.json['errcode']).toBe('M_NOT_JSON');
    expect(responses[3]?.json['errcode']).toBe('M_TOO_LARGE');
    expect(responses.map((r) => r.headers['connection'])).toEqual(['keep-alive', 'keep-alive', 'keep-alive', 'keep-alive', 'keep-alive']);
    expect(Object.values(await contents()).sort()).toEqual(['again', 'split', 'whole']);
  });

  it('takes a body that arrived in several packets before the host called the adapter', async () => {
    const bufferedAtCall: number[] = [];
    s = await startNodeServer({ hostWaitsForBody: true, observeCall: (req) => bufferedAtCall.push(req.readableLength) });
    const bytes = Buffer.from(JSON.stringify({ msgtype: 'm.text', body: 'three 😀 packets' }));
    const [res] = await rawExchange(
      s.baseUrl,
      [rawHead('PUT', send('buffered'), bytes.length), 10, bytes.subarray(0, 9), 10, bytes.subarray(9, 25), 10, bytes.subarray(25)],
      1,
    );
    expect(res?.status).toBe(200);
    // The premise of the test: the whole body was already buffered when the adapter was called.
    expect(bufferedAtCall).toEqual([bytes.length]);
    expect(await contents()).toEqual({ [res?.json['delay_id'] as string]: 'three 😀 packets' });
  });

  it('answers 413 for a complete oversized body the host let arrive first, and keeps the connection', async () => {
    const bufferedAtCall: number[] = [];
    s = await startNodeServer({ hostWaitsForBody: true, observeCall: (req) => bufferedAtCall.push(req.readableLength), handler: { maxBodyBytes: 1024 } });
    const oversized = JSON.stringify({ body: 'x'.repeat(2000) });
    const responses = await rawExchange(
      s.baseUrl,
      [rawHead('PUT', send('big'), oversized.length) + oversized + rawRequest('PUT', send('small'), { msgtype: 'm.text', body: 'small' })],
      2,
    );
    expect(responses.map((r) => [r.status, r.headers['connection']])).toEqual([
      [413, 'keep-alive'],
      [200, 'keep-alive'],
    ]);
    // The premise: the oversized body was complete in the buffer when the adapter was called.
    expect(bufferedAtCall[0]).toBe(oversized.length);
    expect(Object.values(await contents())).toEqual(['small']);
  });

  it("lets every request it read end (so Node frees it) while the connection stays open", async () => {
    const ended: string[] = [];
    s = await startNodeServer({ observe: (req) => req.once('end', () => ended.push(req.url ?? '')) });
    const requests = ['e1', 'e2', 'e3'].map((txnId) => rawRequest('PUT', send(txnId), { msgtype: 'm.text', body: txnId }));
    const responses = await rawExchange(s.baseUrl, [requests[0] ?? '', 20, (requests[1] ?? '') + (requests[2] ?? ''), 20], 3);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(ended).toEqual([send('e1'), send('e2'), send('e3')]);
  });

  it.each([
    ['before', 'observe'],
    ['after', 'observeAfter'],
  ] as const)('shares the body with a host data listener attached %s the adapter', async (_when, hook) => {
    const seen: string[] = [];
    s = await startNodeServer({
      [hook]: (req: IncomingMessage) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => seen.push(body));
      },
    });
    const whole = { msgtype: 'm.text', body: 'tapped' };
    const late = JSON.stringify({ msgtype: 'm.text', body: 'tapped late' });
    const responses = await rawExchange(s.baseUrl, [rawRequest('PUT', send('t1'), whole), 20, rawHead('PUT', send('t2'), late.length), 20, late], 2);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(seen).toEqual([JSON.stringify(whole), late]);
    expect(Object.values(await contents()).sort()).toEqual(['tapped', 'tapped late']);
  });
});
