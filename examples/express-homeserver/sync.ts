/**
 * EXAMPLE HOMESERVER — reading the timeline: `GET /v3/sync` (initial and incremental, long-poll),
 * `GET /rooms/{roomId}/messages`, filters and (empty) push rules.
 *
 * Tokens are `s<N>`: the boundary after stream position N. A sync's `next_batch` is the latest
 * position; `/messages` accepts the same tokens.
 */
import type { Router } from 'express';
import type { AuthService, Caller } from './auth.js';
import type { Json } from './http-util.js';
import { fail, jsonBody, param, queryString, route } from './http-util.js';
import type { Room, RoomEvent, RoomService } from './rooms.js';

const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 100;
const MAX_SYNC_TIMEOUT_MS = 60_000;

function parseToken(token: string | undefined, name: string): number | undefined {
  if (token === undefined) return undefined;
  const m = /^s(\d{1,15})$/.exec(token);
  if (!m) fail(400, 'M_INVALID_PARAM', `Invalid '${name}' token.`);
  return Number(m[1]);
}

function parseNonNegativeInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,15}$/.test(value)) fail(400, 'M_INVALID_PARAM', `'${name}' must be a non-negative integer.`);
  return Number(value);
}

const token = (pos: number): string => `s${pos}`;

/** Mounts sync, messages, filter and push-rule routes on a router under `/_matrix/client`. */
export function mountSyncRoutes(router: Router, rooms: RoomService, auth: AuthService): void {
  const filters = new Map<string, Json>();
  let nextFilterId = 1;

  function timelineLimit(caller: Caller, filterParam: string | undefined): number {
    if (filterParam === undefined) return DEFAULT_TIMELINE_LIMIT;
    let filter: Json | undefined;
    if (filterParam.startsWith('{')) {
      try {
        filter = JSON.parse(filterParam) as Json;
      } catch {
        fail(400, 'M_NOT_JSON', 'Invalid filter JSON.');
      }
    } else {
      filter = filters.get(`${caller.userId}\u0000${filterParam}`);
      if (!filter) fail(404, 'M_NOT_FOUND', 'Unknown filter.');
    }
    const limit = (((filter?.['room'] as Json | undefined)?.['timeline'] as Json | undefined)?.['limit']);
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) return DEFAULT_TIMELINE_LIMIT;
    return Math.min(limit, MAX_TIMELINE_LIMIT);
  }

  function joinedEntry(room: Room, caller: Caller, since: number | undefined, upto: number, limit: number): Json | undefined {
    const member = room.stateEvent('m.room.member', caller.userId);
    const full = since === undefined || (member !== undefined && member.pos > since);
    const candidates = room.events.filter((e) => e.pos <= upto && (full || e.pos > (since ?? 0)));
    if (!full && candidates.length === 0) return undefined;
    const timeline = candidates.slice(-limit);
    const limited = candidates.length > timeline.length || (full && candidates.length > 0 && timeline[0] !== room.events[0]);
    const first = timeline[0];
    const stateBefore = first ? first.pos - 1 : upto;
    const state: RoomEvent[] = full || limited ? room.stateAt(stateBefore) : [];
    return {
      timeline: {
        events: timeline.map((e) => rooms.serialise(e, caller)),
        limited,
        prev_batch: token(stateBefore),
      },
      state: { events: state.map((e) => rooms.serialise(e, caller)) },
      account_data: { events: [] },
      ephemeral: { events: [] },
      unread_notifications: { notification_count: 0, highlight_count: 0 },
      summary: {},
    };
  }

  function buildSync(caller: Caller, since: number | undefined, limit: number): { body: Json; empty: boolean } {
    const upto = rooms.position;
    const join: Json = {};
    const invite: Json = {};
    const leave: Json = {};
    for (const room of rooms.roomsOf(caller.userId)) {
      const member = room.stateEvent('m.room.member', caller.userId);
      if (!member) continue;
      const membership = member.content['membership'];
      if (membership === 'join') {
        const entry = joinedEntry(room, caller, since, upto, limit);
        if (entry) join[room.id] = entry;
      } else if (membership === 'invite' && (since === undefined || member.pos > since)) {
        const stripped = ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.canonical_alias', 'm.room.topic']
          .map((t) => room.stateEvent(t, ''))
          .filter((e): e is RoomEvent => e !== undefined)
          .concat(member)
          .map((e) => ({ type: e.type, state_key: e.state_key, sender: e.sender, content: e.content }));
        invite[room.id] = { invite_state: { events: stripped } };
      } else if (since !== undefined && member.pos > since) {
        const events = room.events.filter((e) => e.pos > since && e.pos <= member.pos);
        leave[room.id] = {
          timeline: { events: events.map((e) => rooms.serialise(e, caller)), limited: false, prev_batch: token(since) },
          state: { events: [] },
          account_data: { events: [] },
        };
      }
    }
    const empty = Object.keys(join).length + Object.keys(invite).length + Object.keys(leave).length === 0;
    return {
      empty,
      body: {
        next_batch: token(upto),
        rooms: { join, invite, leave, knock: {} },
        presence: { events: [] },
        account_data: { events: [] },
        to_device: { events: [] },
        device_lists: { changed: [], left: [] },
        device_one_time_keys_count: {},
      },
    };
  }

  router.get('/v3/sync', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const fullState = queryString(req, 'full_state') === 'true';
    let since = fullState ? undefined : parseToken(queryString(req, 'since'), 'since');
    if (since !== undefined && since > rooms.position) since = rooms.position;
    const timeoutMs = Math.min(parseNonNegativeInt(queryString(req, 'timeout'), 'timeout', 0), MAX_SYNC_TIMEOUT_MS);
    const limit = timelineLimit(caller, queryString(req, 'filter'));
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const deadline = Date.now() + timeoutMs;
    let result = buildSync(caller, since, limit);
    // Long-poll: wait for any new event, rebuild, and answer once something concerns this user.
    while (since !== undefined && result.empty && !abort.signal.aborted && !rooms.isShutDown && Date.now() < deadline) {
      await rooms.waitForChange(rooms.position, deadline - Date.now(), abort.signal);
      result = buildSync(caller, since, limit);
    }
    if (!abort.signal.aborted) res.json(result.body);
  }));

  router.get('/v3/rooms/:roomId/messages', route((req, res) => {
    const caller = auth.authenticate(req);
    const room = rooms.getRoom(param(req, 'roomId'));
    if (room.membership(caller.userId) !== 'join') fail(403, 'M_FORBIDDEN', `${caller.userId} is not joined to this room.`);
    const dir = queryString(req, 'dir') ?? 'b';
    if (dir !== 'b' && dir !== 'f') fail(400, 'M_INVALID_PARAM', "'dir' must be 'b' or 'f'.");
    const limit = Math.min(Math.max(parseNonNegativeInt(queryString(req, 'limit'), 'limit', 10), 1), 1000);
    const from = parseToken(queryString(req, 'from'), 'from') ?? (dir === 'b' ? rooms.position : 0);
    const to = parseToken(queryString(req, 'to'), 'to');
    let chunk: RoomEvent[];
    let end: string | undefined;
    if (dir === 'b') {
      const older = room.events.filter((e) => e.pos <= from && (to === undefined || e.pos > to)).reverse();
      chunk = older.slice(0, limit);
      const last = chunk[chunk.length - 1];
      if (older.length > chunk.length && last) end = token(last.pos - 1);
    } else {
      const newer = room.events.filter((e) => e.pos > from && (to === undefined || e.pos <= to));
      chunk = newer.slice(0, limit);
      const last = chunk[chunk.length - 1];
      if (newer.length > chunk.length && last) end = token(last.pos);
    }
    res.json({ start: token(from), ...(end !== undefined ? { end } : {}), chunk: chunk.map((e) => rooms.serialise(e, caller)) });
  }));

  router.post('/v3/user/:userId/filter', route((req, res) => {
    const caller = auth.authenticate(req);
    if (param(req, 'userId') !== caller.userId) fail(403, 'M_FORBIDDEN', 'Cannot create filters for other users.');
    const filter = jsonBody(req);
    const id = String(nextFilterId++);
    filters.set(`${caller.userId}\u0000${id}`, filter);
    res.json({ filter_id: id });
  }));

  router.get('/v3/user/:userId/filter/:filterId', route((req, res) => {
    const caller = auth.authenticate(req);
    if (param(req, 'userId') !== caller.userId) fail(403, 'M_FORBIDDEN', 'Cannot read filters of other users.');
    const filter = filters.get(`${caller.userId}\u0000${param(req, 'filterId')}`) ?? fail(404, 'M_NOT_FOUND', 'Unknown filter.');
    res.json(filter);
  }));

  router.get('/v3/pushrules{/}', route((req, res) => {
    auth.authenticate(req);
    res.json({ global: { override: [], content: [], room: [], sender: [], underride: [] } });
  }));
}
