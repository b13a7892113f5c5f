import type {
  AddOptions,
  AddResult,
  CancelByStateKeyResult,
  ClaimOptions,
  ClaimedDelayedEvent,
  DelayedEventStore,
  EventOutcome,
  FinalisedDelayedEvent,
  ListCursor,
  MutationResult,
  NewDelayedEvent,
  RestartOutcome,
  RetentionOptions,
  StateKeyFilter,
  StoredDelayedEvent,
  StoreStats,
} from '../../core/store.js';
import type { DelayId } from '../../core/types.js';
import { DueIndex } from './due-index.js';
import { EventSlots, NONE } from './event-slots.js';
import { FinalisedRecords } from './finalised-records.js';
import { hashString, SlotHashTable } from './slot-hash-table.js';

/** One user's events: the head of a list threaded through the slots, and its length (for the cap). */
interface UserEvents {
  head: number;
  count: number;
}

interface TxnRecord {
  readonly key: string;
  readonly delayId: DelayId;
  readonly expiresAtMs: number;
}

/**
 * A 32-bit FNV-1a hash of (room, type, state key). Keying the state index by this number instead of a
 * concatenated string saves about a hundred bytes per delayed state event; chain members are compared
 * field by field, so a collision costs nothing but a skipped slot.
 */
function stateHash(roomId: string, type: string, stateKey: string): number {
  // The separators keep ("ab", "c") and ("a", "bc") apart.
  return hashString(`${roomId}\u0000${type}\u0000${stateKey}`);
}

const NOT_FOUND = { ok: false, reason: 'not_found' } as const;

/**
 * The in-memory {@link DelayedEventStore}: the embedded default, for a single process.
 *
 * @remarks
 * Each event is a slot in column storage (`event-slots.ts`), ordered by one due-time index of lanes
 * (`due-index.ts`), with maps by ID, by owner (a list through the slots) and by (room, type, state key)
 * hash (a chain through the slots), plus transaction records. Schedule, restart, cancel and claim cost
 * O(1) amortised (O(log lanes) when the earliest event of a lane changes); there are no per-event
 * timers and no per-event objects. Nothing survives the process: use the Redis store for that.
 */
class MemoryStore implements DelayedEventStore {
  readonly capabilities = { sharedAcrossProcesses: false } as const;
  private readonly slots = new EventSlots();
  private readonly due = new DueIndex(this.slots);
  private readonly byId = new SlotHashTable<DelayId>(
    hashString,
    (slot) => hashString(this.slots.delayId[slot] as string),
    (slot, delayId) => this.slots.delayId[slot] === delayId,
  );
  private readonly byUser = new Map<string, UserEvents>();
  /** Head of each (room, type, state key) hash's chain. */
  private readonly byStateHash = new SlotHashTable<number>(
    (hash) => hash,
    (slot) => this.slots.stateHash[slot] as number,
    (slot, hash) => this.slots.stateHash[slot] === hash,
  );
  private readonly txns = new Map<string, TxnRecord>();
  // Every transaction record lives for the same TTL, so insertion order is expiry order.
  private txnQueue: TxnRecord[] = [];
  private txnQueueHead = 0;
  private readonly finalised = new FinalisedRecords();
  /** Outstanding (pending or claimed) events, for {@link MemoryStore.stats}. */
  private outstanding = 0;

  async add(event: NewDelayedEvent, options: AddOptions): Promise<AddResult> {
    this.expireTxns(options.nowMs);
    if (event.txnKey !== undefined) {
      const existing = this.txns.get(event.txnKey);
      if (existing !== undefined) return { ok: true, delayId: existing.delayId, duplicate: true, nextDueAtMs: this.due.peekDueAtMs() };
    }
    const owned = this.byUser.get(event.userId);
    if ((owned?.count ?? 0) >= options.maxPerUser) {
      return { ok: false, reason: 'max_outstanding', userNextSendAtMs: this.earliestSendAt(owned) };
    }
    const s = this.slots;
    const slot = s.allocate();
    this.outstanding++;
    s.delayId[slot] = event.delayId;
    s.userId[slot] = event.userId;
    s.deviceId[slot] = event.deviceId;
    s.roomId[slot] = event.roomId;
    s.type[slot] = event.type;
    s.stateKey[slot] = event.stateKey;
    s.content[slot] = event.contentJson;
    s.claim[slot] = undefined;
    s.delay[slot] = event.delayMs;
    s.send[slot] = options.nowMs + event.delayMs;
    s.attempts[slot] = 0;
    this.byId.set(event.delayId, slot);
    s.userPrev[slot] = NONE;
    if (owned === undefined) {
      s.userNext[slot] = NONE;
      this.byUser.set(event.userId, { head: slot, count: 1 });
    } else {
      s.userNext[slot] = owned.head;
      s.userPrev[owned.head] = slot;
      owned.head = slot;
      owned.count++;
    }
    if (event.stateKey !== undefined) this.linkState(slot, stateHash(event.roomId, event.type, event.stateKey));
    if (event.txnKey !== undefined) {
      const record = { key: event.txnKey, delayId: event.delayId, expiresAtMs: options.nowMs + options.txnTtlMs };
      this.txns.set(record.key, record);
      this.txnQueue.push(record);
    }
    this.due.insert(slot, s.send[slot] as number, options.nowMs);
    return { ok: true, delayId: event.delayId, duplicate: false, nextDueAtMs: this.due.peekDueAtMs() };
  }

  async findTxn(txnKey: string, nowMs: number): Promise<DelayId | undefined> {
    const record = this.txns.get(txnKey);
    return record !== undefined && record.expiresAtMs > nowMs ? record.delayId : undefined;
  }

  async get(delayId: DelayId): Promise<StoredDelayedEvent | undefined> {
    const slot = this.byId.get(delayId);
    return slot === NONE ? undefined : this.snapshot(slot);
  }

  async listForUser(userId: string, options: { after?: ListCursor | undefined; limit: number }): Promise<StoredDelayedEvent[]> {
    if (options.limit <= 0) return [];
    const s = this.slots;
    const after = options.after;
    const pending: number[] = [];
    for (let slot = this.byUser.get(userId)?.head ?? NONE; slot !== NONE; slot = s.userNext[slot] as number) {
      if (s.claim[slot] !== undefined) continue;
      const sendAtMs = s.send[slot] as number;
      const id = s.delayId[slot] as string;
      if (after === undefined || sendAtMs > after.sendAtMs || (sendAtMs === after.sendAtMs && id > after.delayId)) pending.push(slot);
    }
    pending.sort((a, b) => {
      const byTime = (s.send[a] as number) - (s.send[b] as number);
      if (byTime !== 0) return byTime;
      const idA = s.delayId[a] as string;
      const idB = s.delayId[b] as string;
      return idA < idB ? -1 : idA > idB ? 1 : 0;
    });
    return pending.slice(0, options.limit).map((slot) => this.snapshot(slot));
  }

  async restart(delayId: DelayId, userId: string, nowMs: number): Promise<MutationResult<RestartOutcome>> {
    const slot = this.pendingOwnedBy(delayId, userId);
    if (slot === NONE) return NOT_FOUND;
    const sendAtMs = nowMs + (this.slots.delay[slot] as number);
    this.slots.send[slot] = sendAtMs;
    this.due.remove(slot);
    this.due.insert(slot, sendAtMs, nowMs);
    return { ok: true, sendAtMs, nextDueAtMs: this.due.peekDueAtMs() };
  }

  async cancel(delayId: DelayId, userId: string): Promise<MutationResult<EventOutcome>> {
    const slot = this.pendingOwnedBy(delayId, userId);
    if (slot === NONE) return NOT_FOUND;
    const event = this.snapshot(slot);
    this.delete(slot);
    return { ok: true, event, nextDueAtMs: this.due.peekDueAtMs() };
  }

  async claim(delayId: DelayId, userId: string, options: ClaimOptions): Promise<MutationResult<EventOutcome<ClaimedDelayedEvent>>> {
    const slot = this.pendingOwnedBy(delayId, userId);
    if (slot === NONE) return NOT_FOUND;
    this.claimSlot(slot, options);
    return { ok: true, event: this.claimed(slot), nextDueAtMs: this.due.peekDueAtMs() };
  }

  async claimDue(options: ClaimOptions & { max: number }): Promise<ClaimedDelayedEvent[]> {
    const claimed: ClaimedDelayedEvent[] = [];
    while (claimed.length < options.max) {
      const head = this.due.peek();
      if (head === NONE || (this.slots.due[head] as number) > options.nowMs) break;
      this.claimSlot(head, options);
      claimed.push(this.claimed(head));
    }
    return claimed;
  }

  async reschedule(delayId: DelayId, claimToken: string, options: { sendAtMs: number; attempts: number; nowMs: number }): Promise<MutationResult> {
    const slot = this.claimedBy(delayId, claimToken);
    if (slot === NONE) return NOT_FOUND;
    const s = this.slots;
    s.claim[slot] = undefined;
    s.attempts[slot] = options.attempts;
    s.send[slot] = options.sendAtMs;
    this.due.remove(slot);
    this.due.insert(slot, options.sendAtMs, options.nowMs);
    return { ok: true, nextDueAtMs: this.due.peekDueAtMs() };
  }

  async finalise(delayId: DelayId, claimToken: string): Promise<MutationResult> {
    const slot = this.claimedBy(delayId, claimToken);
    if (slot === NONE) return NOT_FOUND;
    this.delete(slot);
    return { ok: true, nextDueAtMs: this.due.peekDueAtMs() };
  }

  async finaliseMany(events: readonly ClaimedDelayedEvent[]): Promise<MutationResult[]> {
    const finalised: boolean[] = [];
    for (const event of events) {
      const slot = this.claimedBy(event.delayId, event.claimToken);
      if (slot !== NONE) this.delete(slot);
      finalised.push(slot !== NONE);
    }
    // Every item sees the earliest due time after the whole batch, as with one call to a shared store.
    const done = { ok: true, nextDueAtMs: this.due.peekDueAtMs() } as const;
    return finalised.map((ok) => (ok ? done : NOT_FOUND));
  }

  async release(events: readonly ClaimedDelayedEvent[], nowMs: number): Promise<MutationResult[]> {
    const s = this.slots;
    const released: boolean[] = [];
    for (const event of events) {
      const slot = this.claimedBy(event.delayId, event.claimToken);
      if (slot !== NONE) {
        s.claim[slot] = undefined;
        this.due.remove(slot);
        this.due.insert(slot, s.send[slot] as number, nowMs);
      }
      released.push(slot !== NONE);
    }
    const done = { ok: true, nextDueAtMs: this.due.peekDueAtMs() } as const;
    return released.map((ok) => (ok ? done : NOT_FOUND));
  }

  async cancelByStateKey(filter: StateKeyFilter): Promise<CancelByStateKeyResult> {
    const s = this.slots;
    const cancelled: StoredDelayedEvent[] = [];
    let slot = this.byStateHash.get(stateHash(filter.roomId, filter.type, filter.stateKey));
    while (slot !== NONE) {
      const following = s.stateNext[slot] as number;
      const matches =
        s.claim[slot] === undefined &&
        s.userId[slot] !== filter.keepUserId &&
        s.stateKey[slot] === filter.stateKey &&
        s.type[slot] === filter.type &&
        s.roomId[slot] === filter.roomId;
      if (matches) {
        cancelled.push(this.snapshot(slot));
        this.delete(slot);
      }
      slot = following;
    }
    return { cancelled, nextDueAtMs: this.due.peekDueAtMs() };
  }

  async retain(events: readonly FinalisedDelayedEvent[], options: RetentionOptions): Promise<void> {
    this.finalised.retain(events, options);
  }

  async getFinalised(delayId: DelayId, userId: string, options: { nowMs: number; maxAgeMs: number }): Promise<FinalisedDelayedEvent | undefined> {
    return this.finalised.get(delayId, userId, options.nowMs, options.maxAgeMs);
  }

  async nextDueAtMs(): Promise<number | undefined> {
    return this.due.peekDueAtMs();
  }

  async stats(): Promise<StoreStats> {
    return { outstanding: this.outstanding, nextDueAtMs: this.due.peekDueAtMs() };
  }

  private pendingOwnedBy(delayId: DelayId, userId: string): number {
    const slot = this.byId.get(delayId);
    if (slot === NONE || this.slots.userId[slot] !== userId || this.slots.claim[slot] !== undefined) return NONE;
    return slot;
  }

  private claimedBy(delayId: DelayId, claimToken: string): number {
    const slot = this.byId.get(delayId);
    return slot !== NONE && this.slots.claim[slot] === claimToken ? slot : NONE;
  }

  private claimSlot(slot: number, options: ClaimOptions): void {
    this.slots.claim[slot] = options.claimToken;
    this.due.remove(slot);
    this.due.insert(slot, options.nowMs + options.leaseMs, options.nowMs);
  }

  private snapshot(slot: number): StoredDelayedEvent {
    const s = this.slots;
    const sendAtMs = s.send[slot] as number;
    const delayMs = s.delay[slot] as number;
    return {
      delayId: s.delayId[slot] as string,
      userId: s.userId[slot] as string,
      deviceId: s.deviceId[slot],
      roomId: s.roomId[slot] as string,
      type: s.type[slot] as string,
      stateKey: s.stateKey[slot],
      contentJson: s.content[slot] as string,
      delayMs,
      runningSinceMs: sendAtMs - delayMs,
      sendAtMs,
      attempts: s.attempts[slot] as number,
    };
  }

  // Deliberately one literal, not the snapshot spread into another object: storms claim thousands at
  // once, and a spread per event is a large share of a storm's drain (see bench/NOTES.md).
  private claimed(slot: number): ClaimedDelayedEvent {
    const s = this.slots;
    const sendAtMs = s.send[slot] as number;
    const delayMs = s.delay[slot] as number;
    return {
      delayId: s.delayId[slot] as string,
      userId: s.userId[slot] as string,
      deviceId: s.deviceId[slot],
      roomId: s.roomId[slot] as string,
      type: s.type[slot] as string,
      stateKey: s.stateKey[slot],
      contentJson: s.content[slot] as string,
      delayMs,
      runningSinceMs: sendAtMs - delayMs,
      sendAtMs,
      attempts: s.attempts[slot] as number,
      claimToken: s.claim[slot] as string,
      leaseUntilMs: s.due[slot] as number,
    };
  }

  private earliestSendAt(owned: UserEvents | undefined): number | undefined {
    const s = this.slots;
    let earliest: number | undefined;
    for (let slot = owned?.head ?? NONE; slot !== NONE; slot = s.userNext[slot] as number) {
      const sendAtMs = s.send[slot] as number;
      if (earliest === undefined || sendAtMs < earliest) earliest = sendAtMs;
    }
    return earliest;
  }

  private linkState(slot: number, hash: number): void {
    const s = this.slots;
    const head = this.byStateHash.get(hash);
    s.stateHash[slot] = hash;
    s.statePrev[slot] = NONE;
    s.stateNext[slot] = head;
    if (head !== NONE) s.statePrev[head] = slot;
    this.byStateHash.set(hash, slot);
  }

  private delete(slot: number): void {
    const s = this.slots;
    this.due.remove(slot);
    this.byId.delete(s.delayId[slot] as string);
    const userId = s.userId[slot] as string;
    const owned = this.byUser.get(userId);
    if (owned !== undefined) {
      const before = s.userPrev[slot] as number;
      const after = s.userNext[slot] as number;
      if (before !== NONE) s.userNext[before] = after;
      else owned.head = after;
      if (after !== NONE) s.userPrev[after] = before;
      if (--owned.count === 0) this.byUser.delete(userId);
    }
    const stateKey = s.stateKey[slot];
    if (stateKey !== undefined) {
      const before = s.statePrev[slot] as number;
      const after = s.stateNext[slot] as number;
      if (after !== NONE) s.statePrev[after] = before;
      if (before !== NONE) s.stateNext[before] = after;
      else if (after === NONE) this.byStateHash.delete(s.stateHash[slot] as number);
      else this.byStateHash.set(s.stateHash[slot] as number, after);
    }
    s.free(slot);
    this.outstanding--;
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
