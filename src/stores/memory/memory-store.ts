import type {
  AddOptions,
  AddResult,
  ClaimOptions,
  ClaimedDelayedEvent,
  DelayedEventStore,
  ListCursor,
  MutationResult,
  NewDelayedEvent,
  StateKeyFilter,
  StoredDelayedEvent,
} from '../store.js';
import type { DelayId } from '../../core/types.js';
import { DueIndex, type DueNode, type Lane } from './due-index.js';

/** A claim on an event being sent: its token, and the send time the event had when claimed. */
interface Claim {
  readonly token: string;
  readonly sendAtMs: number;
}

/**
 * One event as the memory store keeps it: the record, its claim and its place in the due index.
 * Fields are few on purpose (a million of these must stay small): `sendAtMs` is the due time of a
 * pending event or kept in its claim, `runningSinceMs` is `sendAtMs - delayMs`, and retry counts live
 * in a side map because almost every event has none.
 */
class Entry implements DueNode {
  dueAtMs: number;
  lane: Lane | undefined = undefined;
  prev: DueNode | undefined = undefined;
  next: DueNode | undefined = undefined;
  claim: Claim | undefined = undefined;
  userPrev: Entry | undefined = undefined;
  userNext: Entry | undefined = undefined;
  readonly delayId: DelayId;
  readonly userId: string;
  readonly deviceId: string | undefined;
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string | undefined;
  readonly contentJson: string;
  readonly delayMs: number;

  constructor(event: NewDelayedEvent, nowMs: number) {
    this.delayId = event.delayId;
    this.userId = event.userId;
    this.deviceId = event.deviceId;
    this.roomId = event.roomId;
    this.type = event.type;
    this.stateKey = event.stateKey;
    this.contentJson = event.contentJson;
    this.delayMs = event.delayMs;
    this.dueAtMs = nowMs + event.delayMs;
  }

  get sendAtMs(): number {
    return this.claim === undefined ? this.dueAtMs : this.claim.sendAtMs;
  }

  snapshot(attempts: number): StoredDelayedEvent {
    return {
      delayId: this.delayId,
      userId: this.userId,
      deviceId: this.deviceId,
      roomId: this.roomId,
      type: this.type,
      stateKey: this.stateKey,
      contentJson: this.contentJson,
      delayMs: this.delayMs,
      runningSinceMs: this.sendAtMs - this.delayMs,
      sendAtMs: this.sendAtMs,
      attempts,
    };
  }
}

/**
 * Entries grouped by a key. Most groups hold one entry (a MatrixRTC state key belongs to one device),
 * so a lone entry is stored as itself and a Set is made only for the second.
 */
class GroupIndex<K> {
  private readonly groups = new Map<K, Entry | Set<Entry>>();

  members(key: K): Iterable<Entry> {
    const group = this.groups.get(key);
    return group === undefined ? [] : group instanceof Set ? group : [group];
  }

  add(key: K, entry: Entry): void {
    const group = this.groups.get(key);
    if (group === undefined) this.groups.set(key, entry);
    else if (group instanceof Set) group.add(entry);
    else this.groups.set(key, new Set([group, entry]));
  }

  remove(key: K, entry: Entry): void {
    const group = this.groups.get(key);
    if (group === entry) this.groups.delete(key);
    else if (group instanceof Set) {
      group.delete(entry);
      if (group.size === 1) this.groups.set(key, group.values().next().value as Entry);
    }
  }
}

/** One user's events, as an intrusive list threaded through the entries (no per-event Set slot). */
interface UserEvents {
  head: Entry | undefined;
  count: number;
}

function* userMembers(group: UserEvents | undefined): Generator<Entry> {
  for (let entry = group?.head; entry !== undefined; entry = entry.userNext) yield entry;
}

/**
 * A 32-bit FNV-1a hash of (room, type, state key). Keying the state index by this number instead of a
 * concatenated string saves about a hundred bytes per delayed state event; members are compared
 * field by field, so collisions cost nothing but a skipped entry.
 */
function stateHash(roomId: string, type: string, stateKey: string): number {
  let hash = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    hash = Math.imul(hash ^ 0xffff, 0x01000193);
  };
  mix(roomId);
  mix(type);
  mix(stateKey);
  return hash | 0;
}

interface TxnRecord {
  readonly key: string;
  readonly delayId: DelayId;
  readonly expiresAtMs: number;
}

function compareListOrder(a: Entry, b: Entry): number {
  return a.sendAtMs - b.sendAtMs || (a.delayId < b.delayId ? -1 : a.delayId > b.delayId ? 1 : 0);
}

function isAfter(entry: Entry, cursor: ListCursor): boolean {
  return entry.sendAtMs > cursor.sendAtMs || (entry.sendAtMs === cursor.sendAtMs && entry.delayId > cursor.delayId);
}

/**
 * The in-memory {@link DelayedEventStore}: the embedded default, for a single process.
 *
 * @remarks
 * Events live in one due-time index (see the lane design in `due-index.ts`) plus maps by ID, by owner,
 * by (room, type, state key) and by transaction key. Schedule, restart, cancel and claim cost O(1)
 * amortised (O(log lanes) when the earliest event of a lane changes); there are no per-event timers.
 * Nothing survives the process: use the Redis store to keep the schedule across restarts.
 */
class MemoryStore implements DelayedEventStore {
  readonly capabilities = { sharedAcrossProcesses: false } as const;
  private readonly byId = new Map<DelayId, Entry>();
  private readonly byUser = new Map<string, UserEvents>();
  private readonly byStateKey = new GroupIndex<number>();
  private readonly due = new DueIndex();
  private readonly txns = new Map<string, TxnRecord>();
  private readonly retries = new Map<Entry, number>();
  // Every transaction record lives for the same TTL, so insertion order is expiry order.
  private txnQueue: TxnRecord[] = [];
  private txnQueueHead = 0;

  async add(event: NewDelayedEvent, options: AddOptions): Promise<AddResult> {
    this.expireTxns(options.nowMs);
    if (event.txnKey !== undefined) {
      const existing = this.txns.get(event.txnKey);
      if (existing !== undefined) {
        return { ok: true, delayId: existing.delayId, duplicate: true, nextDueAtMs: this.due.peek()?.dueAtMs };
      }
    }
    const owned = this.byUser.get(event.userId);
    if ((owned?.count ?? 0) >= options.maxPerUser) {
      return { ok: false, reason: 'max_outstanding', userNextSendAtMs: this.earliestSendAt(userMembers(owned)) };
    }
    const entry = new Entry(event, options.nowMs);
    this.byId.set(entry.delayId, entry);
    if (owned === undefined) this.byUser.set(entry.userId, { head: entry, count: 1 });
    else {
      entry.userNext = owned.head;
      if (owned.head) owned.head.userPrev = entry;
      owned.head = entry;
      owned.count++;
    }
    if (entry.stateKey !== undefined) this.byStateKey.add(stateHash(entry.roomId, entry.type, entry.stateKey), entry);
    if (event.txnKey !== undefined) {
      const record = { key: event.txnKey, delayId: entry.delayId, expiresAtMs: options.nowMs + options.txnTtlMs };
      this.txns.set(record.key, record);
      this.txnQueue.push(record);
    }
    this.due.insert(entry, entry.dueAtMs, options.nowMs);
    return { ok: true, delayId: entry.delayId, duplicate: false, nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async findTxn(txnKey: string, nowMs: number): Promise<DelayId | undefined> {
    const record = this.txns.get(txnKey);
    return record !== undefined && record.expiresAtMs > nowMs ? record.delayId : undefined;
  }

  async get(delayId: DelayId): Promise<StoredDelayedEvent | undefined> {
    const entry = this.byId.get(delayId);
    return entry === undefined ? undefined : this.snapshot(entry);
  }

  async listForUser(userId: string, options: { after?: ListCursor | undefined; limit: number }): Promise<StoredDelayedEvent[]> {
    if (options.limit <= 0) return [];
    const after = options.after;
    const pending: Entry[] = [];
    for (const entry of userMembers(this.byUser.get(userId))) {
      if (entry.claim === undefined && (after === undefined || isAfter(entry, after))) pending.push(entry);
    }
    pending.sort(compareListOrder);
    return pending.slice(0, options.limit).map((entry) => this.snapshot(entry));
  }

  async restart(delayId: DelayId, userId: string, nowMs: number): Promise<MutationResult<{ sendAtMs: number }>> {
    const entry = this.pendingOwnedBy(delayId, userId);
    if (entry === undefined) return { ok: false, reason: 'not_found' };
    this.due.remove(entry);
    this.due.insert(entry, nowMs + entry.delayMs, nowMs);
    return { ok: true, sendAtMs: entry.sendAtMs, nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async cancel(delayId: DelayId, userId: string): Promise<MutationResult<{ event: StoredDelayedEvent }>> {
    const entry = this.pendingOwnedBy(delayId, userId);
    if (entry === undefined) return { ok: false, reason: 'not_found' };
    const event = this.snapshot(entry);
    this.delete(entry);
    return { ok: true, event, nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async claim(delayId: DelayId, userId: string, options: ClaimOptions): Promise<MutationResult<{ event: ClaimedDelayedEvent }>> {
    const entry = this.pendingOwnedBy(delayId, userId);
    if (entry === undefined) return { ok: false, reason: 'not_found' };
    this.claimEntry(entry, options);
    return { ok: true, event: this.claimed(entry), nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async claimDue(options: ClaimOptions & { max: number }): Promise<ClaimedDelayedEvent[]> {
    const claimed: ClaimedDelayedEvent[] = [];
    while (claimed.length < options.max) {
      const head = this.due.peek() as Entry | undefined;
      if (head === undefined || head.dueAtMs > options.nowMs) break;
      this.claimEntry(head, options);
      claimed.push(this.claimed(head));
    }
    return claimed;
  }

  async reschedule(
    delayId: DelayId,
    claimToken: string,
    options: { sendAtMs: number; attempts: number; nowMs: number },
  ): Promise<MutationResult> {
    const entry = this.byId.get(delayId);
    if (entry === undefined || entry.claim?.token !== claimToken) return { ok: false, reason: 'not_found' };
    this.due.remove(entry);
    entry.claim = undefined;
    if (options.attempts > 0) this.retries.set(entry, options.attempts);
    else this.retries.delete(entry);
    this.due.insert(entry, options.sendAtMs, options.nowMs);
    return { ok: true, nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async finalise(delayId: DelayId, claimToken: string): Promise<MutationResult> {
    const entry = this.byId.get(delayId);
    if (entry === undefined || entry.claim?.token !== claimToken) return { ok: false, reason: 'not_found' };
    this.delete(entry);
    return { ok: true, nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async cancelByStateKey(filter: StateKeyFilter): Promise<{ cancelled: StoredDelayedEvent[]; nextDueAtMs: number | undefined }> {
    const cancelled: StoredDelayedEvent[] = [];
    for (const entry of [...this.byStateKey.members(stateHash(filter.roomId, filter.type, filter.stateKey))]) {
      if (entry.claim !== undefined || entry.userId === filter.keepUserId) continue;
      if (entry.stateKey !== filter.stateKey || entry.type !== filter.type || entry.roomId !== filter.roomId) continue;
      cancelled.push(this.snapshot(entry));
      this.delete(entry);
    }
    return { cancelled, nextDueAtMs: this.due.peek()?.dueAtMs };
  }

  async nextDueAtMs(): Promise<number | undefined> {
    return this.due.peek()?.dueAtMs;
  }

  private pendingOwnedBy(delayId: DelayId, userId: string): Entry | undefined {
    const entry = this.byId.get(delayId);
    return entry !== undefined && entry.userId === userId && entry.claim === undefined ? entry : undefined;
  }

  private claimEntry(entry: Entry, options: ClaimOptions): void {
    this.due.remove(entry);
    entry.claim = { token: options.claimToken, sendAtMs: entry.sendAtMs };
    this.due.insert(entry, options.nowMs + options.leaseMs, options.nowMs);
  }

  private snapshot(entry: Entry): StoredDelayedEvent {
    return entry.snapshot(this.retries.get(entry) ?? 0);
  }

  // Built in one literal (not a snapshot spread into another object): storms claim thousands at once.
  private claimed(entry: Entry): ClaimedDelayedEvent {
    const claim = entry.claim as Claim;
    return {
      delayId: entry.delayId,
      userId: entry.userId,
      deviceId: entry.deviceId,
      roomId: entry.roomId,
      type: entry.type,
      stateKey: entry.stateKey,
      contentJson: entry.contentJson,
      delayMs: entry.delayMs,
      runningSinceMs: claim.sendAtMs - entry.delayMs,
      sendAtMs: claim.sendAtMs,
      attempts: this.retries.size === 0 ? 0 : (this.retries.get(entry) ?? 0),
      claimToken: claim.token,
      leaseUntilMs: entry.dueAtMs,
    };
  }

  private earliestSendAt(entries: Iterable<Entry>): number | undefined {
    let earliest: number | undefined;
    for (const entry of entries) if (earliest === undefined || entry.sendAtMs < earliest) earliest = entry.sendAtMs;
    return earliest;
  }

  private delete(entry: Entry): void {
    this.due.remove(entry);
    this.retries.delete(entry);
    this.byId.delete(entry.delayId);
    const owned = this.byUser.get(entry.userId);
    if (owned !== undefined) {
      if (entry.userPrev) entry.userPrev.userNext = entry.userNext;
      else owned.head = entry.userNext;
      if (entry.userNext) entry.userNext.userPrev = entry.userPrev;
      entry.userPrev = entry.userNext = undefined;
      if (--owned.count === 0) this.byUser.delete(entry.userId);
    }
    if (entry.stateKey !== undefined) this.byStateKey.remove(stateHash(entry.roomId, entry.type, entry.stateKey), entry);
  }

  private expireTxns(nowMs: number): void {
    const queue = this.txnQueue;
    while (this.txnQueueHead < queue.length) {
      const record = queue[this.txnQueueHead] as TxnRecord;
      if (record.expiresAtMs > nowMs) break;
      if (this.txns.get(record.key) === record) this.txns.delete(record.key);
      this.txnQueueHead++;
    }
    // Compact now and then so the queue does not grow without bound.
    if (this.txnQueueHead > 1024 && this.txnQueueHead * 2 > queue.length) {
      this.txnQueue = queue.slice(this.txnQueueHead);
      this.txnQueueHead = 0;
    }
  }
}

/**
 * Creates the in-memory store, the embedded default for a single process.
 *
 * @example
 * ```ts
 * const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), sendEvent });
 * ```
 */
export function createMemoryStore(): DelayedEventStore {
  return new MemoryStore();
}
