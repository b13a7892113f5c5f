/**
 * The Complement conformance cases of FIELD-NOTES.md (seed generation), over real HTTP against the
 * example homeserver on an ephemeral 127.0.0.1 port, with short real delays as the Complement suite
 * uses them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { complementRoom, DELAY, request, sleep, startServer, UNSTABLE, waitFor } from './helpers.js';
import type { RunningServer } from './helpers.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

describe.concurrent('Complement: scheduling', () => {
  it('1. the list is empty at start', async () => {
    const { user1, user2 } = await complementRoom(server.url);
    expect(await user1.listDelayed()).toEqual([]);
    expect(await user1.listDelayed(true)).toEqual([]);
    expect(await user2.listDelayed()).toEqual([]);
  });

  it('2. delayed messages: idempotent per txn, listed for their owner only, sent in order with content unchanged', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const delayIds: string[] = [];
    // Complement uses 700/800/900 ms and looks after 1 s; one more second of slack keeps the listing
    // below ahead of the first send on a loaded machine.
    for (const [i, delay] of [1700, 1800, 1900].entries()) {
      const r = await user1.send(roomId, 'com.example.test', `txn${i}`, { setter: `value${i}`, nested: { n: i } }, `?${DELAY}=${delay}`);
      expect(r.status, r.text).toBe(200);
      expect(typeof r.body['delay_id']).toBe('string');
      expect(r.body).not.toHaveProperty('event_id');
      delayIds.push(r.body['delay_id'] as string);
    }
    expect(new Set(delayIds).size).toBe(3);
    // Repeat of the first transaction without a body: same delay ID, nothing new scheduled.
    const repeat = await user1.req('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/com.example.test/txn0?${DELAY}=1700`);
    expect(repeat.status, repeat.text).toBe(200);
    expect(repeat.body['delay_id']).toBe(delayIds[0]);

    const listed = await user1.listDelayed();
    expect(listed.map((e) => e['delay_id']).sort()).toEqual([...delayIds].sort());
    for (const e of listed) {
      expect(e['room_id']).toBe(roomId);
      expect(e['type']).toBe('com.example.test');
      expect(e).not.toHaveProperty('state_key');
      expect(typeof e['running_since']).toBe('number');
    }
    const dueAt = new Map(listed.map((e) => [e['delay_id'], (e['running_since'] as number) + (e['delay'] as number)]));
    expect(await user2.listDelayed()).toEqual([]);

    await sleep(Math.max(0, Math.max(...dueAt.values()) - Date.now()) + 100);
    // Allow slack for a loaded machine; the order and timestamps below are exact.
    expect(await waitFor(async () => (await user1.listDelayed()).length === 0, 1000)).toBe(true);
    const sent = (await user1.messages(roomId)).filter((e) => e['type'] === 'com.example.test');
    expect(sent.map((e) => e['content'])).toEqual([0, 1, 2].map((i) => ({ setter: `value${i}`, nested: { n: i } })));
    expect(sent.every((e) => e['sender'] === user1.userId)).toBe(true);
    // origin_server_ts is the scheduled send time.
    expect(sent.map((e) => e['origin_server_ts'])).toEqual(delayIds.map((id) => dueAt.get(id)));
  });

  it('3. delayed state: listed with its content; GET state is 404 until it fires, then 200', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'k3', { setter: 'delayed-state' }, `?${DELAY}=900`);
    expect(r.status, r.text).toBe(200);
    const listed = await user1.listDelayed();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ delay_id: r.body['delay_id'], room_id: roomId, type: 'com.example.test', state_key: 'k3', delay: 900, content: { setter: 'delayed-state' } });
    const before = await user1.getState(roomId, 'com.example.test', 'k3');
    expect(before.status).toBe(404);
    expect(before.body['errcode']).toBe('M_NOT_FOUND');
    await sleep(1000);
    await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'k3')).status === 200, 1000);
    const after = await user1.getState(roomId, 'com.example.test', 'k3');
    expect(after.status, after.text).toBe(200);
    expect(after.body).toEqual({ setter: 'delayed-state' });
    expect(await user1.listDelayed()).toEqual([]);
  });
});

describe.concurrent('Complement: management errors', () => {
  for (const [name, prefix] of [
    ['unstable', UNSTABLE],
    ['stable', '/_matrix/client/v1'],
  ] as const) {
    it(`4. (${name} path) no id → 404; no body → M_NOT_JSON; {} → M_MISSING_PARAM; bad action → M_INVALID_PARAM; unknown id → 404`, async () => {
      const { user1 } = await complementRoom(server.url);
      const noId = await user1.req('POST', `${prefix}/delayed_events/`, { action: 'send' });
      expect(noId.status).toBe(404);
      expect(noId.isJson).toBe(true);
      const noBody = await user1.req('POST', `${prefix}/delayed_events/abc`);
      expect([noBody.status, noBody.body['errcode']]).toEqual([400, 'M_NOT_JSON']);
      const empty = await user1.req('POST', `${prefix}/delayed_events/abc`, {});
      expect([empty.status, empty.body['errcode']]).toEqual([400, 'M_MISSING_PARAM']);
      const oops = await user1.req('POST', `${prefix}/delayed_events/abc`, { action: 'oops' });
      expect([oops.status, oops.body['errcode']]).toEqual([400, 'M_INVALID_PARAM']);
      for (const action of ['send', 'cancel', 'restart']) {
        const unknown = await user1.req('POST', `${prefix}/delayed_events/abc`, { action });
        expect([unknown.status, unknown.body['errcode']], action).toEqual([404, 'M_NOT_FOUND']);
      }
    });
  }
});

describe.concurrent('Complement: cancel, send, restart', () => {
  it('5a. cancel: delay 1500, cancelled after 1 s → never sent', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'cancel', { setter: 'never' }, `?${DELAY}=1500`);
    expect(r.status, r.text).toBe(200);
    await sleep(1000);
    const cancel = await user1.manage(r.body['delay_id'] as string, 'cancel');
    expect([cancel.status, cancel.body]).toEqual([200, {}]);
    expect(await user1.listDelayed()).toEqual([]);
    await sleep(1000);
    expect((await user1.getState(roomId, 'com.example.test', 'cancel')).status).toBe(404);
    // Cancelled means gone: a second action on it is 404.
    expect((await user1.manage(r.body['delay_id'] as string, 'send')).status).toBe(404);
  });

  it('5b. send: delay 100 s, send action → state set at once', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'send', { setter: 'sent-now' }, `?${DELAY}=100000`);
    expect(r.status, r.text).toBe(200);
    expect((await user1.getState(roomId, 'com.example.test', 'send')).status).toBe(404);
    const send = await user1.manage(r.body['delay_id'] as string, 'send');
    expect([send.status, send.body]).toEqual([200, {}]);
    const state = await user1.getState(roomId, 'com.example.test', 'send');
    expect([state.status, state.body]).toEqual([200, { setter: 'sent-now' }]);
    expect(await user1.listDelayed()).toEqual([]);
  });

  it('5c. restart: delay 1500, restarted after 1 s → still pending 1 s later, sent 1.5-2 s after the restart', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'restart', { setter: 'restarted' }, `?${DELAY}=1500`);
    expect(r.status, r.text).toBe(200);
    await sleep(1000);
    const restartedAt = Date.now();
    const restart = await user1.manage(r.body['delay_id'] as string, 'restart');
    expect([restart.status, restart.body]).toEqual([200, {}]);
    const listed = await user1.listDelayed();
    expect(listed).toHaveLength(1);
    expect(listed[0]?.['running_since'] as number).toBeGreaterThanOrEqual(restartedAt - 50);
    await sleep(1000);
    expect((await user1.getState(roomId, 'com.example.test', 'restart')).status).toBe(404);
    expect(await user1.listDelayed()).toHaveLength(1);
    const arrived = await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'restart')).status === 200, 1000);
    expect(arrived).toBe(true);
    expect(Date.now() - restartedAt).toBeGreaterThanOrEqual(1500);
  });
});

describe.concurrent('Complement: newer state', () => {
  it('6a. the same user setting the same state without delay keeps the delayed one, which later overwrites it', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'mine', { setter: 'delayed' }, `?${DELAY}=1500`);
    expect(r.status, r.text).toBe(200);
    const now = await user1.putState(roomId, 'com.example.test', 'mine', { setter: 'now' });
    expect(now.status, now.text).toBe(200);
    expect((await user1.getState(roomId, 'com.example.test', 'mine')).body).toEqual({ setter: 'now' });
    expect(await user1.listDelayed()).toHaveLength(1);
    await sleep(1500);
    await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'mine')).body['setter'] === 'delayed', 1000);
    expect((await user1.getState(roomId, 'com.example.test', 'mine')).body).toEqual({ setter: 'delayed' });
    expect(await user1.listDelayed()).toEqual([]);
  });

  it("6b. another user setting the same state cancels the delayed one; the other user's content stays", async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const r = await user1.putState(roomId, 'com.example.test', 'theirs', { setter: 'delayed' }, `?${DELAY}=1500`);
    expect(r.status, r.text).toBe(200);
    const other = await user2.putState(roomId, 'com.example.test', 'theirs', { setter: 'user2' });
    expect(other.status, other.text).toBe(200);
    expect(await user1.listDelayed()).toEqual([]);
    await sleep(1700);
    expect((await user1.getState(roomId, 'com.example.test', 'theirs')).body).toEqual({ setter: 'user2' });
    expect((await user1.manage(r.body['delay_id'] as string, 'send')).status).toBe(404);
  });
});

describe('Complement 7: restarting keeps scheduled state events; overdue ones are sent after start-up (memory store)', () => {
  it('stop and start the scheduler on the same store', async () => {
    const store = createMemoryStore();
    const own = await startServer({ store });
    try {
      const { user1, roomId } = await complementRoom(own.url);
      const overdue = await user1.putState(roomId, 'com.example.test', 'overdue', { setter: 'overdue' }, `?${DELAY}=800`);
      const later = await user1.putState(roomId, 'com.example.test', 'later', { setter: 'later' }, `?${DELAY}=2500`);
      expect([overdue.status, later.status]).toEqual([200, 200]);
      const dueAt = new Map((await user1.listDelayed()).map((e) => [e['state_key'], (e['running_since'] as number) + (e['delay'] as number)]));

      await own.hs.scheduler.stop(); // "shut down"
      await sleep(Math.max(0, (dueAt.get('overdue') ?? 0) - Date.now()) + 200);
      expect((await user1.getState(roomId, 'com.example.test', 'overdue')).status).toBe(404);
      expect((await user1.listDelayed()).map((e) => e['state_key']).sort()).toEqual(['later', 'overdue']);

      await own.hs.scheduler.start(); // "start up" on the same store
      expect(await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'overdue')).status === 200, 500)).toBe(true);
      expect((await user1.getState(roomId, 'com.example.test', 'later')).status).toBe(404);
      expect((await user1.listDelayed()).map((e) => e['state_key'])).toEqual(['later']);
      expect(await waitFor(async () => (await user1.getState(roomId, 'com.example.test', 'later')).status === 200, 2500)).toBe(true);
      const events = await user1.messages(roomId);
      const ts = (key: string): unknown => events.find((e) => e['state_key'] === key)?.['origin_server_ts'];
      expect(ts('overdue')).toBe(dueAt.get('overdue'));
      expect(ts('later')).toBe(dueAt.get('later'));
    } finally {
      await own.close();
    }
  });
});

it('unknown routes under delayed_events answer JSON M_UNRECOGNIZED, never HTML', async () => {
  for (const [method, path] of [
    ['GET', `${UNSTABLE}/delayed_events/abc/def/ghi`],
    ['DELETE', `${UNSTABLE}/delayed_events/abc`],
    ['GET', '/_matrix/client/v3/no/such/route'],
    ['POST', '/not-matrix'],
  ] as const) {
    const r = await request(server.url, method, path);
    expect(r.isJson, `${method} ${path}: ${r.text}`).toBe(true);
    expect([404, 405]).toContain(r.status);
    expect(r.body['errcode']).toBe('M_UNRECOGNIZED');
  }
});
