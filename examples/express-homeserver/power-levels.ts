/**
 * EXAMPLE HOMESERVER — event authorisation at the moment an event is inserted (immediate and delayed
 * alike): membership transitions and power levels (`users`, `users_default`, `events`,
 * `events_default`, `state_default`, plus `invite`/`kick`/`ban`/`redact`).
 *
 * A subset of the Matrix authorisation rules, enough for an example: no federation, no event graph.
 */
import type { Json } from './http-util.js';
import { fail } from './http-util.js';

/** What the authoriser needs to know about a room. */
export interface RoomView {
  readonly creator: string;
  /** Current state content for (type, state key), or undefined. */
  stateContent(type: string, stateKey: string): Json | undefined;
  /** Current membership of a user, or undefined. */
  membership(userId: string): string | undefined;
}

/** A proposed event. */
export interface ProposedEvent {
  readonly sender: string;
  readonly type: string;
  readonly stateKey: string | undefined;
  readonly content: Json;
}

/** Default `m.room.power_levels` content for a new room (as Synapse creates it). */
export function defaultPowerLevels(creator: string): Json {
  return {
    users: { [creator]: 100 },
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    historical: 100,
  };
}

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** The power level of a user. Without a power-levels event the creator has 100 and everyone else 0. */
export function userLevel(room: RoomView, userId: string): number {
  const pl = room.stateContent('m.room.power_levels', '');
  if (!pl) return userId === room.creator ? 100 : 0;
  return int(obj(pl['users'])[userId]) ?? int(pl['users_default']) ?? 0;
}

/** The level needed to send an event of this type. */
export function requiredLevel(room: RoomView, type: string, isState: boolean): number {
  const pl = room.stateContent('m.room.power_levels', '');
  if (!pl) return isState ? 50 : 0;
  const specific = int(obj(pl['events'])[type]);
  if (specific !== undefined) return specific;
  return isState ? (int(pl['state_default']) ?? 50) : (int(pl['events_default']) ?? 0);
}

function namedLevel(room: RoomView, name: 'invite' | 'kick' | 'ban' | 'redact'): number {
  const pl = room.stateContent('m.room.power_levels', '');
  return int(pl?.[name]) ?? (name === 'invite' ? 0 : 50);
}

const MEMBERSHIPS = new Set(['join', 'invite', 'leave', 'ban', 'knock']);
const forbid = (message: string): never => fail(403, 'M_FORBIDDEN', message);

function authoriseMember(room: RoomView, ev: ProposedEvent): void {
  const target = ev.stateKey ?? '';
  if (!/^@[^:]+:.+$/.test(target)) fail(400, 'M_BAD_JSON', 'm.room.member state key must be a user ID.');
  const membership = ev.content['membership'];
  if (typeof membership !== 'string' || !MEMBERSHIPS.has(membership)) fail(400, 'M_BAD_JSON', 'Invalid membership.');
  const current = room.membership(target);
  const senderMembership = room.membership(ev.sender);
  switch (membership) {
    case 'join': {
      if (ev.sender !== target) forbid('Cannot force another user to join.');
      if (current === 'ban') forbid('You are banned from this room.');
      if (current === 'join' || current === 'invite') return;
      if (room.stateContent('m.room.join_rules', '')?.['join_rule'] === 'public') return;
      // The creator's own first join, right after m.room.create.
      if (ev.sender === room.creator && current === undefined && !room.stateContent('m.room.join_rules', '')) return;
      return forbid('You are not invited to this room.');
    }
    case 'invite': {
      if (senderMembership !== 'join') forbid('You are not joined to this room.');
      if (current === 'join' || current === 'ban') forbid(`${target} is already ${current === 'join' ? 'in' : 'banned from'} the room.`);
      if (userLevel(room, ev.sender) < namedLevel(room, 'invite')) forbid('Insufficient power level to invite.');
      return;
    }
    case 'leave': {
      if (ev.sender === target) {
        if (current !== 'join' && current !== 'invite' && current !== 'knock') forbid('You are not in this room.');
        return;
      }
      if (senderMembership !== 'join') forbid('You are not joined to this room.');
      const needed = current === 'ban' ? namedLevel(room, 'ban') : namedLevel(room, 'kick');
      if (current !== 'ban' && current !== 'join' && current !== 'invite') forbid(`${target} is not in this room.`);
      if (userLevel(room, ev.sender) < needed || (current !== 'ban' && userLevel(room, ev.sender) <= userLevel(room, target))) {
        forbid('Insufficient power level.');
      }
      return;
    }
    case 'ban': {
      if (senderMembership !== 'join') forbid('You are not joined to this room.');
      if (userLevel(room, ev.sender) < namedLevel(room, 'ban') || userLevel(room, ev.sender) <= userLevel(room, target)) {
        forbid('Insufficient power level to ban.');
      }
      return;
    }
    default:
      return forbid('Knocking is not supported.');
  }
}

function authorisePowerLevels(room: RoomView, ev: ProposedEvent): void {
  const old = room.stateContent('m.room.power_levels', '');
  if (!old) return;
  const mine = userLevel(room, ev.sender);
  for (const key of ['users_default', 'events_default', 'state_default', 'ban', 'kick', 'redact', 'invite']) {
    const before = int(old[key]);
    const after = int(ev.content[key]);
    if (before !== after && ((before ?? 0) > mine || (after ?? 0) > mine)) forbid(`Cannot change '${key}' beyond your own level.`);
  }
  for (const map of ['users', 'events'] as const) {
    const before = obj(old[map]);
    const after = obj(ev.content[map]);
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const b = int(before[k]);
      const a = int(after[k]);
      if (b === a) continue;
      if ((b ?? 0) > mine || (a ?? 0) > mine) forbid(`Cannot change ${map}.${k} beyond your own level.`);
      if (map === 'users' && k !== ev.sender && (b ?? 0) >= mine) forbid(`Cannot change the level of ${k}.`);
    }
  }
}

/**
 * Throws 403 `M_FORBIDDEN` (or 400 for malformed membership) unless the event may be inserted now.
 * `redactedSender` is the sender of the event a redaction targets.
 */
export function authorise(room: RoomView, ev: ProposedEvent, redactedSender?: string): void {
  if (ev.type === 'm.room.create') forbid('m.room.create may only be sent at creation.');
  if (ev.type === 'm.room.member' && ev.stateKey !== undefined) {
    authoriseMember(room, ev);
    return;
  }
  if (room.membership(ev.sender) !== 'join') forbid(`${ev.sender} is not joined to this room.`);
  const isState = ev.stateKey !== undefined;
  const level = userLevel(room, ev.sender);
  if (level < requiredLevel(room, ev.type, isState)) {
    forbid(`Insufficient power level to send ${isState ? 'state' : 'event'} ${ev.type}.`);
  }
  // A state key starting with '@' belongs to that user, optionally followed by '_' and a suffix
  // (owned state keys, MSC3757, as MatrixRTC uses them); room admins (level 100) may set any.
  const key = ev.stateKey ?? '';
  if (isState && key.startsWith('@') && key !== ev.sender && !key.startsWith(`${ev.sender}_`) && level < 100) {
    forbid('State key belongs to another user.');
  }
  if (ev.type === 'm.room.power_levels' && isState) authorisePowerLevels(room, ev);
  if (ev.type === 'm.room.redaction' && redactedSender !== undefined && redactedSender !== ev.sender) {
    if (level < namedLevel(room, 'redact')) forbid("Insufficient power level to redact another user's event.");
  }
}

const KEEP_ON_REDACT: Record<string, readonly string[]> = {
  'm.room.member': ['membership', 'join_authorised_via_users_server'],
  'm.room.join_rules': ['join_rule', 'allow'],
  'm.room.power_levels': ['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default'],
  'm.room.history_visibility': ['history_visibility'],
  'm.room.redaction': ['redacts'],
};

/** Content left after redacting an event of this type. */
export function pruneContent(type: string, content: Json): Json {
  if (type === 'm.room.create') return content;
  const keep = KEEP_ON_REDACT[type] ?? [];
  const out: Json = {};
  for (const key of keep) if (key in content) out[key] = content[key];
  return out;
}
