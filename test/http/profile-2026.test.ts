/**
 * The `msc4140-2026` profile over real HTTP (node adapter on a listening server), on every store:
 * its scheduling route, lookup, retried and conflicting actions, error table and listing.
 */
import { createServer } from 'node:http';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../../src/adapters/node/index.js';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import type { DelayedEventSchedulerOptions } from '../../src/core/options.js';
import { MatrixError } from '../../src/core/errors.js';
import type { DelayedEventStore } from '../../src/core/store.js';
import type { DueDelayedEvent } from '../../src/core/types.js';
import type { DelayedEventsHandlerOptions } from '../../src/http/handlers.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { noLimits, ROOM } from '../helpers/fixtures.js';
import { call, closeServer, listen, makeAuthenticate, ROOM_ENC, STABLE, UNSTABLE } from './helpers.js';
import { storeFactories } from './store-factories.js';

const DELAYED_EVENT = `/_matrix/client/v3/rooms/${ROOM_ENC}/delayed_event`;
const UNSTABLE_DELAYED_EVENT = `/_matrix/client/unstable/org.matrix.msc4140/rooms/${ROOM_ENC}/delayed_event`;
const SEND = `/_matrix/client/v3/rooms/${ROOM_ENC}/send`;

interface Server2026 {
  baseUrl: string;
  clock: ManualClock;
  scheduler: DelayedEventScheduler;
  sent: DueDelayedEvent[];
  /** Replace to make the host refuse or fail a send. */
  refuse: ((event: DueDelayedEvent) => void) | undefined;
  close(): Promise<void>;
}

const factories = storeFactories();
afterAll(() => factories.close());

describe.each(factories.list)('msc4140-2026 profile over HTTP (%s store)', (_name, newStore) => {
  let s: Server2026;
  let store: DelayedEventStore & { close?(): Promise<void> };

  async function start(scheduler: Partial<DelayedEventSchedulerOptions> = {}, handler: Partial<DelayedEventsHandlerOptions> = {}): Promise<Server2026> {
    const clock = new ManualClock(1_700_000_000_000);
    const sent: DueDelayedEvent[] = [];
    store = await newStore();
    const server: Partial<Server2026> = { clock, sent, refuse: undefined };
    const instance = new DelayedEventScheduler({
      store,
      clock,
      profile: 'msc4140-2026',
      rateLimiter: noLimits(),
      maxDelayMs: 3_600_000,
      maxOutstandingPerUser: 3,
      sendEvent: (event) => {
        server.refuse?.(event);
        sent.push(event);
        return `$event${sent.length}:example.org`;
      },
      ...scheduler,
    });
    await instance.start();
    const delayedEvents = toNodeHandler({ scheduler: instance, authenticate: makeAuthenticate(), ...handler });
    const http = createServer((req, res) => {
      void delayedEvents(req, res).then((answered) => {
        if (!answered) res.writeHead(418).end();
      });
    });
    const baseUrl = await listen(http);
    return Object.assign(server, {
      baseUrl,
      scheduler: instance,
      async close() {
        await closeServer(http);
        await instance.stop();
        await store.close?.();
      },
    }) as Server2026;
  }

  const schedule = async (txnId: string, body: unknown, token = 'alice', path = DELAYED_EVENT) =>
    call(s.baseUrl, 'PUT', `${path}/m.room.message/${txnId}`, { body, token });
  const scheduled = async (txnId: string, delayMs: number, token = 'alice'): Promise<string> => {
    const res = await schedule(txnId, { delay_ms: delayMs, content: { body: txnId } }, token);
    expect(res.status, res.text).toBe(200);
    return res.json['delay_id'] as string;
  };
  const act = (id: string, action: string, token = 'alice', prefix = STABLE) => call(s.baseUrl, 'POST', `${prefix}/${id}/${action}`, { body: {}, token });
  const lookup = (id: string, token = 'alice', prefix = STABLE) => call(s.baseUrl, 'GET', `${prefix}/${id}`, { token });

  beforeEach(async () => {
    s = await start();
  });
  afterEach(async () => {
    await s.close();
  });

  it('schedules with PUT …/delayed_event/{type}/{txnId} on both prefixes, idempotently by transaction', async () => {
    const first = await schedule('t1', { delay_ms: 5000, content: { body: 'hi' } });
    expect(first.status).toBe(200);
    expect(Object.keys(first.json)).toEqual(['delay_id']);
    const retried = await schedule('t1', { delay_ms: 5000, content: { body: 'hi' } });
    const bodiless = await call(s.baseUrl, 'PUT', `${DELAYED_EVENT}/m.room.message/t1`);
    expect(retried.json['delay_id']).toBe(first.json['delay_id']);
    expect(bodiless.json['delay_id']).toBe(first.json['delay_id']);
    const state = await call(s.baseUrl, 'PUT', `${UNSTABLE_DELAYED_EVENT}/m.call.member/t2`, {
      body: { delay_ms: 1000, state_key: '_@alice:example.org_ALICEPHONE', content: {} },
    });
    expect(state.status).toBe(200);
    await s.clock.advanceAsync(1000);
    expect(s.sent.map((e) => [e.type, e.stateKey])).toEqual([['m.call.member', '_@alice:example.org_ALICEPHONE']]);
    await s.clock.advanceAsync(4000);
    expect(s.sent[1]).toMatchObject({ type: 'm.room.message', stateKey: undefined, content: { body: 'hi' } });
  });

  it.each([
    ['no body', undefined, 400, 'M_NOT_JSON'],
    ['an array', [], 400, 'M_BAD_JSON'],
    ['no delay_ms', { content: {} }, 400, 'M_MISSING_PARAM'],
    ['delay_ms 0', { delay_ms: 0, content: {} }, 400, 'M_INVALID_PARAM'],
    ['a negative delay_ms', { delay_ms: -5, content: {} }, 400, 'M_INVALID_PARAM'],
    ['a fractional delay_ms', { delay_ms: 1.5, content: {} }, 400, 'M_INVALID_PARAM'],
    ['a string delay_ms', { delay_ms: '1000', content: {} }, 400, 'M_INVALID_PARAM'],
    ['a numeric state_key', { delay_ms: 1000, state_key: 7, content: {} }, 400, 'M_INVALID_PARAM'],
    ['no content', { delay_ms: 1000 }, 400, 'M_MISSING_PARAM'],
    ['array content', { delay_ms: 1000, content: [] }, 400, 'M_BAD_JSON'],
    ['a delay over the maximum', { delay_ms: 3_600_001, content: {} }, 403, 'M_FORBIDDEN'],
  ])('answers a body with %s with the matching error, and schedules nothing', async (_name, body, status, errcode) => {
    const res = await schedule('bad', body);
    expect(res.status).toBe(status);
    expect(res.json['errcode']).toBe(errcode);
    expect(typeof res.json['error']).toBe('string');
    expect((await call(s.baseUrl, 'GET', STABLE)).json['delayed_events']).toEqual([]);
  });

  it('answers a user at the cap 429 M_LIMIT_EXCEEDED with Retry-After until their next send, rounded up', async () => {
    await scheduled('a', 10_000);
    await scheduled('b', 4_500);
    await scheduled('c', 20_000);
    await s.clock.advanceAsync(1_000);
    const refused = await schedule('d', { delay_ms: 1000, content: {} });
    expect(refused.status).toBe(429);
    expect(refused.json['errcode']).toBe('M_LIMIT_EXCEEDED');
    expect(refused.headers.get('retry-after')).toBe('4'); // 3.5 s until the 4.5 s event, rounded up
    // Another user is not affected.
    expect((await schedule('e', { delay_ms: 1000, content: {} }, 'bob')).status).toBe(200);
  });

  it('leaves Retry-After out when the next event of the user is being sent', async () => {
    await s.close();
    let release: () => void = () => undefined;
    const hostBusy = new Promise<void>((resolve) => (release = resolve));
    s = await start({ sendEvent: () => hostBusy });
    for (const txn of ['a', 'b', 'c']) await scheduled(txn, 1000);
    s.clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    const refused = await schedule('d', { delay_ms: 1000, content: {} });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeNull();
    release();
  });

  it('answers a cap of 0 with 403 M_FORBIDDEN', async () => {
    await s.close();
    s = await start({ maxOutstandingPerUser: 0 });
    const res = await schedule('a', { delay_ms: 1000, content: {} });
    expect(res.status).toBe(403);
    expect(res.json['errcode']).toBe('M_FORBIDDEN');
  });

  it('looks up a pending event, then the sent one with its event ID and finalised_ts', async () => {
    const id = await scheduled('t', 2000);
    const scheduledAt = s.clock.now();
    const pending = await lookup(id);
    expect(pending.status).toBe(200);
    expect(pending.json).toEqual({ delay_id: id, room_id: ROOM, type: 'm.room.message', delay_ms: 2000, scheduled_at: scheduledAt, delay: 2000, running_since: scheduledAt, content: { body: 't' } });
    await s.clock.advanceAsync(2000);
    const sent = await lookup(id, 'alice', UNSTABLE);
    expect(sent.json).toMatchObject({ delay_id: id, delay_ms: 2000, scheduled_at: scheduledAt, finalised_ts: scheduledAt + 2000, event_id: '$event1:example.org' });
    expect(sent.json['error']).toBeUndefined();
  });

  it('looks up a failed event with its error and a cancelled one with neither event_id nor error', async () => {
    s.refuse = () => {
      throw new MatrixError(403, 'M_FORBIDDEN', 'You may not send this');
    };
    const failing = await scheduled('f', 1000);
    const cancelled = await scheduled('c', 5000);
    expect((await act(cancelled, 'cancel')).status).toBe(200);
    await s.clock.advanceAsync(1000);
    expect((await lookup(failing)).json).toMatchObject({ finalised_ts: s.clock.now(), error: { errcode: 'M_FORBIDDEN', error: 'You may not send this' } });
    const cancelledLookup = await lookup(cancelled);
    expect(cancelledLookup.json['finalised_ts']).toBe(s.clock.now() - 1000);
    expect(cancelledLookup.json).not.toHaveProperty('event_id');
    expect(cancelledLookup.json).not.toHaveProperty('error');
  });

  it('answers 404 M_NOT_FOUND for another user\'s or an unknown delay ID', async () => {
    const id = await scheduled('t', 2000);
    for (const res of [await lookup(id, 'bob'), await lookup('nope'), await act(id, 'cancel', 'bob')]) {
      expect(res.status).toBe(404);
      expect(res.json['errcode']).toBe('M_NOT_FOUND');
    }
    await s.clock.advanceAsync(2000);
    expect((await lookup(id, 'bob')).status).toBe(404);
    expect((await act(id, 'send', 'bob')).status).toBe(404);
  });

  it('answers a retry that matches the outcome 200, and a conflicting action 409 M_UNKNOWN', async () => {
    const sent = await scheduled('s', 1000);
    const cancelled = await scheduled('c', 60_000);
    await act(cancelled, 'cancel');
    await s.clock.advanceAsync(1000);
    expect((await act(sent, 'send')).status).toBe(200);
    expect((await act(cancelled, 'cancel')).status).toBe(200);
    for (const [id, action] of [
      [cancelled, 'send'],
      [cancelled, 'restart'],
      [sent, 'cancel'],
      [sent, 'restart'],
    ] as const) {
      const res = await act(id, action);
      expect(res.status, `${action} on ${id === sent ? 'sent' : 'cancelled'}`).toBe(409);
      expect(res.json['errcode']).toBe('M_UNKNOWN');
    }
    expect(s.sent).toHaveLength(1);
  });

  it('counts a failed event as cancelled: a retried cancel succeeds, a send conflicts', async () => {
    s.refuse = () => {
      throw new MatrixError(403, 'M_FORBIDDEN', 'no');
    };
    const id = await scheduled('f', 1000);
    await s.clock.advanceAsync(1000);
    expect((await act(id, 'cancel')).status).toBe(200);
    expect((await act(id, 'send')).status).toBe(409);
  });

  it('lists pending events in send-time order with the 2026 fields, a page at a time', async () => {
    await s.close();
    s = await start({ listPageSize: 2, maxOutstandingPerUser: 10 });
    const late = await scheduled('late', 9000);
    const early = await scheduled('early', 1000);
    const middle = await scheduled('middle', 5000);
    const first = await call(s.baseUrl, 'GET', STABLE);
    const events = first.json['delayed_events'] as Record<string, unknown>[];
    expect(events.map((e) => e['delay_id'])).toEqual([early, middle]);
    expect(events[0]).toMatchObject({ delay_ms: 1000, scheduled_at: s.clock.now(), content: { body: 'early' } });
    expect(events[0]).not.toHaveProperty('finalised_ts');
    const next = await call(s.baseUrl, 'GET', `${STABLE}?from=${encodeURIComponent(first.json['next_batch'] as string)}`);
    expect((next.json['delayed_events'] as Record<string, unknown>[]).map((e) => e['delay_id'])).toEqual([late]);
    expect(next.json['next_batch']).toBeUndefined();
  });

  it('does not cancel delayed state on newer state unless the host opts in', async () => {
    const res = await call(s.baseUrl, 'PUT', `${DELAYED_EVENT}/m.call.member/t`, { body: { delay_ms: 5000, state_key: 'k', content: {} } });
    const id = res.json['delay_id'] as string;
    expect(await s.scheduler.onStateEvent({ roomId: ROOM, type: 'm.call.member', stateKey: 'k', sender: '@bob:example.org' })).toBe(0);
    expect((await lookup(id)).json).not.toHaveProperty('finalised_ts');
  });

  it('finalises with an error, not deferral, when the delivery limit is set to fail', async () => {
    await s.close();
    s = await start({
      deliveryRateLimitPolicy: 'fail',
      rateLimiter: noLimits({ delivery: { points: 1, durationMs: 60_000 } }),
    });
    const a = await scheduled('a', 1000);
    const b = await scheduled('b', 1000);
    await s.clock.advanceAsync(1000);
    const outcomes = [await lookup(a), await lookup(b)].map((res) => (res.json['error'] as { errcode?: string } | undefined)?.errcode ?? 'sent');
    expect(outcomes.sort()).toEqual(['M_LIMIT_EXCEEDED', 'sent']);
  });

  it('serves the 2024 routes beside its own by default, and refuses them when asked to', async () => {
    const old = await call(s.baseUrl, 'PUT', `${SEND}/m.room.message/old?org.matrix.msc4140.delay=1000`, { body: { body: 'old' } });
    expect(old.status).toBe(200);
    const bodyForm = await call(s.baseUrl, 'POST', `${UNSTABLE}/${old.json['delay_id'] as string}`, { body: { action: 'restart' } });
    expect(bodyForm.status).toBe(200);
    await s.close();
    s = await start({}, { serve2024Routes: false });
    const refused = await call(s.baseUrl, 'PUT', `${SEND}/m.room.message/old?org.matrix.msc4140.delay=1000`, { body: { body: 'old' } });
    expect(refused.status).toBe(404);
    expect(refused.json['errcode']).toBe('M_UNRECOGNIZED');
    const post = await call(s.baseUrl, 'POST', `${STABLE}/someid`, { body: { action: 'send' } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(s.sent).toHaveLength(0);
  });
});

describe('the 2024 profile', () => {
  it('does not serve the 2026 routes', async () => {
    const clock = new ManualClock();
    const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), clock, sendEvent: () => undefined });
    const handler = toNodeHandler({ scheduler, authenticate: makeAuthenticate() });
    const http = createServer((req, res) => {
      void handler(req, res).then((answered) => {
        if (!answered) res.writeHead(418).end();
      });
    });
    const baseUrl = await listen(http);
    try {
      const put = await call(baseUrl, 'PUT', `${DELAYED_EVENT}/m.room.message/t`, { body: { delay_ms: 1000, content: {} } });
      expect(put.status).toBe(418); // the host's
      const get = await call(baseUrl, 'GET', `${STABLE}/someid`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    } finally {
      await closeServer(http);
    }
  });
});
