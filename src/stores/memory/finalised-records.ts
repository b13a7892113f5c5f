/**
 * Finalised events kept for lookup by the memory store: per user, oldest first, at most `maxPerUser`
 * each and none older than `maxAgeMs`. Pruned inside calls, never by a timer per event.
 */
import type { FinalisedDelayedEvent, RetentionOptions } from '../../core/store.js';
import type { DelayId } from '../../core/types.js';

/** One user's retained records in finalisation order, with the index of the oldest still kept. */
interface UserRecords {
  records: FinalisedDelayedEvent[];
  head: number;
}

/** How many other users each `retain` call checks for records past their age. */
const SWEEP_PER_CALL = 4;

/** @internal */
export class FinalisedRecords {
  private readonly byId = new Map<DelayId, FinalisedDelayedEvent>();
  private readonly byUser = new Map<string, UserRecords>();
  /** Walks all users a few at a time, so users who are never touched again are aged out too. */
  private sweep: Iterator<[string, UserRecords]> = this.byUser.entries();

  /** Number of records held. */
  get size(): number {
    return this.byId.size;
  }

  retain(events: readonly FinalisedDelayedEvent[], options: RetentionOptions): void {
    const oldestKept = options.nowMs - options.maxAgeMs;
    for (const record of events) {
      let user = this.byUser.get(record.userId);
      if (user === undefined) {
        user = { records: [], head: 0 };
        this.byUser.set(record.userId, user);
      }
      const earlier = this.byId.get(record.delayId);
      if (earlier !== undefined) this.forget(earlier);
      user.records.push(record);
      this.byId.set(record.delayId, record);
      while (user.records.length - user.head > options.maxPerUser) this.dropOldest(record.userId, user);
      this.prune(record.userId, user, oldestKept);
    }
    for (let i = 0; i < SWEEP_PER_CALL; i++) {
      let next = this.sweep.next();
      if (next.done === true) {
        this.sweep = this.byUser.entries();
        next = this.sweep.next();
        if (next.done === true) break;
      }
      const [userId, user] = next.value;
      this.prune(userId, user, oldestKept);
    }
  }

  get(delayId: DelayId, userId: string, nowMs: number, maxAgeMs: number): FinalisedDelayedEvent | undefined {
    const record = this.byId.get(delayId);
    if (record === undefined || record.userId !== userId || record.finalisedAtMs < nowMs - maxAgeMs) return undefined;
    return record;
  }

  /** Drops the user's records finalised before `oldestKept`. */
  private prune(userId: string, user: UserRecords, oldestKept: number): void {
    while (user.head < user.records.length && (user.records[user.head] as FinalisedDelayedEvent).finalisedAtMs < oldestKept) {
      this.dropOldest(userId, user);
    }
  }

  private dropOldest(userId: string, user: UserRecords): void {
    const record = user.records[user.head] as FinalisedDelayedEvent;
    user.records[user.head] = undefined as unknown as FinalisedDelayedEvent;
    user.head++;
    if (this.byId.get(record.delayId) === record) this.byId.delete(record.delayId);
    if (user.head === user.records.length) this.byUser.delete(userId);
    else if (user.head > 64 && user.head * 2 > user.records.length) {
      // Compact now and then, so a long-lived user's array does not grow without bound.
      user.records = user.records.slice(user.head);
      user.head = 0;
    }
  }

  /** Removes a record that is being replaced (the same delay ID finalised again). */
  private forget(record: FinalisedDelayedEvent): void {
    this.byId.delete(record.delayId);
    const user = this.byUser.get(record.userId);
    if (user === undefined) return;
    const index = user.records.indexOf(record, user.head);
    if (index >= 0) user.records.splice(index, 1);
    if (user.head === user.records.length) this.byUser.delete(record.userId);
  }
}
