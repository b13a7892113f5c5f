/**
 * EXAMPLE HOMESERVER — rooms, their timelines and current state, in memory.
 *
 * Every event, immediate or delayed, goes through {@link RoomService.insert}: it authorises the event
 * against the room as it is at that moment (membership and power levels), appends it, applies it to the
 * state, and reports persisted state events to `onStateEvent` (the delayed-events scheduler's hook).
 */
import { randomBytes } from 'node:crypto';
import type { Json } from './http-util.js';
import { fail } from './http-util.js';
import type { RoomView } from './power-levels.js';
import { authorise, pruneContent } from './power-levels.js';
import { delayIdUnsigned } from 'matrix-delayed-events';

/** A room event as stored. */
export interface RoomEvent {
  readonly event_id: string;
  readonly room_id: string;
  readonly sender: string;
  readonly type: string;
  readonly state_key?: string;
  content: Json;
  readonly origin_server_ts: number;
  readonly redacts?: string;
  /** Position in the server-wide stream (sync and pagination tokens are built from it). */
  readonly pos: number;
  /** Sender's transaction, echoed as `unsigned.transaction_id` to the sending device. */
  readonly txn?: { readonly deviceId: string; readonly txnId: string };
  /** For a delayed event: the delay ID it was sent under (shown to its sender in `unsigned`). */
  readonly delayId?: string;
  readonly prevContent?: Json;
  readonly replacesState?: string;
  redactedBecause?: RoomEvent;
}

/** What {@link RoomService.insert} takes. */
export interface NewEvent {
  readonly roomId: string;
  readonly sender: string;
  readonly type: string;
  readonly stateKey?: string | undefined;
  readonly content: Json;
  /** Defaults to now; delayed events pass their scheduled send time. */
  readonly originServerTs?: number;
  readonly txn?: { readonly deviceId: string; readonly txnId: string };
  /** For a delayed event: its delay ID. */
  readonly delayId?: string;
}

/** Reported for every persisted state event. */
export interface StateEventInfo {
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string;
  readonly sender: string;
}

const MAX_EVENT_BYTES = 65_536;

/** One room. */
export class Room implements RoomView {
  readonly events: RoomEvent[] = [];
  readonly state = new Map<string, RoomEvent>();
  readonly creator: string;

  constructor(
    readonly id: string,
    creator: string,
    readonly version: string,
  ) {
    this.creator = creator;
  }

  static key(type: string, stateKey: string): string {
    return `${type}\u0000${stateKey}`;
  }

  stateEvent(type: string, stateKey: string): RoomEvent | undefined {
    return this.state.get(Room.key(type, stateKey));
  }

  stateContent(type: string, stateKey: string): Json | undefined {
    return this.stateEvent(type, stateKey)?.content;
  }

  membership(userId: string): string | undefined {
    const m = this.stateContent('m.room.member', userId)?.['membership'];
    return typeof m === 'string' ? m : undefined;
  }

  /** Current state as of stream position `pos` (inclusive). */
  stateAt(pos: number): RoomEvent[] {
    const out = new Map<string, RoomEvent>();
    for (const ev of this.events) {
      if (ev.pos > pos) break;
      if (ev.state_key !== undefined) out.set(Room.key(ev.type, ev.state_key), ev);
    }
    return [...out.values()];
  }

  joinedMembers(): string[] {
    return [...this.state.values()]
      .filter((e) => e.type === 'm.room.member' && e.content['membership'] === 'join')
      .map((e) => e.state_key as string);
  }
}

/** All rooms of the server. */
export class RoomService {
  readonly rooms = new Map<string, Room>();
  readonly aliases = new Map<string, string>();
  /** Rooms in which a user has (had) any membership. */
  private readonly userRooms = new Map<string, Set<string>>();
  private readonly eventsById = new Map<string, RoomEvent>();
  private streamPos = 0;
  private readonly waiters = new Set<() => void>();
  private closed = false;
  /** Show a delayed event's `delay_id` to its sender in `unsigned` (the 2026 revision does). */
  showDelayIds = false;

  private onStateEvent: (info: StateEventInfo) => Promise<unknown> = async () => undefined;

  /** @param serverName - Server part of room and event IDs. */
  constructor(readonly serverName: string) {}

  /** Sets what is called (and awaited) after each state event is persisted. */
  setStateListener(listener: (info: StateEventInfo) => Promise<unknown>): void {
    this.onStateEvent = listener;
  }

  /** Lets long-polls wait again after {@link RoomService.shutdown} (a restart on the same rooms). */
  reopen(): void {
    this.closed = false;
  }

  /** Latest stream position. */
  get position(): number {
    return this.streamPos;
  }

  newRoomId(): string {
    return `!${randomBytes(12).toString('base64url')}:${this.serverName}`;
  }

  getRoom(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) fail(404, 'M_NOT_FOUND', 'Unknown room.');
    return room;
  }

  getEvent(eventId: string): RoomEvent | undefined {
    return this.eventsById.get(eventId);
  }

  roomsOf(userId: string): Room[] {
    return [...(this.userRooms.get(userId) ?? [])].map((id) => this.rooms.get(id)).filter((r): r is Room => r !== undefined);
  }

  /** Registers a new, empty room and inserts its `m.room.create` event (reported like any state event). */
  async createRoom(roomId: string, creator: string, version: string, creationContent: Json): Promise<Room> {
    const room = new Room(roomId, creator, version);
    this.rooms.set(roomId, room);
    this.append(room, {
      roomId,
      sender: creator,
      type: 'm.room.create',
      stateKey: '',
      content: { ...creationContent, creator, room_version: version },
    });
    await this.onStateEvent({ roomId, type: 'm.room.create', stateKey: '', sender: creator });
    return room;
  }

  /**
   * Authorises and inserts one event, then reports it to `onStateEvent` if it is a state event.
   * Throws a Matrix error (403 `M_FORBIDDEN`, 404 `M_NOT_FOUND`, 413 `M_TOO_LARGE`, …) when refused.
   */
  async insert(ev: NewEvent): Promise<RoomEvent> {
    const room = this.getRoom(ev.roomId);
    const size = Buffer.byteLength(JSON.stringify(ev.content));
    if (size > MAX_EVENT_BYTES) fail(413, 'M_TOO_LARGE', 'Event too large.');
    let redactedSender: string | undefined;
    if (ev.type === 'm.room.redaction') {
      const target = ev.content['redacts'];
      if (typeof target !== 'string') fail(400, 'M_BAD_JSON', 'Redaction without a redacts field.');
      const victim = this.eventsById.get(target);
      if (!victim || victim.room_id !== room.id) fail(404, 'M_NOT_FOUND', 'Event to redact not found in this room.');
      redactedSender = victim.sender;
    }
    authorise(room, { sender: ev.sender, type: ev.type, stateKey: ev.stateKey, content: ev.content }, redactedSender);
    const stored = this.append(room, ev);
    if (stored.state_key !== undefined) {
      await this.onStateEvent({ roomId: room.id, type: stored.type, stateKey: stored.state_key, sender: stored.sender });
    }
    return stored;
  }

  /** Appends without authorisation (room creation). Synchronous, so check-then-append is atomic. */
  private append(room: Room, ev: NewEvent): RoomEvent {
    const pos = ++this.streamPos;
    const previous = ev.stateKey === undefined ? undefined : room.stateEvent(ev.type, ev.stateKey);
    const redacts = ev.type === 'm.room.redaction' ? (ev.content['redacts'] as string) : undefined;
    const stored: RoomEvent = {
      event_id: `$${randomBytes(18).toString('base64url')}`,
      room_id: room.id,
      sender: ev.sender,
      type: ev.type,
      ...(ev.stateKey !== undefined ? { state_key: ev.stateKey } : {}),
      content: structuredClone(ev.content),
      origin_server_ts: ev.originServerTs ?? Date.now(),
      ...(redacts !== undefined ? { redacts } : {}),
      pos,
      ...(ev.txn ? { txn: ev.txn } : {}),
      ...(ev.delayId !== undefined ? { delayId: ev.delayId } : {}),
      ...(previous ? { prevContent: previous.content, replacesState: previous.event_id } : {}),
    };
    room.events.push(stored);
    this.eventsById.set(stored.event_id, stored);
    if (stored.state_key !== undefined) {
      room.state.set(Room.key(stored.type, stored.state_key), stored);
      if (stored.type === 'm.room.member') {
        let set = this.userRooms.get(stored.state_key);
        if (!set) this.userRooms.set(stored.state_key, (set = new Set()));
        set.add(room.id);
      }
    }
    if (redacts !== undefined) {
      const victim = this.eventsById.get(redacts);
      if (victim && !victim.redactedBecause) {
        victim.content = pruneContent(victim.type, victim.content);
        victim.redactedBecause = stored;
      }
    }
    for (const wake of [...this.waiters]) wake();
    return stored;
  }

  /**
   * Resolves when the stream moves past `pos`, after `timeoutMs`, or when `signal` aborts.
   */
  waitForChange(pos: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.streamPos > pos || timeoutMs <= 0 || signal.aborted || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal.addEventListener('abort', done);
    });
  }

  /** True once {@link RoomService.shutdown} was called. */
  get isShutDown(): boolean {
    return this.closed;
  }

  /** Ends every long-poll now and makes later ones return at once (server shutdown). */
  shutdown(): void {
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
  }

  /** The event as a client sees it. */
  serialise(ev: RoomEvent, viewer?: { userId: string; deviceId: string }, now = Date.now()): Json {
    const unsigned: Json = { age: Math.max(0, now - ev.origin_server_ts) };
    if (ev.txn && viewer && viewer.userId === ev.sender && viewer.deviceId === ev.txn.deviceId) unsigned['transaction_id'] = ev.txn.txnId;
    if (ev.prevContent) {
      unsigned['prev_content'] = ev.prevContent;
      unsigned['replaces_state'] = ev.replacesState;
    }
    if (ev.redactedBecause) unsigned['redacted_because'] = this.serialise(ev.redactedBecause, undefined, now);
    if (this.showDelayIds && viewer) Object.assign(unsigned, delayIdUnsigned({ sender: ev.sender, delayId: ev.delayId }, viewer.userId));
    return {
      event_id: ev.event_id,
      room_id: ev.room_id,
      sender: ev.sender,
      type: ev.type,
      ...(ev.state_key !== undefined ? { state_key: ev.state_key } : {}),
      content: ev.content,
      origin_server_ts: ev.origin_server_ts,
      ...(ev.redacts !== undefined ? { redacts: ev.redacts } : {}),
      unsigned,
    };
  }
}
