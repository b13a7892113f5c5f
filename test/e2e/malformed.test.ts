/**
 * Malformed input over real HTTP against the example homeserver: bad JSON, wrong types, huge numbers,
 * unicode, oversized bodies, path injection in `delay_id`. Every answer is a 4xx Matrix JSON error
 * (never a 500, never HTML), and another user's pending delayed events stay untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { complementRoom, DELAY, enc, request, startServer, UNSTABLE, waitFor } from './helpers.js';
import type { Reply, RunningServer, User } from './helpers.js';

let server: RunningServer;
let user1: User;
let user2: User;
let roomId: string;
/** user2's pending events, which nothing below may disturb. */
let victims: Record<string, unknown>[];
const V1 = '/_matrix/client/v1';

/** The one status and errcode the parser (or the host, on its own routes) gives for this input. */
function expectMatrixError(r: Reply, status: number, errcode: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.isJson, r.text).toBe(true);
  expect(r.body['errcode'], r.text).toBe(errcode);
  expect(typeof r.body['error']).toBe('string');
}

beforeAll(async () => {
  server = await startServer({ maxDelayMs: 3_600_000 });
  ({ user1, user2, roomId } = await complementRoom(server.url));
  const a = await user2.putState(roomId, 'com.example.test', 'victim', { owner: 'user2' }, `?${DELAY}=60000`);
  const b = await user2.send(roomId, 'com.example.test', 'victim-txn', { body: 'victim message' }, `?${DELAY}=60000`);
  expect([a.status, b.status]).toEqual([200, 200]);
  victims = await user2.listDelayed();
  expect(victims).toHaveLength(2);
});

afterAll(async () => {
  await server.close();
});

const sendPath = (type = 'com.example.test', txn = `t${Math.random()}`): string =>
  `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txn)}`;

describe('bad JSON and wrong types', () => {
  it('bad JSON bodies → 400 M_NOT_JSON, on delayed and immediate sends alike', async () => {
    // Not JSON at all (readJsonBody: invalid) → requireContent's M_NOT_JSON; the host agrees.
    for (const body of ['{bad', '{"a":', 'nul', '\u0000', '{"a":1}}']) {
      expectMatrixError(await user1.req('PUT', `${sendPath()}?${DELAY}=1000`, body), 400, 'M_NOT_JSON');
      expectMatrixError(await user1.req('PUT', sendPath(), body), 400, 'M_NOT_JSON');
    }
    expectMatrixError(await user1.req('POST', `${UNSTABLE}/delayed_events/abc`, '{"action":'), 400, 'M_NOT_JSON');
    expectMatrixError(await user1.req('POST', '/_matrix/client/v3/createRoom', '{oops'), 400, 'M_NOT_JSON');
  });

  it('JSON that is not an object → 400 M_BAD_JSON', async () => {
    // Valid JSON, but not an object: requireContent's M_BAD_JSON, before the management body is even
    // looked at for `action` (so never M_MISSING_PARAM); the host agrees on its immediate sends.
    for (const body of ['[]', '"text"', '42', 'null', 'true']) {
      expectMatrixError(await user1.req('PUT', `${sendPath()}?${DELAY}=1000`, body), 400, 'M_BAD_JSON');
      expectMatrixError(await user1.req('PUT', sendPath(), body), 400, 'M_BAD_JSON');
      expectMatrixError(await user1.req('POST', `${UNSTABLE}/delayed_events/abc`, body), 400, 'M_BAD_JSON');
    }
  });

  it('wrong types in the management body and host endpoints → 400', async () => {
    // `action` is present but not one of the three strings (null included: present, so not missing)
    // → requireAction's M_INVALID_PARAM.
    for (const action of [5, null, ['send'], { send: true }, '', 'SEND', 'send ']) {
      expectMatrixError(await user1.req('POST', `${UNSTABLE}/delayed_events/abc`, { action }), 400, 'M_INVALID_PARAM');
    }
    expectMatrixError(await user1.req('POST', '/_matrix/client/v3/createRoom', { name: 5 }), 400, 'M_BAD_JSON');
    expectMatrixError(await user1.req('POST', '/_matrix/client/v3/createRoom', { invite: 'x' }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('POST', '/_matrix/client/v3/createRoom', { preset: 'nope' }), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('POST', '/_matrix/client/v3/createRoom', { initial_state: [{ type: 1 }] }), 400, 'M_BAD_JSON');
    expectMatrixError(await user1.req('POST', '/_matrix/client/v3/createRoom', { power_level_content_override: [] }), 400, 'M_BAD_JSON');
    expectMatrixError(await request(server.url, 'POST', '/_matrix/client/v3/register', { body: { username: 5 } }), 400, 'M_BAD_JSON');
    expectMatrixError(await request(server.url, 'POST', '/_matrix/client/v3/register', { body: { username: 'UPPER CASE!' } }), 400, 'M_INVALID_USERNAME');
    expectMatrixError(await request(server.url, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: 'x', password: 5 } }), 400, 'M_BAD_JSON');
    expectMatrixError(await request(server.url, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', user: user1.userId, password: 'wrong' } }), 403, 'M_FORBIDDEN');
    expectMatrixError(await user1.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?limit=abc`), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=sideways`), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?from=../../etc`), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('GET', '/_matrix/client/v3/sync?since=garbage'), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('GET', '/_matrix/client/v3/sync?timeout=-5'), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('GET', `${UNSTABLE}/delayed_events?from=%00garbage`), 400, 'M_INVALID_PARAM');
  });

  it('missing or unknown access tokens → 401 on library and host routes', async () => {
    for (const path of [`${UNSTABLE}/delayed_events`, '/_matrix/client/v3/sync', '/_matrix/client/v3/account/whoami']) {
      expectMatrixError(await request(server.url, 'GET', path), 401, 'M_MISSING_TOKEN');
      expectMatrixError(await request(server.url, 'GET', path, { token: 'nope' }), 401, 'M_UNKNOWN_TOKEN');
    }
    expectMatrixError(await request(server.url, 'PUT', `${sendPath()}?${DELAY}=10`, { body: {} }), 401, 'M_MISSING_TOKEN');
    expectMatrixError(await request(server.url, 'POST', `${UNSTABLE}/delayed_events/${victims[0]!['delay_id'] as string}`, { token: 'nope', body: { action: 'send' } }), 401, 'M_UNKNOWN_TOKEN');
  });
});

describe('numbers', () => {
  it('invalid or huge delays → 400, never scheduled and never sent at once', async () => {
    const before = (await user1.messages(roomId, 200)).length;
    for (const delay of ['abc', '-1', '1.5', '1e3', '', ' 5', '0x10', '99999999999999999999999', '9007199254740993', 'Infinity', 'NaN']) {
      expectMatrixError(await user1.req('PUT', `${sendPath()}?${DELAY}=${enc(delay)}`, { body: 'never' }), 400, 'M_INVALID_PARAM');
      expectMatrixError(await user1.req('PUT', `${sendPath()}?delay=${enc(delay)}`, { body: 'never' }), 400, 'M_INVALID_PARAM');
    }
    // Above the server's maximum: the max-delay error, with the maximum as a number.
    const tooLong = await user1.req('PUT', `${sendPath()}?${DELAY}=3600001`, { body: 'never' });
    expectMatrixError(tooLong, 400, 'M_UNKNOWN');
    expect(tooLong.body['org.matrix.msc4140.errcode']).toBe('M_MAX_DELAY_EXCEEDED');
    expect(tooLong.body['org.matrix.msc4140.max_delay']).toBe(3_600_000);
    const stable = await user1.req('PUT', `${sendPath()}?delay=3600001`, { body: 'never' });
    expectMatrixError(stable, 400, 'M_MAX_DELAY_EXCEEDED');
    expect(stable.body['max_delay']).toBe(3_600_000);
    expect(await user1.listDelayed()).toEqual([]);
    expect((await user1.messages(roomId, 200)).length).toBe(before);
  });

  it('huge numbers in content are kept as JSON numbers', async () => {
    const content = { big: 1e308, neg: -1.7976931348623157e308, int: 9007199254740991, tiny: 5e-324 };
    const r = await user1.putState(roomId, 'com.example.test', 'numbers', content, `?${DELAY}=0`);
    expect(r.status, r.text).toBe(200);
    expect(await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'numbers')).status === 200, 1000)).toBe(true);
    expect((await user1.getState(roomId, 'com.example.test', 'numbers')).body).toEqual(content);
  });
});

describe('unicode', () => {
  it('unicode in content, event type and state key survives scheduling, listing and sending', async () => {
    const stateKey = 'ключ🔑\u202eRTL\u00e9';
    const type = 'com.example.тест';
    const content = { body: '👋 héllo 世界 \u202e مرحبا', lone: '\ud800', zwj: '👩‍👩‍👧' };
    const r = await user1.putState(roomId, type, stateKey, content, `?${DELAY}=1000`);
    expect(r.status, r.text).toBe(200);
    const listed = (await user1.listDelayed()).find((e) => e['delay_id'] === r.body['delay_id']);
    expect(listed).toMatchObject({ type, state_key: stateKey, content });
    expect(await waitFor(async () => (await user1.getState(roomId, type, stateKey)).status === 200, 3000)).toBe(true);
    expect((await user1.getState(roomId, type, stateKey)).body).toEqual(content);
  });

  it('malformed percent-encoding → 400 JSON, on library and host routes', async () => {
    expectMatrixError(await user1.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/a%E0%A4%A/t1?${DELAY}=10`, {}), 400, 'M_INVALID_PARAM');
    expectMatrixError(await user1.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/a%E0%A4%A/t1`, {}), 400, 'M_INVALID_PARAM');
    // decodeSegment refuses the malformed escape in the delay ID before any store lookup.
    expectMatrixError(await user1.req('POST', `${UNSTABLE}/delayed_events/%E0%A4%A`, { action: 'send' }), 400, 'M_INVALID_PARAM');
  });
});

describe('oversized bodies', () => {
  it('a body over 64 KiB → 413 M_TOO_LARGE on delayed and immediate sends; the server keeps working', async () => {
    const big = { body: 'x'.repeat(70 * 1024) };
    expectMatrixError(await user1.req('PUT', `${sendPath()}?${DELAY}=1000`, big), 413, 'M_TOO_LARGE');
    expectMatrixError(await user1.req('PUT', sendPath(), big), 413, 'M_TOO_LARGE');
    expectMatrixError(await user1.req('POST', `${UNSTABLE}/delayed_events/abc`, { action: 'send', pad: 'y'.repeat(70 * 1024) }), 413, 'M_TOO_LARGE');
    const huge = 'z'.repeat(4 * 1024 * 1024);
    const r = await user1.req('PUT', sendPath(), `{"body":"${huge}"}`).catch(() => undefined);
    if (r) expectMatrixError(r, 413, 'M_TOO_LARGE'); // the server may also cut the connection
    expect(await user1.listDelayed()).toEqual([]);
    expect((await user1.send(roomId, 'com.example.test', 'after-big', { ok: true })).status).toBe(200);
  });
});

describe('path injection in delay_id', () => {
  it('odd delay IDs → 404 M_NOT_FOUND, as any unknown ID; other users’ events untouched', async () => {
    const victimId = victims[0]!['delay_id'] as string;
    const ids = [
      '..',
      '../../v3/rooms',
      `..%2F..%2F${victimId}`,
      `${victimId}%2F..`,
      `${victimId}%00`,
      '%00',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      `${enc(victimId)}%20`,
      '*',
      `' OR '1'='1`,
      '<script>alert(1)</script>',
      '%F0%9F%94%91',
      'a'.repeat(10_000),
      `${victimId.toLowerCase()}`,
      victimId, // another user's real ID
    ];
    for (const raw of ids) {
      const encoded = raw.includes('%') ? raw : enc(raw);
      // Every ID here decodes (or is too long to be one), so the scheduler looks it up for user1 and
      // finds nothing: 404 M_NOT_FOUND, on both prefixes, never 403 (another user's ID is not
      // confirmed). The exception is `..`, which fetch resolves as a dot segment: the request goes to
      // `…/msc4140/` (or `…/msc4140/cancel`), not under delayed_events, and the host answers its
      // unknown-route 404 M_UNRECOGNIZED.
      const errcode = raw === '..' ? 'M_UNRECOGNIZED' : 'M_NOT_FOUND';
      for (const prefix of [UNSTABLE, V1]) {
        for (const action of ['send', 'cancel', 'restart']) {
          const r = await user1.req('POST', `${prefix}/delayed_events/${encoded}`, { action });
          expectMatrixError(r, 404, errcode);
        }
        const sub = await user1.req('POST', `${prefix}/delayed_events/${encoded}/cancel`);
        expectMatrixError(sub, 404, errcode);
      }
    }
    // user2's pending events are exactly as before.
    expect(await user2.listDelayed()).toEqual(victims);
  });

  it("user2's events can still be sent by user2, exactly once, after all of the above", async () => {
    expect((await user2.getState(roomId, 'com.example.test', 'victim')).status).toBe(404);
    for (const victim of victims) {
      const r = await user2.manage(victim['delay_id'] as string, 'send');
      expect([r.status, r.body]).toEqual([200, {}]);
    }
    expect((await user2.getState(roomId, 'com.example.test', 'victim')).body).toEqual({ owner: 'user2' });
    const messages = await user2.messages(roomId, 500);
    expect(messages.filter((e) => (e['content'] as Record<string, unknown>)['body'] === 'victim message')).toHaveLength(1);
    expect(await user2.listDelayed()).toEqual([]);
  });
});
