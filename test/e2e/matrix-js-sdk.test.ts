/**
 * End to end with a real Matrix client, matrix-js-sdk 36 (its delayed-event methods use the unstable
 * body form `POST /unstable/org.matrix.msc4140/delayed_events/{id}` with `{"action": …}`), against the
 * example homeserver on an ephemeral 127.0.0.1 port.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from 'matrix-js-sdk';
import type { MatrixClient, MatrixEvent } from 'matrix-js-sdk';
import { logger as sdkLogger } from 'matrix-js-sdk/lib/logger.js';
import { UpdateDelayedEventAction } from 'matrix-js-sdk/lib/@types/requests.js';
import { sleep, startServer, UNSTABLE } from './helpers.js';
import type { RunningServer } from './helpers.js';

// The SDK logs a lot at debug level; silence both its global logger and the per-client ones.
sdkLogger.setLevel('silent');
const silent = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => silent,
};

const CALL_MEMBER = 'org.matrix.msc3401.call.member';
const TEST_TYPE = 'com.example.test';

let server: RunningServer;
const requests: { method: string; path: string; body: string }[] = [];
const unrecognized: string[] = [];
const clients: MatrixClient[] = [];

async function registerClient(username: string): Promise<MatrixClient> {
  const anonymous = sdk.createClient({ baseUrl: server.url, logger: silent });
  const reg = await anonymous.registerRequest({ username, password: 'correct horse', auth: { type: 'm.login.dummy' } });
  const client = sdk.createClient({
    baseUrl: server.url,
    accessToken: reg.access_token!,
    userId: reg.user_id,
    deviceId: reg.device_id!,
    logger: silent,
  });
  clients.push(client);
  return client;
}

async function startAndSync(client: MatrixClient): Promise<void> {
  const prepared = new Promise<void>((resolve, reject) => {
    const onSync = (state: string): void => {
      if (state === 'PREPARED') {
        client.off(sdk.ClientEvent.Sync, onSync);
        resolve();
      } else if (state === 'ERROR') {
        reject(new Error('initial sync failed'));
      }
    };
    client.on(sdk.ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
}

/** Resolves with the first timeline event (through the client's own sync) matching `match`. */
function nextTimelineEvent(client: MatrixClient, match: (event: MatrixEvent) => boolean): Promise<{ event: MatrixEvent; at: number }> {
  return new Promise((resolve) => {
    const onTimeline = (event: MatrixEvent, _room: unknown, toStartOfTimeline: boolean | undefined): void => {
      if (toStartOfTimeline || !match(event)) return;
      client.off(sdk.RoomEvent.Timeline, onTimeline);
      resolve({ event, at: Date.now() });
    };
    client.on(sdk.RoomEvent.Timeline, onTimeline);
  });
}

let alice: MatrixClient;
let bob: MatrixClient;
let roomId: string;

beforeAll(async () => {
  server = await startServer({
    // Realistic limits, generous enough for a heartbeat every 300 ms.
    rateLimits: { manage: { points: 50, durationMs: 5_000 } },
    logger: { debug: (message: unknown) => typeof message === 'string' && message.startsWith('unrecognized') && unrecognized.push(message) },
  });
  server.listening.server.on('request', (req: IncomingMessage) => {
    // Captured now: Express rewrites req.url while routing.
    const seen = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', body: '' };
    req.on('data', (chunk: Buffer) => (seen.body += chunk.toString()));
    req.on('end', () => requests.push(seen));
  });
  alice = await registerClient(`alice${process.pid}`);
  bob = await registerClient(`bob${process.pid}`);
  roomId = (await alice.createRoom({ preset: sdk.Preset.PublicChat, name: 'MatrixRTC test' })).room_id;
  await bob.joinRoom(roomId);
  await Promise.all([startAndSync(alice), startAndSync(bob)]);
});

afterAll(async () => {
  for (const client of clients) client.stopClient();
  await server.close();
});

describe('matrix-js-sdk 36 against the example homeserver', () => {
  it('startClient() syncs the room; messages sent by one client arrive in the other via its sync', async () => {
    expect(alice.getRoom(roomId)?.name).toBe('MatrixRTC test');
    expect(bob.getRoom(roomId)?.getMyMembership()).toBe('join');
    const arrival = nextTimelineEvent(bob, (e) => e.getType() === 'm.room.message' && e.getContent()['body'] === 'hello bob');
    await alice.sendTextMessage(roomId, 'hello bob');
    const { event } = await arrival;
    expect(event.getSender()).toBe(alice.getUserId());
    expect(unrecognized).toEqual([]);
  });

  it('MatrixRTC pattern: delayed leave, own join on the same key, heartbeats; the leave arrives within delay + 1 s after they stop', async () => {
    const delay = 1500;
    const stateKey = `${alice.getUserId()}_${alice.getDeviceId()}`;
    const { delay_id: delayId } = await alice._unstable_sendDelayedStateEvent(roomId, { delay }, CALL_MEMBER as never, {} as never, stateKey);
    expect(typeof delayId).toBe('string');
    const joinContent = { application: 'm.call', call_id: '', device_id: alice.getDeviceId(), foci_preferred: [], scope: 'm.room' };
    const joinArrived = nextTimelineEvent(bob, (e) => e.getType() === CALL_MEMBER && e.getStateKey() === stateKey);
    await alice.sendStateEvent(roomId, CALL_MEMBER as never, joinContent as never, stateKey);
    expect((await joinArrived).event.getContent()).toEqual(joinContent);

    // The user's own join must not cancel their delayed leave.
    let leaveSeenEarly = false;
    const watchEarly = (e: MatrixEvent): void => {
      if (e.getType() === CALL_MEMBER && e.getStateKey() === stateKey && Object.keys(e.getContent()).length === 0) leaveSeenEarly = true;
    };
    bob.on(sdk.RoomEvent.Timeline, watchEarly);
    await alice._unstable_updateDelayedEvent(delayId, UpdateDelayedEventAction.Restart);
    const heartbeatsUntil = Date.now() + 2 * delay;
    let lastRestartAt = Date.now();
    while (Date.now() < heartbeatsUntil) {
      await sleep(300);
      lastRestartAt = Date.now();
      await alice._unstable_updateDelayedEvent(delayId, UpdateDelayedEventAction.Restart);
    }
    const stoppedAt = Date.now();
    bob.off(sdk.RoomEvent.Timeline, watchEarly);
    expect(leaveSeenEarly).toBe(false);
    expect(bob.getRoom(roomId)?.currentState.getStateEvents(CALL_MEMBER, stateKey)?.getContent()).toEqual(joinContent);

    const leaveAtBob = nextTimelineEvent(bob, (e) => e.getType() === CALL_MEMBER && e.getStateKey() === stateKey);
    const leaveAtAlice = nextTimelineEvent(alice, (e) => e.getType() === CALL_MEMBER && e.getStateKey() === stateKey);
    const { event, at } = await leaveAtBob;
    expect(event.getContent()).toEqual({});
    expect(event.getSender()).toBe(alice.getUserId());
    expect(at - stoppedAt).toBeLessThanOrEqual(delay + 1000);
    expect(at - lastRestartAt).toBeGreaterThanOrEqual(delay - 50);
    await leaveAtAlice;
    expect(alice.getRoom(roomId)?.currentState.getStateEvents(CALL_MEMBER, stateKey)?.getContent()).toEqual({});

    // The SDK used the unstable body form of management, which the server serves.
    const managed = requests.filter((r) => r.method === 'POST' && r.path === `${UNSTABLE}/delayed_events/${delayId}`);
    expect(managed.length).toBeGreaterThanOrEqual(5);
    expect(JSON.parse(managed[0]!.body)).toEqual({ action: 'restart' });
    expect((await alice._unstable_getDelayedEvents()).delayed_events).toEqual([]);
  });

  it('list, cancel and send through the SDK', async () => {
    const cancelled = await alice._unstable_sendDelayedEvent(roomId, { delay: 1000 }, null, TEST_TYPE as never, { body: 'cancel me' } as never);
    const sendNow = await alice._unstable_sendDelayedEvent(roomId, { delay: 60_000 }, null, TEST_TYPE as never, { body: 'send me' } as never);
    const stateKey = 'sdk-list';
    const delayedState = await alice._unstable_sendDelayedStateEvent(roomId, { delay: 60_000 }, TEST_TYPE as never, { v: 1 } as never, stateKey);

    const listed = await alice._unstable_getDelayedEvents();
    const byId = new Map(listed.delayed_events.map((e) => [e.delay_id, e]));
    expect([...byId.keys()].sort()).toEqual([cancelled.delay_id, sendNow.delay_id, delayedState.delay_id].sort());
    expect(byId.get(sendNow.delay_id)).toMatchObject({ room_id: roomId, type: TEST_TYPE, content: { body: 'send me' }, delay: 60_000 });
    expect(byId.get(sendNow.delay_id)).not.toHaveProperty('state_key');
    expect(byId.get(delayedState.delay_id)).toMatchObject({ state_key: stateKey, content: { v: 1 } });
    expect((await bob._unstable_getDelayedEvents()).delayed_events).toEqual([]);

    // Another user cannot touch alice's events: 404, not 403.
    await expect(bob._unstable_updateDelayedEvent(sendNow.delay_id, UpdateDelayedEventAction.Send)).rejects.toMatchObject({ httpStatus: 404, errcode: 'M_NOT_FOUND' });

    await alice._unstable_updateDelayedEvent(cancelled.delay_id, UpdateDelayedEventAction.Cancel);
    const arrival = nextTimelineEvent(bob, (e) => e.getType() === TEST_TYPE && e.getContent()['body'] === 'send me');
    const sentAt = Date.now();
    await alice._unstable_updateDelayedEvent(sendNow.delay_id, UpdateDelayedEventAction.Send);
    const { at } = await arrival;
    expect(at - sentAt).toBeLessThan(1000);
    await alice._unstable_updateDelayedEvent(delayedState.delay_id, UpdateDelayedEventAction.Cancel);
    expect((await alice._unstable_getDelayedEvents()).delayed_events).toEqual([]);

    // The cancelled one never arrives (its delay has long passed by now).
    await sleep(1200);
    const timeline = bob.getRoom(roomId)!.getLiveTimeline().getEvents();
    expect(timeline.some((e) => e.getContent()['body'] === 'cancel me')).toBe(false);
    expect(timeline.filter((e) => e.getContent()['body'] === 'send me')).toHaveLength(1);
    await expect(alice._unstable_updateDelayedEvent(cancelled.delay_id, UpdateDelayedEventAction.Restart)).rejects.toMatchObject({ httpStatus: 404 });
    expect(unrecognized).toEqual([]);
  });
});
