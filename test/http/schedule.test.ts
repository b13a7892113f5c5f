import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, ROOM } from '../helpers/fixtures.js';
import { ROOMS, ROOM_ENC, STABLE, call, listIds, rawCall, startNodeServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let s: TestServer;
afterEach(async () => {
  await s.close();
});

describe('scheduling over node:http', () => {
  beforeEach(async () => {
    s = await startNodeServer();
  });

  it('schedules a delayed message, lists it, and sends it exactly when due', async () => {
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/txn1?delay=1500`, {
      body: { msgtype: 'm.text', body: 'I am now offline' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(res.json)).toEqual(['delay_id']);
    const delayId = res.json['delay_id'] as string;
    expect(delayId).toMatch(/^[A-Za-z0-9_-]{16,}$/);

    const list = await call(s.baseUrl, 'GET', STABLE);
    expect(list.status).toBe(200);
    expect(list.json).toEqual({
      delayed_events: [
        {
          delay_id: delayId,
          room_id: ROOM,
          type: 'm.room.message',
          delay: 1500,
          running_since: s.clock.now(),
          content: { msgtype: 'm.text', body: 'I am now offline' },
        },
      ],
    });
    expect(list.json['delayed_events']).not.toHaveProperty('0.state_key');

    await s.clock.advanceAsync(1499);
    expect(s.sent).toHaveLength(0);
    await s.clock.advanceAsync(1);
    expect(s.sent).toHaveLength(1);
    expect(s.sent[0]).toMatchObject({
      delayId,
      userId: ALICE.userId,
      deviceId: ALICE.deviceId,
      roomId: ROOM,
      type: 'm.room.message',
      stateKey: undefined,
      content: { msgtype: 'm.text', body: 'I am now offline' },
      trigger: 'timeout',
    });
    expect(s.hostRequests).toHaveLength(0);
  });

  it('accepts the unstable parameter, and other query parameters riding along', async () => {
    const res = await call(
      s.baseUrl,
      'PUT',
      `${ROOMS}/send/m.room.message/t2?org.matrix.msc4140.delay=100&org.matrix.msc9999.flag=true&user_id=%40x%3Ay`,
      { body: { body: 'x' } },
    );
    expect(res.status).toBe(200);
    await s.clock.advanceAsync(100);
    expect(s.sent.map((e) => e.content)).toEqual([{ body: 'x' }]);
  });

  it('accepts delay=0 and leading zeros', async () => {
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/z0?delay=0`, { body: {} })).status).toBe(200);
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/z1?delay=0042`, { body: {} })).status).toBe(200);
    const list = await call(s.baseUrl, 'GET', STABLE);
    const delays = (list.json['delayed_events'] as { delay: number }[]).map((e) => e.delay);
    // delay 0 may already be out for sending; 0042 must read as 42.
    expect(delays).toContain(42);
    await s.clock.advanceAsync(42);
    expect(s.sent).toHaveLength(2);
  });

  it('schedules state events with a state key, an empty one, and an empty one with trailing slash', async () => {
    const paths = [
      `${ROOMS}/state/m.call.member/%40alice%3Aexample.org_ALICEPHONE?delay=5000`,
      `${ROOMS}/state/org.example.empty?delay=5001`,
      `${ROOMS}/state/org.example.slash/?delay=5002`,
    ];
    for (const path of paths) {
      const res = await call(s.baseUrl, 'PUT', path, { body: { memberships: [] } });
      expect(res.status, path).toBe(200);
    }
    const list = await call(s.baseUrl, 'GET', STABLE);
    const events = list.json['delayed_events'] as Record<string, unknown>[];
    expect(events.map((e) => [e['type'], e['state_key']])).toEqual([
      ['m.call.member', '@alice:example.org_ALICEPHONE'],
      ['org.example.empty', ''],
      ['org.example.slash', ''],
    ]);
    await s.clock.advanceAsync(5002);
    expect(s.sent.map((e) => e.stateKey)).toEqual(['@alice:example.org_ALICEPHONE', '', '']);
  });

  it('schedules a delayed redaction as m.room.redaction with redacts set from the path', async () => {
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/redact/%24event1%3Aexample.org/r1?delay=60000`, {
      body: { reason: 'self-destruct', redacts: '$somethingElse' },
    });
    expect(res.status).toBe(200);
    await s.clock.advanceAsync(60_000);
    expect(s.sent).toHaveLength(1);
    expect(s.sent[0]).toMatchObject({
      type: 'm.room.redaction',
      stateKey: undefined,
      content: { reason: 'self-destruct', redacts: '$event1:example.org' },
    });
  });

  it('decodes path segments exactly once', async () => {
    await call(s.baseUrl, 'PUT', `${ROOMS}/state/org.example.a%2Fb/key%252F%F0%9F%98%80?delay=10`, { body: { x: 1 } });
    await s.clock.advanceAsync(10);
    expect(s.sent[0]).toMatchObject({ roomId: ROOM, type: 'org.example.a/b', stateKey: 'key%2F😀' });
  });

  it('accepts the r0 prefix too, so no delayed request reaches the host as an immediate send', async () => {
    const res = await call(s.baseUrl, 'PUT', `/_matrix/client/r0/rooms/${ROOM_ENC}/send/m.room.message/r0?delay=5`, {
      body: { body: 'r0' },
    });
    expect(res.status).toBe(200);
    expect(s.hostRequests).toHaveLength(0);
  });

  it('keeps unicode content byte-exact', async () => {
    const content = { body: 'héllo 😀 \u0000 \u2028 𝄞', nested: { arr: [1, 'two', null, true], big: 9007199254740991 } };
    await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/uni?delay=1`, { body: content });
    const list = await call(s.baseUrl, 'GET', STABLE);
    expect((list.json['delayed_events'] as { content: unknown }[])[0]?.content).toEqual(content);
    await s.clock.advanceAsync(1);
    expect(s.sent[0]?.content).toEqual(content);
  });

  it('passes requests without a delay parameter to the host untouched, body included', async () => {
    const body = JSON.stringify({ msgtype: 'm.text', body: 'now' });
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/now1?org.matrix.other=1`, { body });
    expect(res.status).toBe(418);
    expect(res.json).toEqual({ host: true, method: 'PUT', url: `${ROOMS}/send/m.room.message/now1?org.matrix.other=1`, body });
    expect(s.authenticate.calls).toBe(0);
  });

  it('passes other methods and other room endpoints to the host even with a delay parameter', async () => {
    const cases: [string, string][] = [
      ['GET', `${ROOMS}/state/m.room.name/?delay=10`],
      ['POST', `${ROOMS}/send/m.room.message/x?delay=10`],
      ['PUT', `${ROOMS}/typing/%40alice%3Aexample.org?delay=10`],
      ['PUT', `/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname?delay=10`],
      ['PUT', `/_matrix/client/v3/roomsX/${ROOM_ENC}/send/m.room.message/x?delay=10`],
    ];
    for (const [method, path] of cases) {
      const res = await call(s.baseUrl, method, path, method === 'GET' ? {} : { body: { a: 1 } });
      expect(res.status, `${method} ${path}`).toBe(418);
    }
    expect(s.hostRequests).toHaveLength(cases.length);
  });

  it('answers a delayed request to a malformed send/state/redact path with 404 M_UNRECOGNIZED, never passing it on', async () => {
    for (const path of [
      `${ROOMS}/send/m.room.message?delay=10`,
      `${ROOMS}/send/m.room.message/txn/extra?delay=10`,
      `${ROOMS}/state/a/b/c?delay=10`,
      `${ROOMS}/redact/%24ev?delay=10`,
    ]) {
      const res = await call(s.baseUrl, 'PUT', path, { body: {} });
      expect(res.status, path).toBe(404);
      expect(res.json['errcode']).toBe('M_UNRECOGNIZED');
    }
    expect(s.hostRequests).toHaveLength(0);
  });
});

describe('transaction IDs', () => {
  beforeEach(async () => {
    s = await startNodeServer();
  });

  it('returns the same delay_id for a retried PUT, with or without its body', async () => {
    const path = `${ROOMS}/send/m.room.message/same?delay=900`;
    const first = await call(s.baseUrl, 'PUT', path, { body: { body: 'a' } });
    const again = await call(s.baseUrl, 'PUT', path, { body: { body: 'a' } });
    const noBody = await call(s.baseUrl, 'PUT', path);
    const brokenBody = await call(s.baseUrl, 'PUT', path, { body: '{"trunc' });
    expect(first.status).toBe(200);
    for (const res of [again, noBody, brokenBody]) {
      expect(res.status).toBe(200);
      expect(res.json).toEqual(first.json);
    }
    expect(await listIds(s.baseUrl, 'alice')).toEqual([first.json['delay_id']]);
  });

  it('scopes transaction IDs per device and per endpoint', async () => {
    const a = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/t?delay=900`, { body: {} });
    const otherDevice = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/t?delay=900`, { token: 'alice2', body: {} });
    const redact = await call(s.baseUrl, 'PUT', `${ROOMS}/redact/%24e/t?delay=900`, { body: {} });
    const ids = new Set([a.json['delay_id'], otherDevice.json['delay_id'], redact.json['delay_id']]);
    expect(ids.size).toBe(3);
  });

  it('answers a body-less PUT with an unknown transaction ID with 400 M_NOT_JSON and schedules nothing', async () => {
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/unknown?delay=900`);
    expect(res.status).toBe(400);
    expect(res.json['errcode']).toBe('M_NOT_JSON');
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it('does not answer another user with the transaction of the first', async () => {
    const path = `${ROOMS}/send/m.room.message/shared?delay=900`;
    await call(s.baseUrl, 'PUT', path, { body: {} });
    const bob = await call(s.baseUrl, 'PUT', path, { token: 'bob' });
    expect(bob.status).toBe(400);
    expect(bob.json['errcode']).toBe('M_NOT_JSON');
  });
});

describe('scheduling input validation', () => {
  beforeEach(async () => {
    s = await startNodeServer({ scheduler: { maxDelayMs: 60_000 } });
  });

  it.each([
    ['empty', ''],
    ['negative', '-1'],
    ['fraction', '1.5'],
    ['exponent', '1e3'],
    ['hex', '0x10'],
    ['plus sign', '%2B5'],
    ['leading space', '%201'],
    ['word', 'soon'],
    ['MAX_SAFE_INTEGER + 1', '9007199254740992'],
    ['400 digits', '9'.repeat(400)],
    ['unicode digits', '%D9%A1%D9%A2'],
  ])('rejects a %s delay with 400 M_INVALID_PARAM', async (_name, value) => {
    for (const param of ['delay', 'org.matrix.msc4140.delay']) {
      const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/bad?${param}=${value}`, { body: { a: 1 } });
      expect(res.status).toBe(400);
      expect(res.json['errcode']).toBe('M_INVALID_PARAM');
    }
    expect(s.hostRequests).toHaveLength(0);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it('rejects ambiguous delays: a parameter twice, or both parameters disagreeing', async () => {
    for (const query of ['delay=1&delay=2', 'delay=5&org.matrix.msc4140.delay=6', 'org.matrix.msc4140.delay=1&org.matrix.msc4140.delay=1']) {
      const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/amb?${query}`, { body: {} });
      expect(res.status, query).toBe(400);
      expect(res.json['errcode']).toBe('M_INVALID_PARAM');
    }
    const agree = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/agree?delay=7&org.matrix.msc4140.delay=7`, { body: {} });
    expect(agree.status).toBe(200);
  });

  it('rejects a delay over the maximum: stable form with max_delay, unstable form on the unstable parameter', async () => {
    const stable = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/m1?delay=60001`, { body: {} });
    expect(stable.status).toBe(400);
    expect(stable.json).toEqual({
      errcode: 'M_MAX_DELAY_EXCEEDED',
      error: 'The requested delay exceeds the allowed maximum.',
      max_delay: 60_000,
    });
    const unstable = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/m2?org.matrix.msc4140.delay=60001`, { body: {} });
    expect(unstable.status).toBe(400);
    expect(unstable.json).toEqual({
      errcode: 'M_UNKNOWN',
      error: 'The requested delay exceeds the allowed maximum.',
      'org.matrix.msc4140.errcode': 'M_MAX_DELAY_EXCEEDED',
      'org.matrix.msc4140.max_delay': 60_000,
    });
    const atMax = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/m3?delay=60000`, { body: {} });
    expect(atMax.status).toBe(200);
  });

  it.each([
    ['invalid JSON', '{"a":', 'M_NOT_JSON'],
    ['plain text', 'hello', 'M_NOT_JSON'],
    ['an array', '[1,2]', 'M_BAD_JSON'],
    ['a string', '"str"', 'M_BAD_JSON'],
    ['a number', '12', 'M_BAD_JSON'],
    ['null', 'null', 'M_BAD_JSON'],
    ['whitespace only', '   ', 'M_NOT_JSON'],
  ])('rejects a state body that is %s with 400 %s', async (_name, body, errcode) => {
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/state/org.example.t/k?delay=10`, { body });
    expect(res.status).toBe(400);
    expect(res.json['errcode']).toBe(errcode);
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it('keeps finite huge numbers exactly, and refuses numbers JSON cannot carry rather than storing null', async () => {
    const content = { big: 1e308, neg: -1.7976931348623157e308, int: 9007199254740991, tiny: 5e-324 };
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/state/org.example.n/k?delay=10`, { body: content })).status).toBe(200);
    await s.clock.advanceAsync(10);
    expect(s.sent[0]?.content).toEqual(content);
    for (const body of ['{"n":1e400}', '{"deep":[[{"x":-1e999}]]}']) {
      const res = await call(s.baseUrl, 'PUT', `${ROOMS}/state/org.example.n/k2?delay=10`, { body });
      expect(res.status, body).toBe(400);
      expect(res.json['errcode']).toBe('M_BAD_JSON');
    }
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });

  it('answers deeply nested content with a 4xx, not a crash, and keeps serving', async () => {
    const depth = 30_000;
    const body = `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/deep?delay=10`, { body });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json['errcode']).toBe('M_BAD_JSON');
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/after?delay=10`, { body: {} })).status).toBe(200);
  });

  it('treats a "__proto__" key as plain data (no prototype pollution)', async () => {
    const body = '{"__proto__":{"polluted":true},"reason":"x"}';
    expect((await call(s.baseUrl, 'PUT', `${ROOMS}/redact/%24e/proto?delay=10`, { body })).status).toBe(200);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    await s.clock.advanceAsync(10);
    const content = s.sent[0]?.content as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(content, '__proto__')).toBe(true);
    expect(content['polluted']).toBeUndefined();
    expect(content['redacts']).toBe('$e');
  });

  it('rejects a body that is not UTF-8 with 400 M_NOT_JSON', async () => {
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/state/org.example.t/k?delay=10`, {
      body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    });
    expect(res.status).toBe(400);
    expect(res.json['errcode']).toBe('M_NOT_JSON');
  });

  it('rejects a state PUT without a body with 400 M_NOT_JSON', async () => {
    const res = await call(s.baseUrl, 'PUT', `${ROOMS}/state/org.example.t/k?delay=10`);
    expect(res.status).toBe(400);
    expect(res.json['errcode']).toBe('M_NOT_JSON');
  });

  it('rejects malformed percent-encoding in a path segment with 400 M_INVALID_PARAM', async () => {
    for (const path of [
      `/_matrix/client/v3/rooms/%E0%A4%A/send/m.room.message/t?delay=10`,
      `${ROOMS}/state/%ZZ/k?delay=10`,
      `${ROOMS}/state/t/%?delay=10`,
      `${ROOMS}/send/m.room.message/%C3%28?delay=10`,
    ]) {
      const res = await rawCall(s.baseUrl, 'PUT', path, { body: '{}' });
      expect(res.status, path).toBe(400);
      expect(res.json['errcode']).toBe('M_INVALID_PARAM');
    }
  });

  it('rejects empty and over-long identifiers with 400 M_INVALID_PARAM', async () => {
    for (const path of [
      `/_matrix/client/v3/rooms//send/m.room.message/t?delay=10`,
      `${ROOMS}/send//t?delay=10`,
      `${ROOMS}/send/m.room.message/?delay=10`,
      `${ROOMS}/state/${'x'.repeat(256)}/k?delay=10`,
      `${ROOMS}/state/t/${'k'.repeat(256)}?delay=10`,
    ]) {
      const res = await rawCall(s.baseUrl, 'PUT', path, { body: '{}' });
      expect(res.status, path).toBe(400);
      expect(res.json['errcode']).toBe('M_INVALID_PARAM');
    }
    expect(await listIds(s.baseUrl, 'alice')).toEqual([]);
  });
});

describe('per-user cap', () => {
  it('answers M_MAX_DELAYED_EVENTS_EXCEEDED (both styles) at the cap, and 403 M_FORBIDDEN when the cap is 0', async () => {
    s = await startNodeServer({
      scheduler: { maxOutstandingPerUser: (userId) => (userId === BOB.userId ? 0 : 2) },
    });
    await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/c1?delay=100`, { body: {} });
    await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/c2?delay=100`, { body: {} });
    const stable = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/c3?delay=100`, { body: {} });
    expect(stable.status).toBe(400);
    expect(stable.json).toEqual({
      errcode: 'M_MAX_DELAYED_EVENTS_EXCEEDED',
      error: 'The maximum number of delayed events has been reached.',
    });
    const unstable = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/c4?org.matrix.msc4140.delay=100`, { body: {} });
    expect(unstable.status).toBe(400);
    expect(unstable.json).toEqual({
      errcode: 'M_UNKNOWN',
      error: 'The maximum number of delayed events has been reached.',
      'org.matrix.msc4140.errcode': 'M_MAX_DELAYED_EVENTS_EXCEEDED',
    });
    const bob = await call(s.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/c5?delay=100`, { token: 'bob', body: {} });
    expect(bob.status).toBe(403);
    expect(bob.json['errcode']).toBe('M_FORBIDDEN');
    expect((await listIds(s.baseUrl, 'alice')).length).toBe(2);
  });
});
