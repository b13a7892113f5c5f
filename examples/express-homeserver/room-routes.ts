/**
 * EXAMPLE HOMESERVER — room routes: create, join, leave, invite, send, state, redact, read state.
 *
 * Requests that carry a `delay` / `org.matrix.msc4140.delay` query parameter never reach these routes:
 * the delayed-events router mounted before them schedules them instead.
 */
import type { Request, Router } from 'express';
import type { AuthService, Caller } from './auth.js';
import type { Json } from './http-util.js';
import { fail, jsonBody, optObject, optString, param, route } from './http-util.js';
import { defaultPowerLevels } from './power-levels.js';
import type { Room, RoomEvent, RoomService } from './rooms.js';

const USER_ID = /^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-[\]:]+$/;
const SUPPORTED_VERSIONS = ['10', '11'];
const MAX_REMEMBERED_TXNS = 100_000;
const PRESETS: Record<string, { joinRule: string; guestAccess: string }> = {
  private_chat: { joinRule: 'invite', guestAccess: 'can_join' },
  trusted_private_chat: { joinRule: 'invite', guestAccess: 'can_join' },
  public_chat: { joinRule: 'public', guestAccess: 'forbidden' },
};

function checkType(type: string): void {
  if (type.length === 0 || Buffer.byteLength(type) > 255) fail(400, 'M_INVALID_PARAM', 'Event type must be 1-255 bytes.');
}

function checkStateKey(stateKey: string): void {
  if (Buffer.byteLength(stateKey) > 255) fail(400, 'M_INVALID_PARAM', 'State key must be at most 255 bytes.');
}

function checkTxn(txnId: string): void {
  if (txnId.length === 0 || Buffer.byteLength(txnId) > 255) fail(400, 'M_INVALID_PARAM', 'Transaction ID must be 1-255 bytes.');
}

/** Mounts the room routes on a router under `/_matrix/client`. */
export function mountRoomRoutes(router: Router, rooms: RoomService, auth: AuthService): void {
  const txns = new Map<string, Promise<RoomEvent>>();

  /** Runs `insert` once per (user, device, endpoint, txn): repeats get the first result. */
  async function once(caller: Caller, kind: string, txnId: string, insert: () => Promise<RoomEvent>): Promise<RoomEvent> {
    const key = JSON.stringify([caller.userId, caller.deviceId, kind, txnId]);
    const existing = txns.get(key);
    if (existing) return existing;
    const pending = insert();
    txns.set(key, pending);
    pending.catch(() => txns.delete(key));
    // Remember the most recent transactions only (an example; Synapse expires them after a while).
    if (txns.size > MAX_REMEMBERED_TXNS) txns.delete(txns.keys().next().value as string);
    return pending;
  }

  function joinedRoom(req: Request, caller: Caller): Room {
    const room = rooms.getRoom(param(req, 'roomId'));
    if (room.membership(caller.userId) !== 'join') fail(403, 'M_FORBIDDEN', `${caller.userId} is not joined to this room.`);
    return room;
  }

  async function join(caller: Caller, roomId: string): Promise<void> {
    await rooms.insert({ roomId, sender: caller.userId, type: 'm.room.member', stateKey: caller.userId, content: { membership: 'join' } });
  }

  router.post('/v3/createRoom', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const body = jsonBody(req, false);
    const visibility = optString(body, 'visibility') ?? 'private';
    if (visibility !== 'public' && visibility !== 'private') fail(400, 'M_INVALID_PARAM', "visibility must be 'public' or 'private'.");
    const presetName = optString(body, 'preset') ?? (visibility === 'public' ? 'public_chat' : 'private_chat');
    const preset = PRESETS[presetName];
    if (!preset) fail(400, 'M_INVALID_PARAM', `Unknown preset '${presetName}'.`);
    const version = optString(body, 'room_version') ?? '10';
    if (!SUPPORTED_VERSIONS.includes(version)) fail(400, 'M_UNSUPPORTED_ROOM_VERSION', `Unsupported room version ${version}.`);
    const name = optString(body, 'name');
    const topic = optString(body, 'topic');
    const override = optObject(body, 'power_level_content_override') ?? {};
    const creationContent = optObject(body, 'creation_content') ?? {};
    const invites = body['invite'] ?? [];
    if (!Array.isArray(invites) || !invites.every((u): u is string => typeof u === 'string' && USER_ID.test(u))) {
      fail(400, 'M_INVALID_PARAM', "'invite' must be a list of user IDs.");
    }
    const initialState = body['initial_state'] ?? [];
    if (!Array.isArray(initialState)) fail(400, 'M_BAD_JSON', "'initial_state' must be a list.");
    const initial = initialState.map((raw: unknown) => {
      const e = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : fail(400, 'M_BAD_JSON', 'Invalid initial_state entry.')) as Json;
      const type = optString(e, 'type') ?? fail(400, 'M_BAD_JSON', 'initial_state entry without type.');
      const stateKey = optString(e, 'state_key') ?? '';
      const content = optObject(e, 'content') ?? fail(400, 'M_BAD_JSON', 'initial_state entry without content.');
      checkType(type);
      checkStateKey(stateKey);
      return { type, stateKey, content };
    });
    let alias: string | undefined;
    const aliasName = optString(body, 'room_alias_name');
    if (aliasName !== undefined) {
      if (!/^[^\s:#]{1,200}$/.test(aliasName)) fail(400, 'M_INVALID_PARAM', 'Invalid room_alias_name.');
      alias = `#${aliasName}:${rooms.serverName}`;
      if (rooms.aliases.has(alias)) fail(400, 'M_ROOM_IN_USE', 'Room alias already taken.');
    }

    const roomId = rooms.newRoomId();
    await rooms.createRoom(roomId, caller.userId, version, creationContent);
    if (alias !== undefined) rooms.aliases.set(alias, roomId);
    const sendState = (type: string, content: Json, stateKey = ''): Promise<RoomEvent> =>
      rooms.insert({ roomId, sender: caller.userId, type, stateKey, content });
    await join(caller, roomId);
    const powerLevels = { ...defaultPowerLevels(caller.userId), ...override };
    if (presetName === 'trusted_private_chat' && override['users'] === undefined) {
      powerLevels['users'] = { ...(powerLevels['users'] as Json), ...Object.fromEntries(invites.map((u) => [u, 100])) };
    }
    await sendState('m.room.power_levels', powerLevels);
    if (alias !== undefined) await sendState('m.room.canonical_alias', { alias });
    await sendState('m.room.join_rules', { join_rule: preset.joinRule });
    await sendState('m.room.history_visibility', { history_visibility: 'shared' });
    await sendState('m.room.guest_access', { guest_access: preset.guestAccess });
    for (const e of initial) await sendState(e.type, e.content, e.stateKey);
    if (name !== undefined) await sendState('m.room.name', { name });
    if (topic !== undefined) await sendState('m.room.topic', { topic });
    for (const invitee of invites) {
      await rooms.insert({ roomId, sender: caller.userId, type: 'm.room.member', stateKey: invitee, content: { membership: 'invite' } });
    }
    res.json({ room_id: roomId, ...(alias !== undefined ? { room_alias: alias } : {}) });
  }));

  router.post('/v3/join/:roomIdOrAlias', route(async (req, res) => {
    const caller = auth.authenticate(req);
    jsonBody(req, false);
    const target = param(req, 'roomIdOrAlias');
    const roomId = target.startsWith('#') ? (rooms.aliases.get(target) ?? fail(404, 'M_NOT_FOUND', 'Unknown room alias.')) : target;
    if (!roomId.startsWith('!')) fail(400, 'M_INVALID_PARAM', 'Expected a room ID or alias.');
    await join(caller, roomId);
    res.json({ room_id: roomId });
  }));

  router.post('/v3/rooms/:roomId/join', route(async (req, res) => {
    const caller = auth.authenticate(req);
    jsonBody(req, false);
    await join(caller, param(req, 'roomId'));
    res.json({ room_id: param(req, 'roomId') });
  }));

  router.post('/v3/rooms/:roomId/leave', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const body = jsonBody(req, false);
    const reason = optString(body, 'reason');
    await rooms.insert({
      roomId: param(req, 'roomId'),
      sender: caller.userId,
      type: 'm.room.member',
      stateKey: caller.userId,
      content: { membership: 'leave', ...(reason !== undefined ? { reason } : {}) },
    });
    res.json({});
  }));

  router.post('/v3/rooms/:roomId/invite', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const body = jsonBody(req);
    const userId = optString(body, 'user_id') ?? fail(400, 'M_MISSING_PARAM', "Missing 'user_id'.");
    if (!USER_ID.test(userId)) fail(400, 'M_INVALID_PARAM', 'Invalid user ID.');
    if (userId.endsWith(`:${auth.serverName}`) && !auth.hasUser(userId)) fail(404, 'M_NOT_FOUND', 'Unknown user.');
    await rooms.insert({ roomId: param(req, 'roomId'), sender: caller.userId, type: 'm.room.member', stateKey: userId, content: { membership: 'invite' } });
    res.json({});
  }));

  router.put('/v3/rooms/:roomId/send/:eventType/:txnId', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const type = param(req, 'eventType');
    const txnId = param(req, 'txnId');
    checkType(type);
    checkTxn(txnId);
    const content = jsonBody(req);
    const ev = await once(caller, 'send', txnId, () =>
      rooms.insert({ roomId: param(req, 'roomId'), sender: caller.userId, type, content, txn: { deviceId: caller.deviceId, txnId } }),
    );
    res.json({ event_id: ev.event_id });
  }));

  router.put('/v3/rooms/:roomId/redact/:eventId/:txnId', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const txnId = param(req, 'txnId');
    checkTxn(txnId);
    const body = jsonBody(req, false);
    const reason = optString(body, 'reason');
    const content = { redacts: param(req, 'eventId'), ...(reason !== undefined ? { reason } : {}) };
    const ev = await once(caller, 'redact', txnId, () =>
      rooms.insert({ roomId: param(req, 'roomId'), sender: caller.userId, type: 'm.room.redaction', content, txn: { deviceId: caller.deviceId, txnId } }),
    );
    res.json({ event_id: ev.event_id });
  }));

  router.put('/v3/rooms/:roomId/state/:eventType{/:stateKey}', route(async (req, res) => {
    const caller = auth.authenticate(req);
    const type = param(req, 'eventType');
    const stateKey = param(req, 'stateKey');
    checkType(type);
    checkStateKey(stateKey);
    const content = jsonBody(req);
    const ev = await rooms.insert({ roomId: param(req, 'roomId'), sender: caller.userId, type, stateKey, content });
    res.json({ event_id: ev.event_id });
  }));

  router.get('/v3/rooms/:roomId/state/:eventType{/:stateKey}', route((req, res) => {
    const caller = auth.authenticate(req);
    const room = joinedRoom(req, caller);
    const ev = room.stateEvent(param(req, 'eventType'), param(req, 'stateKey'));
    if (!ev) fail(404, 'M_NOT_FOUND', 'Event not found.');
    res.json(ev.content);
  }));

  router.get('/v3/rooms/:roomId/state', route((req, res) => {
    const caller = auth.authenticate(req);
    const room = joinedRoom(req, caller);
    res.json([...room.state.values()].map((e) => rooms.serialise(e, caller)));
  }));

  router.get('/v3/rooms/:roomId/event/:eventId', route((req, res) => {
    const caller = auth.authenticate(req);
    const room = joinedRoom(req, caller);
    const ev = rooms.getEvent(param(req, 'eventId'));
    if (!ev || ev.room_id !== room.id) fail(404, 'M_NOT_FOUND', 'Event not found.');
    res.json(rooms.serialise(ev, caller));
  }));

  router.get('/v3/rooms/:roomId/members', route((req, res) => {
    const caller = auth.authenticate(req);
    const room = joinedRoom(req, caller);
    const members = [...room.state.values()].filter((e) => e.type === 'm.room.member');
    res.json({ chunk: members.map((e) => rooms.serialise(e, caller)) });
  }));

  router.get('/v3/rooms/:roomId/joined_members', route((req, res) => {
    const caller = auth.authenticate(req);
    const room = joinedRoom(req, caller);
    res.json({ joined: Object.fromEntries(room.joinedMembers().map((u) => [u, {}])) });
  }));

  router.get('/v3/joined_rooms', route((req, res) => {
    const caller = auth.authenticate(req);
    res.json({ joined_rooms: rooms.roomsOf(caller.userId).filter((r) => r.membership(caller.userId) === 'join').map((r) => r.id) });
  }));

  router.get('/v3/directory/room/:alias', route((req, res) => {
    auth.authenticate(req);
    const roomId = rooms.aliases.get(param(req, 'alias')) ?? fail(404, 'M_NOT_FOUND', 'Unknown room alias.');
    res.json({ room_id: roomId, servers: [rooms.serverName] });
  }));
}
