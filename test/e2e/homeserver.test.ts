/**
 * The example homeserver as a host of the library, over real HTTP: power levels at the point of
 * sending, duplicate deliveries, delayed redactions, sync long-poll, limits and caps from its config.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MatrixError } from '../../src/core/errors.js';
import { complementRoom, DELAY, enc, register, request, sleep, startServer, UNSTABLE, User, waitFor } from './helpers.js';
import type { RunningServer } from './helpers.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

describe.concurrent('power levels are checked when a delayed event is sent', () => {
  it('refused at sending time (403 M_FORBIDDEN) → finalised as failed, nothing inserted', async () => {
    const { user2, roomId } = await complementRoom(server.url);
    // state_default is 50 and user2 has 0: scheduling is accepted, sending is not.
    const r = await user2.putState(roomId, 'com.example.locked', '', { v: 1 }, `?${DELAY}=150`);
    expect(r.status, r.text).toBe(200);
    const delayId = r.body['delay_id'] as string;
    expect(await waitFor(async () => server.hs.outcomes.has(delayId), 1500)).toBe(true);
    const outcome = server.hs.outcomes.get(delayId);
    expect(outcome?.kind).toBe('failed');
    expect(outcome?.kind === 'failed' && outcome.error).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
    expect((await user2.getState(roomId, 'com.example.locked', '')).status).toBe(404);
    expect(await user2.listDelayed()).toEqual([]);
    // Immediate sends are refused the same way.
    const now = await user2.putState(roomId, 'com.example.locked', '', { v: 2 });
    expect([now.status, now.body['errcode']]).toEqual([403, 'M_FORBIDDEN']);
  });

  it('allowed at sending time after a power-level change, though not when scheduled', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const r = await user2.putState(roomId, 'com.example.locked', 'k', { v: 'promoted' }, `?${DELAY}=2000`);
    expect(r.status, r.text).toBe(200);
    const pl = await user1.getState(roomId, 'm.room.power_levels', '');
    const users = { ...(pl.body['users'] as Record<string, number>), [user2.userId]: 50 };
    expect((await user1.putState(roomId, 'm.room.power_levels', '', { ...pl.body, users })).status).toBe(200);
    expect(await waitFor(async () => (await user2.getState(roomId, 'com.example.locked', 'k')).status === 200, 4000)).toBe(true);
    // The outcome carries the room event's ID the host's sendEvent returned.
    expect(server.hs.outcomes.get(r.body['delay_id'] as string)).toEqual({ kind: 'sent', eventId: expect.stringMatching(/^\$/) });
  });

  it('a refused send action answers 403 M_FORBIDDEN and leaves the event scheduled as it was', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const r = await user2.putState(roomId, 'com.example.locked', 'act', { v: 'act' }, `?${DELAY}=60000`);
    const delayId = r.body['delay_id'] as string;
    const before = await user2.listDelayed();
    const refused = await user2.manage(delayId, 'send');
    expect([refused.status, refused.body['errcode']]).toEqual([403, 'M_FORBIDDEN']);
    expect(await user2.listDelayed()).toEqual(before);
    expect(server.hs.outcomes.has(delayId)).toBe(false);
    const pl = (await user1.getState(roomId, 'm.room.power_levels', '')).body;
    const users = { ...(pl['users'] as Record<string, number>), [user2.userId]: 50 };
    expect((await user1.putState(roomId, 'm.room.power_levels', '', { ...pl, users })).status).toBe(200);
    expect((await user2.manage(delayId, 'send')).status).toBe(200);
    expect((await user2.getState(roomId, 'com.example.locked', 'act')).body).toEqual({ v: 'act' });
  });

  it('only joined members send: a delayed message of a user who left is refused', async () => {
    const { user2, roomId } = await complementRoom(server.url);
    const r = await user2.send(roomId, 'com.example.test', 'bye', { body: 'after leaving' }, `?${DELAY}=1500`);
    expect(r.status, r.text).toBe(200);
    expect((await user2.req('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    const delayId = r.body['delay_id'] as string;
    expect(await waitFor(async () => server.hs.outcomes.has(delayId), 3500)).toBe(true);
    expect(server.hs.outcomes.get(delayId)).toMatchObject({ kind: 'failed', error: { errcode: 'M_FORBIDDEN' } });
    expect((await user2.listDelayed())).toEqual([]);
  });

  it('the users / users_default / events / events_default levels all apply to immediate events', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const pl = (await user1.getState(roomId, 'm.room.power_levels', '')).body;
    const set = async (content: Record<string, unknown>): Promise<void> => {
      const r = await user1.putState(roomId, 'm.room.power_levels', '', content);
      expect(r.status, r.text).toBe(200);
    };
    await set({ ...pl, events_default: 10 });
    expect((await user2.send(roomId, 'm.room.message', 'a', { body: 'x' })).status).toBe(403);
    await set({ ...pl, events_default: 10, users_default: 10 });
    expect((await user2.send(roomId, 'm.room.message', 'b', { body: 'x' })).status).toBe(200);
    await set({ ...pl, events_default: 10, users_default: 10, events: { ...(pl['events'] as object), 'm.room.message': 20 } });
    expect((await user2.send(roomId, 'm.room.message', 'c', { body: 'x' })).status).toBe(403);
    await set({ ...pl, events_default: 10, users_default: 10, events: { 'm.room.message': 20 }, users: { ...(pl['users'] as object), [user2.userId]: 20 } });
    expect((await user2.send(roomId, 'm.room.message', 'd', { body: 'x' })).status).toBe(200);
    // user2 may not raise itself above its own level.
    const grab = await user2.putState(roomId, 'm.room.power_levels', '', { ...pl, users: { [user2.userId]: 100 } });
    expect(grab.status).toBe(403);
  });
});

describe.concurrent('host duties', () => {
  it('a second delivery of the same delay ID is dropped', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const event = {
      delayId: 'dup-test-id',
      userId: user1.userId,
      deviceId: user1.deviceId,
      roomId,
      type: 'com.example.test',
      stateKey: undefined,
      content: { body: 'once' },
      contentJson: '{"body":"once"}',
      sendAtMs: Date.now() - 5,
      trigger: 'timeout' as const,
    };
    const [a, b] = await Promise.all([server.hs.deliver(event), server.hs.deliver(event)]);
    const c = await server.hs.deliver(event);
    expect(a.eventId).toBe(b.eventId);
    expect(c.eventId).toBe(a.eventId);
    const sent = (await user1.messages(roomId)).filter((e) => e['type'] === 'com.example.test');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.['origin_server_ts']).toBe(event.sendAtMs);
  });

  it('delivery into an unknown room is a permanent 404, and a refusal is a MatrixError', async () => {
    const user = await register(server.url);
    await expect(
      server.hs.deliver({ delayId: 'x1', userId: user.userId, deviceId: undefined, roomId: '!nope:localhost', type: 't', stateKey: undefined, content: {}, contentJson: '{}', sendAtMs: 0, trigger: 'timeout' }),
    ).rejects.toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });
    const { roomId } = await complementRoom(server.url);
    const error = await server.hs
      .deliver({ delayId: 'x2', userId: user.userId, deviceId: undefined, roomId, type: 't', stateKey: undefined, content: {}, contentJson: '{}', sendAtMs: 0, trigger: 'timeout' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
  });

  it('delayed redaction (self-destructing message)', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const msg = await user1.send(roomId, 'm.room.message', 'secret', { msgtype: 'm.text', body: 'this will vanish' });
    const eventId = msg.body['event_id'] as string;
    const r = await user1.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/r1?${DELAY}=1000`, { reason: 'timer' });
    expect(r.status, r.text).toBe(200);
    expect(await user1.listDelayed()).toMatchObject([{ type: 'm.room.redaction', content: { redacts: eventId } }]);
    const redacted = async (): Promise<boolean> => {
      const e = await user2.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      return e.status === 200 && Object.keys(e.body['content'] as object).length === 0;
    };
    expect(await waitFor(redacted, 3000)).toBe(true);
    const redaction = (await user2.messages(roomId)).find((e) => e['type'] === 'm.room.redaction');
    expect(redaction).toMatchObject({ sender: user1.userId, redacts: eventId });
  });

  it('sync long-polls until a delayed event fires, then returns it', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const initial = await user2.req('GET', '/_matrix/client/v3/sync');
    expect(initial.status).toBe(200);
    expect(Object.keys((initial.body['rooms'] as { join: object }).join)).toContain(roomId);
    const since = initial.body['next_batch'] as string;
    expect((await user1.send(roomId, 'com.example.test', 'lp', { body: 'long-poll' }, `?${DELAY}=1000`)).status).toBe(200);
    const polled = await user2.req('GET', `/_matrix/client/v3/sync?since=${since}&timeout=10000`);
    const returnedAt = Date.now();
    expect(polled.status).toBe(200);
    const events = ((polled.body['rooms'] as { join: Record<string, { timeline: { events: Record<string, unknown>[] } }> }).join[roomId]?.timeline.events ?? []);
    const delayed = events.find((e) => (e['content'] as Record<string, unknown>)['body'] === 'long-poll');
    expect(delayed).toBeDefined();
    // It waited for the event (whose timestamp is its send time) rather than answering at once or at the timeout.
    expect(returnedAt).toBeGreaterThanOrEqual(delayed?.['origin_server_ts'] as number);
    expect(returnedAt - (delayed?.['origin_server_ts'] as number)).toBeLessThan(3000);
  });

  it('an idle sync with a timeout returns after it, empty', async () => {
    const user = await register(server.url);
    const first = await user.req('GET', '/_matrix/client/v3/sync');
    const started = Date.now();
    const idle = await user.req('GET', `/_matrix/client/v3/sync?since=${first.body['next_batch'] as string}&timeout=300`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(idle.body['rooms']).toEqual({ join: {}, invite: {}, leave: {}, knock: {} });
  });

  it('versions advertises MSC4140; GET /login lists m.login.password; whoami works', async () => {
    const user = await register(server.url);
    const versions = await user.req('GET', '/_matrix/client/versions');
    expect(versions.body['unstable_features']).toMatchObject({ 'org.matrix.msc4140': true });
    expect((await user.req('GET', '/_matrix/client/v3/login')).body).toEqual({ flows: [{ type: 'm.login.password' }] });
    expect((await user.req('GET', '/_matrix/client/v3/account/whoami')).body).toMatchObject({ user_id: user.userId, device_id: user.deviceId });
  });
});

describe.concurrent('client-server basics', () => {
  it('send is idempotent per user + device + txn', async () => {
    const { user1, roomId } = await complementRoom(server.url, 'secret-password');
    const a = await user1.send(roomId, 'm.room.message', 'same', { body: 'one' });
    const b = await user1.send(roomId, 'm.room.message', 'same', { body: 'two' });
    expect(a.body['event_id']).toBe(b.body['event_id']);
    // Another device of the same user: a new transaction.
    const login = await request(server.url, 'POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user1.userId }, password: 'secret-password' },
    });
    expect(login.status, login.text).toBe(200);
    expect(login.body['device_id']).not.toBe(user1.deviceId);
    const wrong = await request(server.url, 'POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user1.userId }, password: 'secret-passwore' },
    });
    expect([wrong.status, wrong.body['errcode']]).toEqual([403, 'M_FORBIDDEN']);
    const other = new User(server.url, user1.userId, login.body['access_token'] as string, login.body['device_id'] as string);
    const c = await other.send(roomId, 'm.room.message', 'same', { body: 'three' });
    expect(c.body['event_id']).not.toBe(a.body['event_id']);
    const bodies = (await user1.messages(roomId)).filter((e) => e['type'] === 'm.room.message').map((e) => (e['content'] as Record<string, unknown>)['body']);
    expect(bodies).toEqual(['one', 'three']);
  });

  it('messages paginates with dir, from and limit', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    for (let i = 0; i < 5; i++) expect((await user1.send(roomId, 'm.room.message', `p${i}`, { body: `m${i}` })).status).toBe(200);
    const base = `/_matrix/client/v3/rooms/${enc(roomId)}/messages`;
    const body = (e: Record<string, unknown>): unknown => (e['content'] as Record<string, unknown>)['body'];
    const page1 = await user1.req('GET', `${base}?dir=b&limit=2`);
    expect((page1.body['chunk'] as Record<string, unknown>[]).map(body)).toEqual(['m4', 'm3']);
    const page2 = await user1.req('GET', `${base}?dir=b&limit=2&from=${page1.body['end'] as string}`);
    expect((page2.body['chunk'] as Record<string, unknown>[]).map(body)).toEqual(['m2', 'm1']);
    const forward = await user1.req('GET', `${base}?dir=f&limit=3&from=${page2.body['end'] as string}`);
    expect((forward.body['chunk'] as Record<string, unknown>[]).map(body)).toEqual(['m1', 'm2', 'm3']);
    const all = await user1.req('GET', `${base}?dir=f&limit=1000`);
    expect(all.body).not.toHaveProperty('end');
    expect((all.body['chunk'] as Record<string, unknown>[])[0]?.['type']).toBe('m.room.create');
  });

  it('createRoom: name, topic, alias, initial_state, invite, power_level_content_override; invites show in sync', async () => {
    const alice = await register(server.url, 'cr');
    const bob = await register(server.url, 'cr');
    const alias = `room${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    const created = await alice.req('POST', '/_matrix/client/v3/createRoom', {
      preset: 'private_chat',
      name: 'Name',
      topic: 'Topic',
      room_alias_name: alias,
      invite: [bob.userId],
      initial_state: [{ type: 'com.example.init', state_key: 's', content: { init: true } }],
      power_level_content_override: { users_default: 5 },
    });
    expect(created.status, created.text).toBe(200);
    const roomId = created.body['room_id'] as string;
    expect((await alice.getState(roomId, 'm.room.name', '')).body).toEqual({ name: 'Name' });
    expect((await alice.getState(roomId, 'm.room.topic', '')).body).toEqual({ topic: 'Topic' });
    expect((await alice.getState(roomId, 'com.example.init', 's')).body).toEqual({ init: true });
    expect((await alice.getState(roomId, 'm.room.join_rules', '')).body).toEqual({ join_rule: 'invite' });
    expect((await alice.getState(roomId, 'm.room.power_levels', '')).body).toMatchObject({ users_default: 5, users: { [alice.userId]: 100 } });
    const sync = await bob.req('GET', '/_matrix/client/v3/sync');
    expect(Object.keys((sync.body['rooms'] as { invite: object }).invite)).toEqual([roomId]);
    // A stranger cannot join an invite-only room; the invitee can, by alias.
    const stranger = await register(server.url, 'cr');
    expect((await stranger.req('POST', `/_matrix/client/v3/join/${enc(`#${alias}:localhost`)}`, {})).status).toBe(403);
    const joined = await bob.req('POST', `/_matrix/client/v3/join/${enc(`#${alias}:localhost`)}`, {});
    expect([joined.status, joined.body['room_id']]).toEqual([200, roomId]);
    expect((await bob.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`)).body['joined']).toEqual({ [alice.userId]: {}, [bob.userId]: {} });
  });
});

describe('onStateEvent', () => {
  it('is called once for every persisted state event: room creation, immediate and delayed', async () => {
    const own = await startServer();
    try {
      const spy = vi.spyOn(own.hs.scheduler, 'onStateEvent');
      const { user1, user2, roomId } = await complementRoom(own.url);
      expect((await user2.putState(roomId, 'com.example.test', 'x', { v: 1 })).status).toBe(200);
      expect((await user1.send(roomId, 'm.room.message', 'm', { body: 'not state' })).status).toBe(200);
      expect((await user1.putState(roomId, 'com.example.test', 'y', { v: 2 }, `?${DELAY}=50`)).status).toBe(200);
      expect(await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'y')).status === 200, 2000)).toBe(true);
      const stateEvents = (await user1.messages(roomId, 100))
        .filter((e) => e['state_key'] !== undefined)
        .map((e) => ({ roomId, type: e['type'], stateKey: e['state_key'], sender: e['sender'] }));
      expect(stateEvents.length).toBeGreaterThanOrEqual(8);
      expect(stateEvents[0]).toMatchObject({ type: 'm.room.create' });
      expect(spy.mock.calls.map(([info]) => ({ ...info }))).toEqual(stateEvents);
    } finally {
      await own.close();
    }
  });
});

describe('limits from the configuration', () => {
  it('rate limits: 429 M_LIMIT_EXCEEDED with Retry-After and retry_after_ms', async () => {
    const limited = await startServer({ rateLimits: { manage: { points: 2, durationMs: 60_000 } } });
    try {
      const { user1 } = await complementRoom(limited.url);
      // Unrecognised routes cost nothing.
      for (let i = 0; i < 4; i++) expect((await user1.req('POST', `${UNSTABLE}/delayed_events/abc/oops`)).body['errcode']).toBe('M_UNRECOGNIZED');
      expect((await user1.manage('abc', 'restart')).status).toBe(404);
      expect((await user1.manage('abc', 'restart')).status).toBe(404);
      const third = await user1.manage('abc', 'restart');
      expect([third.status, third.body['errcode']]).toEqual([429, 'M_LIMIT_EXCEEDED']);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(third.body['retry_after_ms']).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });

  it('per-user cap: M_MAX_DELAYED_EVENTS_EXCEEDED once a user has the maximum outstanding', async () => {
    const capped = await startServer({ maxPerUser: 2 });
    try {
      const { user1, user2, roomId } = await complementRoom(capped.url);
      for (const txn of ['a', 'b']) expect((await user1.send(roomId, 'com.example.test', txn, {}, `?${DELAY}=60000`)).status).toBe(200);
      const third = await user1.send(roomId, 'com.example.test', 'c', {}, `?${DELAY}=60000`);
      expect([third.status, third.body['errcode'], third.body['org.matrix.msc4140.errcode']]).toEqual([400, 'M_UNKNOWN', 'M_MAX_DELAYED_EVENTS_EXCEEDED']);
      const stable = await user1.send(roomId, 'com.example.test', 'd', {}, '?delay=60000');
      expect([stable.status, stable.body['errcode']]).toEqual([400, 'M_MAX_DELAYED_EVENTS_EXCEEDED']);
      // Another user is not affected.
      expect((await user2.send(roomId, 'com.example.test', 'e', {}, `?${DELAY}=60000`)).status).toBe(200);
    } finally {
      await capped.close();
    }
  });

  it("cancelOnNewerState 'any-sender': the user's own newer state cancels their delayed state", async () => {
    const strict = await startServer({ cancelOnNewerState: 'any-sender' });
    try {
      const { user1, roomId } = await complementRoom(strict.url);
      const r = await user1.putState(roomId, 'com.example.test', 'own', { v: 'delayed' }, `?${DELAY}=1000`);
      expect(r.status).toBe(200);
      expect((await user1.putState(roomId, 'com.example.test', 'own', { v: 'now' })).status).toBe(200);
      expect(await user1.listDelayed()).toEqual([]);
      await sleep(1200);
      expect((await user1.getState(roomId, 'com.example.test', 'own')).body).toEqual({ v: 'now' });
    } finally {
      await strict.close();
    }
  });

  it('the stable management path and the subpath form are served too', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'forms', { v: 1 }, `?delay=60000`);
    const id = r.body['delay_id'] as string;
    expect((await user1.req('POST', `/_matrix/client/v1/delayed_events/${id}`, { action: 'restart' })).status).toBe(200);
    expect((await user1.req('POST', `${UNSTABLE}/delayed_events/${id}/restart`)).status).toBe(200);
    expect((await user1.req('POST', `${UNSTABLE}/delayed_events/${id}/send`)).status).toBe(200);
    expect((await user1.getState(roomId, 'com.example.test', 'forms')).body).toEqual({ v: 1 });
  });
});
