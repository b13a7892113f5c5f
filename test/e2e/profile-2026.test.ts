/**
 * The example homeserver with `DELAYED_EVENTS_PROFILE=msc4140-2026`, over real HTTP: the capability,
 * scheduling on the 2026 route, the lookup showing the room event's ID, and `unsigned.delay_id` for the
 * sender only over `/sync` and `/messages`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnvConfig } from '../../examples/express-homeserver/config.js';
import { complementRoom, enc, startServer, UNSTABLE, waitFor } from './helpers.js';
import type { RunningServer, User } from './helpers.js';

let server: RunningServer;
beforeAll(async () => {
  const { profile } = readEnvConfig({ DELAYED_EVENTS_PROFILE: 'msc4140-2026' });
  server = await startServer({ profile, maxDelayMs: 3_600_000, maxPerUser: 25 });
});
afterAll(async () => {
  await server.close();
});

async function delayedMessage(user: User, roomId: string, txnId: string, delayMs: number): Promise<string> {
  const r = await user.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/delayed_event/com.example.test/${txnId}`, {
    delay_ms: delayMs,
    content: { body: txnId },
  });
  expect(r.status, r.text).toBe(200);
  return r.body['delay_id'] as string;
}

describe('the example homeserver on the msc4140-2026 profile', () => {
  it('reads the profile from DELAYED_EVENTS_PROFILE and refuses an unknown one', () => {
    expect(readEnvConfig({}).profile).toBe('msc4140-2024');
    expect(() => readEnvConfig({ DELAYED_EVENTS_PROFILE: 'msc4140-2025' })).toThrow(/DELAYED_EVENTS_PROFILE/);
  });

  it('advertises m.delayed_events (and the unstable name) in /capabilities', async () => {
    const { user1 } = await complementRoom(server.url);
    const r = await user1.req('GET', '/_matrix/client/v3/capabilities');
    expect(r.body['capabilities']).toMatchObject({
      'm.delayed_events': { max_delay_ms: 3_600_000, max_scheduled: 25 },
      'org.matrix.msc4140.delayed_events': { max_delay_ms: 3_600_000, max_scheduled: 25 },
    });
  });

  it('sends a scheduled event and shows its event ID in the lookup; delay_id in unsigned for the sender only', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const delayId = await delayedMessage(user2, roomId, 'hello', 200);
    expect(await waitFor(async () => (await user2.req('GET', `${UNSTABLE}/delayed_events/${delayId}`)).body['finalised_ts'] !== undefined, 3000)).toBe(true);
    const lookup = await user2.req('GET', `/_matrix/client/v1/delayed_events/${delayId}`);
    expect(lookup.body).toMatchObject({ delay_id: delayId, room_id: roomId, type: 'com.example.test', delay_ms: 200, content: { body: 'hello' } });
    const eventId = lookup.body['event_id'];
    expect(typeof eventId).toBe('string');

    const senderView = (await user2.messages(roomId)).find((e) => e['event_id'] === eventId);
    const otherView = (await user1.messages(roomId)).find((e) => e['event_id'] === eventId);
    expect(senderView?.['unsigned']).toMatchObject({ delay_id: delayId, 'org.matrix.msc4140.delay_id': delayId });
    expect(otherView?.['unsigned']).not.toHaveProperty('delay_id');
    expect(otherView?.['unsigned']).not.toHaveProperty('org.matrix.msc4140.delay_id');

    const sync = await user2.req('GET', '/_matrix/client/v3/sync');
    const timeline = ((sync.body['rooms'] as Record<string, Record<string, { timeline: { events: Record<string, unknown>[] } }>>)['join']?.[roomId]?.timeline.events ?? []);
    expect(timeline.find((e) => e['event_id'] === eventId)?.['unsigned']).toMatchObject({ delay_id: delayId });

    // A retried send is answered by the outcome; another user learns nothing.
    expect((await user2.req('POST', `/_matrix/client/v1/delayed_events/${delayId}/send`, {})).status).toBe(200);
    expect((await user1.req('GET', `/_matrix/client/v1/delayed_events/${delayId}`)).status).toBe(404);
  });

  it('keeps delayed state when the sender sets the same state without delay (no cancellation by newer state)', async () => {
    const { user1, user2, roomId } = await complementRoom(server.url);
    const r = await user2.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/delayed_event/com.example.test/t1`, {
      delay_ms: 60_000,
      state_key: 'k',
      content: { v: 'delayed' },
    });
    const delayId = r.body['delay_id'] as string;
    expect((await user1.putState(roomId, 'com.example.test', 'k', { v: 'other' })).status).toBe(200);
    const lookup = await user2.req('GET', `/_matrix/client/v1/delayed_events/${delayId}`);
    expect(lookup.body).not.toHaveProperty('finalised_ts');
    expect((await user2.req('POST', `/_matrix/client/v1/delayed_events/${delayId}/cancel`, {})).status).toBe(200);
  });
});
