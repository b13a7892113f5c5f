import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STABLE, UNSTABLE, call, listIds, rawCall, scheduleMessage, startNodeServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let s: TestServer;
beforeEach(async () => {
  s = await startNodeServer({ scheduler: { listPageSize: 2 } });
});
afterEach(async () => {
  await s.close();
});

describe.each([
  ['stable', STABLE],
  ['unstable', UNSTABLE],
])('management on the %s prefix', (_name, prefix) => {
  const bodyForm = (id: string, action: string) => ['POST', `${prefix}/${id}`, { body: { action } }] as const;
  const pathForm = (id: string, action: string) => ['POST', `${prefix}/${id}/${action}`, {}] as const;

  describe.each([
    ['body form', bodyForm],
    ['path form', pathForm],
  ])('%s', (_form, form) => {
    it('restart: the event becomes due a full delay after the restart, running_since moves', async () => {
      const id = await scheduleMessage(s.baseUrl, 'alice', 1500, 'r');
      await s.clock.advanceAsync(1000);
      const [method, path, opts] = form(id, 'restart');
      const res = await call(s.baseUrl, method, path, opts);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({});
      const list = await call(s.baseUrl, 'GET', prefix);
      expect(list.json['delayed_events']).toMatchObject([{ delay_id: id, delay: 1500, running_since: s.clock.now() }]);
      await s.clock.advanceAsync(1499);
      expect(s.sent).toHaveLength(0);
      await s.clock.advanceAsync(1);
      expect(s.sent.map((e) => e.delayId)).toEqual([id]);
    });

    it('cancel: the event is never sent and no longer listed', async () => {
      const id = await scheduleMessage(s.baseUrl, 'alice', 1500, 'c');
      const [method, path, opts] = form(id, 'cancel');
      const res = await call(s.baseUrl, method, path, opts);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({});
      expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
      await s.clock.advanceAsync(10_000);
      expect(s.sent).toHaveLength(0);
    });

    it('send: the event is sent at once, as an action', async () => {
      const id = await scheduleMessage(s.baseUrl, 'alice', 100_000, 's');
      const [method, path, opts] = form(id, 'send');
      const res = await call(s.baseUrl, method, path, opts);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({});
      expect(s.sent).toMatchObject([{ delayId: id, trigger: 'action' }]);
      expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
    });

    it.each(['send', 'cancel', 'restart'])('%s on an unknown ID, or on one already cancelled, is 404 M_NOT_FOUND', async (action) => {
      const [method, path, opts] = form('doesNotExist0123456789', action);
      const res = await call(s.baseUrl, method, path, opts);
      expect(res.status).toBe(404);
      expect(res.json['errcode']).toBe('M_NOT_FOUND');
      const id = await scheduleMessage(s.baseUrl, 'alice', 1000, `gone-${action}`);
      await call(s.baseUrl, 'POST', `${prefix}/${id}/cancel`);
      const [m2, p2, o2] = form(id, action);
      const again = await call(s.baseUrl, m2, p2, o2);
      expect(again.status).toBe(404);
      expect(again.json['errcode']).toBe('M_NOT_FOUND');
    });

    it.each(['send', 'cancel', 'restart'])("%s on another user's event is 404 M_NOT_FOUND and leaves it untouched", async (action) => {
      const id = await scheduleMessage(s.baseUrl, 'bob', 1500, `bob-${action}`);
      await s.clock.advanceAsync(500);
      const [method, path, opts] = form(id, action);
      const res = await call(s.baseUrl, method, path, opts);
      expect(res.status).toBe(404);
      expect(res.json['errcode']).toBe('M_NOT_FOUND');
      expect(await listIds(s.baseUrl, 'bob')).toEqual([id]);
      expect(s.sent).toHaveLength(0);
      await s.clock.advanceAsync(999);
      expect(s.sent).toHaveLength(0);
      await s.clock.advanceAsync(1);
      expect(s.sent.map((e) => [e.delayId, e.trigger])).toEqual([[id, 'timeout']]);
    });
  });

  it('path form: an empty body and a body that is not JSON are both fine (the body is ignored)', async () => {
    const a = await scheduleMessage(s.baseUrl, 'alice', 1000, 'pa');
    expect((await call(s.baseUrl, 'POST', `${prefix}/${a}/restart`, { body: '' })).status).toBe(200);
    expect((await call(s.baseUrl, 'POST', `${prefix}/${a}/restart`, { body: 'not json' })).status).toBe(200);
    expect((await call(s.baseUrl, 'POST', `${prefix}/${a}/restart`, { body: { action: 'cancel' } })).status).toBe(200);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([a]);
  });

  it('path form: an unknown action is 404 M_UNRECOGNIZED, answered without authentication', async () => {
    const a = await scheduleMessage(s.baseUrl, 'alice', 1000, 'ua');
    const callsBefore = s.authenticate.calls;
    for (const action of ['oops', 'SEND', 'send%20', 'update', '']) {
      const res = await call(s.baseUrl, 'POST', `${prefix}/${a}/${action}`, { token: null });
      expect(res.status, action).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.json['errcode']).toBe('M_UNRECOGNIZED');
    }
    expect(s.authenticate.calls).toBe(callsBefore);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([a]);
  });

  it('path form: a percent-encoded action is decoded once', async () => {
    const a = await scheduleMessage(s.baseUrl, 'alice', 1000, 'enc');
    const res = await call(s.baseUrl, 'POST', `${prefix}/${a}/%63ancel`);
    expect(res.status).toBe(200);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it.each([
    ['no body', undefined, 'M_NOT_JSON'],
    ['an empty body', '', 'M_NOT_JSON'],
    ['invalid JSON', '{"action":', 'M_NOT_JSON'],
    ['an array', '["send"]', 'M_BAD_JSON'],
    ['a bare string', '"send"', 'M_BAD_JSON'],
    ['{}', '{}', 'M_MISSING_PARAM'],
    ['an unknown action', '{"action":"oops"}', 'M_INVALID_PARAM'],
    ['an upper-case action', '{"action":"SEND"}', 'M_INVALID_PARAM'],
    ['a numeric action', '{"action":1}', 'M_INVALID_PARAM'],
    ['a null action', '{"action":null}', 'M_INVALID_PARAM'],
    ['an array action', '{"action":["send"]}', 'M_INVALID_PARAM'],
  ])('body form with %s is 400 %s and changes nothing', async (_name, body, errcode) => {
    const a = await scheduleMessage(s.baseUrl, 'alice', 1000, 'bf');
    const res = await call(s.baseUrl, 'POST', `${prefix}/${a}`, body === undefined ? {} : { body });
    expect(res.status).toBe(400);
    expect(res.json['errcode']).toBe(errcode);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([a]);
  });

  it('body form: extra fields are ignored', async () => {
    const a = await scheduleMessage(s.baseUrl, 'alice', 1000, 'xf');
    const res = await call(s.baseUrl, 'POST', `${prefix}/${a}`, { body: { action: 'cancel', extra: { deep: true } } });
    expect(res.status).toBe(200);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it('lists only the requester\'s events, in send order, a page at a time', async () => {
    const listEmpty = await call(s.baseUrl, 'GET', prefix);
    expect(listEmpty.json).toEqual({ delayed_events: [] });
    const ids = [
      await scheduleMessage(s.baseUrl, 'alice', 900, 'l1'),
      await scheduleMessage(s.baseUrl, 'alice', 700, 'l2'),
      await scheduleMessage(s.baseUrl, 'alice', 800, 'l3'),
    ];
    await scheduleMessage(s.baseUrl, 'bob', 100, 'lb');
    const first = await call(s.baseUrl, 'GET', `${prefix}?unknown=1&limit=zzz`);
    expect(first.status).toBe(200);
    const page1 = first.json['delayed_events'] as { delay_id: string }[];
    expect(page1.map((e) => e.delay_id)).toEqual([ids[1], ids[2]]);
    expect(typeof first.json['next_batch']).toBe('string');
    const second = await call(s.baseUrl, 'GET', `${prefix}?from=${encodeURIComponent(first.json['next_batch'] as string)}`);
    expect((second.json['delayed_events'] as { delay_id: string }[]).map((e) => e.delay_id)).toEqual([ids[0]]);
    expect(second.json).not.toHaveProperty('next_batch');
    const bob = await call(s.baseUrl, 'GET', prefix, { token: 'bob' });
    expect((bob.json['delayed_events'] as unknown[]).length).toBe(1);
  });

  it('rejects a forged or garbled from token with 400 M_INVALID_PARAM', async () => {
    for (const from of ['garbage', 'MTIzNC5hYmM%3D', '%00', 'x'.repeat(600)]) {
      const res = await call(s.baseUrl, 'GET', `${prefix}?from=${from}`);
      expect(res.status, from).toBe(400);
      expect(res.json['errcode']).toBe('M_INVALID_PARAM');
    }
  });
});

describe('unknown routes and methods under delayed_events', () => {
  it.each([
    ['POST', `${STABLE}/`, 404, undefined],
    ['POST', `${UNSTABLE}/`, 404, undefined],
    ['POST', `${STABLE}//send`, 404, undefined],
    ['POST', `${STABLE}/abc/send/more`, 404, undefined],
    ['GET', `${STABLE}/abc/unknown`, 404, undefined],
    ['POST', STABLE, 405, 'GET'],
    ['PUT', STABLE, 405, 'GET'],
    ['DELETE', UNSTABLE, 405, 'GET'],
    ['GET', `${STABLE}/abc`, 405, 'POST'],
    ['PUT', `${UNSTABLE}/abc`, 405, 'POST'],
    ['DELETE', `${STABLE}/abc/cancel`, 405, 'POST'],
    ['GET', `${UNSTABLE}/abc/restart`, 405, 'POST'],
  ])('%s %s is JSON %i M_UNRECOGNIZED, without authentication', async (method, path, status, allow) => {
    const res = await call(s.baseUrl, method, path, { token: null });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json['errcode']).toBe('M_UNRECOGNIZED');
    expect(res.headers.get('allow')).toBe(allow ?? null);
    expect(s.authenticate.calls).toBe(0);
    expect(s.hostRequests).toHaveLength(0);
  });

  it('leaves look-alike paths and OPTIONS (CORS preflight) to the host', async () => {
    for (const [method, path] of [
      ['GET', '/_matrix/client/v1/delayed_eventsX'],
      ['GET', '/_matrix/client/v2/delayed_events'],
      ['GET', '/_matrix/client/unstable/org.matrix.msc4141/delayed_events'],
      ['OPTIONS', STABLE],
      ['OPTIONS', `${UNSTABLE}/abc/send`],
      ['GET', '/_matrix/client/versions'],
      ['GET', '/health'],
    ] as const) {
      const res = await call(s.baseUrl, method, path, { token: null });
      expect(res.status, `${method} ${path}`).toBe(418);
    }
  });
});

describe('path injection in delay_id', () => {
  it("never reaches another user's event", async () => {
    const victim = await scheduleMessage(s.baseUrl, 'bob', 1500, 'victim');
    const attempts: [string, number, string][] = [
      [`${STABLE}/../delayed_events/${victim}/cancel`, 404, 'M_UNRECOGNIZED'],
      [`${STABLE}/..%2F${victim}/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/%2E%2E%2F${victim}/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/${victim}%00/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/%00${victim}/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/${victim}%2Fcancel`, 400, 'M_NOT_JSON'],
      [`${STABLE}/${victim}%20/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/*/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/${'%25'.repeat(100)}/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/${'a'.repeat(5000)}/cancel`, 404, 'M_NOT_FOUND'],
      [`${STABLE}/%ZZ/cancel`, 400, 'M_INVALID_PARAM'],
      [`${STABLE}/%E0%A4%A/cancel`, 400, 'M_INVALID_PARAM'],
      [`${STABLE}/${victim}/cancel%2F..`, 404, 'M_UNRECOGNIZED'],
      [`${UNSTABLE}/${encodeURIComponent(`${victim}/../`)}`, 400, 'M_NOT_JSON'],
    ];
    for (const [path, status, errcode] of attempts) {
      const res = await rawCall(s.baseUrl, 'POST', path);
      expect(res.status, path).toBe(status);
      expect(res.json['errcode'], path).toBe(errcode);
    }
    for (const path of [`${STABLE}/${victim}%00`, `${STABLE}/${victim}%2Fcancel`, `${UNSTABLE}/.%2F${victim}`]) {
      const bodyForm = await rawCall(s.baseUrl, 'POST', path, { body: '{"action":"cancel"}' });
      expect(bodyForm.status, path).toBe(404);
      expect(bodyForm.json['errcode']).toBe('M_NOT_FOUND');
    }
    expect(await listIds(s.baseUrl, 'bob')).toEqual([victim]);
    await s.clock.advanceAsync(1500);
    expect(s.sent.map((e) => e.delayId)).toEqual([victim]);
  });

  it('decodes a percent-encoded delay_id once, so the owner can use it', async () => {
    const id = await scheduleMessage(s.baseUrl, 'alice', 1500, 'own');
    const encoded = [...id].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const res = await rawCall(s.baseUrl, 'POST', `${STABLE}/${encoded}/cancel`);
    expect(res.status).toBe(200);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });
});
