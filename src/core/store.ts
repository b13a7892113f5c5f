/**
 * The storage contract every delayed-event store fulfils. The scheduler holds no state of its own
 * beyond one timer: the store owns the schedule and every atomic step of it.
 *
 * @remarks
 * Rules for implementers (the conformance suite in `matrix-delayed-events/testing/conformance` checks them):
 * - Stores know nothing about HTTP, Matrix error codes or rate limits. Expected outcomes are union results; only
 *   real faults throw (the scheduler wraps them in `StoreUnavailableError`).
 * - The store never reads the clock: every operation that needs the time takes `nowMs`.
 * - Each method is atomic: count-and-insert in {@link DelayedEventStore.add}, claim in
 *   {@link DelayedEventStore.claimDue} (two concurrent claimers never get the same event while its
 *   lease runs), and so on.
 * - A *pending* event waits for `sendAtMs`. A *claimed* event is being sent by one worker until
 *   `leaseUntilMs`; after that it is due again, so a crashed worker's events are sent by another.
 *   Claimed events still count towards the per-user cap, but cannot be restarted, cancelled or listed.
 * - Every mutation returns the earliest due time (`nextDueAtMs`) so the scheduler can re-arm its one
 *   timer without another round trip.
 */
import type { DelayId } from './types.js';

/** A delayed event as the scheduler asks a store to add it. */
export interface NewDelayedEvent {
  /** Fresh, unguessable ID. */
  readonly delayId: DelayId;
  /** Owner. */
  readonly userId: string;
  /** Owner's device, when known. */
  readonly deviceId: string | undefined;
  /** Target room. */
  readonly roomId: string;
  /** Event type. */
  readonly type: string;
  /** State key for state events, else `undefined`. */
  readonly stateKey: string | undefined;
  /** Event content as serialised JSON; stores keep it byte-exact. */
  readonly contentJson: string;
  /** Delay in ms (integer, \>= 0). */
  readonly delayMs: number;
  /**
   * Idempotency key, when the request had a transaction ID. A second add with the same key while the
   * key's record lives returns the first event's ID instead of adding anything.
   */
  readonly txnKey: string | undefined;
}

/** A delayed event as stored. */
export interface StoredDelayedEvent {
  /** The delay ID. */
  readonly delayId: DelayId;
  /** Owner. */
  readonly userId: string;
  /** Owner's device, when known. */
  readonly deviceId: string | undefined;
  /** Target room. */
  readonly roomId: string;
  /** Event type. */
  readonly type: string;
  /** State key for state events, else `undefined`. */
  readonly stateKey: string | undefined;
  /** Event content as serialised JSON. */
  readonly contentJson: string;
  /** The delay it was scheduled with, in ms. */
  readonly delayMs: number;
  /** When the current delay started (scheduling, restart or deferral), Unix ms. */
  readonly runningSinceMs: number;
  /** When it is due, Unix ms (`runningSinceMs + delayMs`). */
  readonly sendAtMs: number;
  /** Failed delivery attempts so far. */
  readonly attempts: number;
}

/** An event a worker has claimed for sending. */
export interface ClaimedDelayedEvent extends StoredDelayedEvent {
  /** The token of the claim; only its holder may finalise or reschedule the event. */
  readonly claimToken: string;
  /** When the claim lapses and the event is due again, Unix ms. */
  readonly leaseUntilMs: number;
}

/** Result of {@link DelayedEventStore.add}. */
export type AddResult =
  | {
      /** Added, or a known transaction. */
      readonly ok: true;
      /** The new event's ID, or the first event's ID for a repeated transaction. */
      readonly delayId: DelayId;
      /** True when the transaction key was seen before and nothing was added. */
      readonly duplicate: boolean;
      /** Earliest due time in the store after the add. */
      readonly nextDueAtMs: number | undefined;
    }
  | {
      /** Refused. */
      readonly ok: false;
      /** The owner is at the cap. */
      readonly reason: 'max_outstanding';
      /** When this user's earliest outstanding event is due, Unix ms. */
      readonly userNextSendAtMs: number | undefined;
    };

/** Result of a mutation aimed at one event. */
export type MutationResult<T = object> =
  | ({
      /** Done. */
      readonly ok: true;
      /** Earliest due time in the store afterwards. */
      readonly nextDueAtMs: number | undefined;
    } & T)
  | {
      /** Nothing was changed. */
      readonly ok: false;
      /** No such event in a state the operation applies to (or not the caller's, or claim lost). */
      readonly reason: 'not_found';
    };

/** Extra result of {@link DelayedEventStore.restart}. */
export interface RestartOutcome {
  /** The event's new due time, Unix ms. */
  readonly sendAtMs: number;
}

/** Extra result of {@link DelayedEventStore.cancel} and {@link DelayedEventStore.claim}. */
export interface EventOutcome<E extends StoredDelayedEvent = StoredDelayedEvent> {
  /** The event as it was cancelled or claimed. */
  readonly event: E;
}

/** Result of {@link DelayedEventStore.cancelByStateKey}. */
export interface CancelByStateKeyResult {
  /** The events cancelled. */
  readonly cancelled: StoredDelayedEvent[];
  /** Earliest due time in the store afterwards. */
  readonly nextDueAtMs: number | undefined;
}

/** Options of {@link DelayedEventStore.add}. */
export interface AddOptions {
  /** Current time, Unix ms. */
  readonly nowMs: number;
  /** The owner's cap on outstanding (pending or claimed) events; the add fails at the cap. */
  readonly maxPerUser: number;
  /** How long a transaction key is remembered, in ms. */
  readonly txnTtlMs: number;
}

/** Options of the claim operations. */
export interface ClaimOptions {
  /** Current time, Unix ms. */
  readonly nowMs: number;
  /** How long the claim holds, in ms. */
  readonly leaseMs: number;
  /** Token identifying this claim (unique per worker and claim). */
  readonly claimToken: string;
}

/** Position after which {@link DelayedEventStore.listForUser} continues. */
export interface ListCursor {
  /** `sendAtMs` of the last event already returned. */
  readonly sendAtMs: number;
  /** `delayId` of the last event already returned (ties on `sendAtMs` are ordered by ID). */
  readonly delayId: DelayId;
}

/** Which pending state events {@link DelayedEventStore.cancelByStateKey} cancels. */
export interface StateKeyFilter {
  /** Room of the newer state event. */
  readonly roomId: string;
  /** Type of the newer state event. */
  readonly type: string;
  /** State key of the newer state event. */
  readonly stateKey: string;
  /** Keep the events owned by this user (the newer event's sender); `undefined` cancels all. */
  readonly keepUserId: string | undefined;
}

/** How a delayed event left the schedule. */
export type FinalisedOutcome = 'sent' | 'cancelled' | 'failed';

/** Why a delayed event failed to be sent: a Matrix error. */
export interface FinalisedError {
  /** The Matrix error code, e.g. `M_FORBIDDEN`. */
  readonly errcode: string;
  /** The error message. */
  readonly message: string;
}

/**
 * A delayed event that left the schedule, kept for a while so its owner can look it up (and retry a
 * management action safely): see {@link DelayedEventStore.retain}.
 */
export interface FinalisedDelayedEvent {
  /** The delay ID. */
  readonly delayId: DelayId;
  /** Owner. */
  readonly userId: string;
  /** Target room. */
  readonly roomId: string;
  /** Event type. */
  readonly type: string;
  /** State key for state events, else `undefined`. */
  readonly stateKey: string | undefined;
  /** Event content as serialised JSON, as scheduled. */
  readonly contentJson: string;
  /** The delay it was scheduled with, in ms. */
  readonly delayMs: number;
  /** When its delay last started (scheduling or restart), Unix ms. */
  readonly runningSinceMs: number;
  /** How it left the schedule. */
  readonly outcome: FinalisedOutcome;
  /** When it left the schedule, Unix ms. */
  readonly finalisedAtMs: number;
  /** The room event's ID, for a sent event whose host reported it. */
  readonly eventId: string | undefined;
  /** Why it failed, for a failed event: a Matrix error code and message. */
  readonly error: FinalisedError | undefined;
}

/** How long finalised events are kept: see {@link DelayedEventStore.retain}. */
export interface RetentionOptions {
  /** Current time, Unix ms. */
  readonly nowMs: number;
  /** Keep a finalised event at most this long after it was finalised, in ms. */
  readonly maxAgeMs: number;
  /** Keep at most this many finalised events per user (the newest). */
  readonly maxPerUser: number;
}

/** What {@link DelayedEventStore.stats} reports. */
export interface StoreStats {
  /** Outstanding events: pending and claimed (being sent), of every user. */
  readonly outstanding: number;
  /** Earliest due time, as {@link DelayedEventStore.nextDueAtMs} gives it; `undefined` when empty. */
  readonly nextDueAtMs: number | undefined;
}

/** What a store can do beyond the contract. */
export interface StoreCapabilities {
  /** Several processes can share this store (and its data survives a process restart). */
  readonly sharedAcrossProcesses: boolean;
}

/**
 * Storage for delayed events. See the module remarks for the rules every implementation follows.
 */
export interface DelayedEventStore {
  /** What this store can do. */
  readonly capabilities: StoreCapabilities;

  /** Atomically checks the transaction key and the owner's cap, then inserts the event as pending. */
  add(event: NewDelayedEvent, options: AddOptions): Promise<AddResult>;

  /**
   * The delay ID recorded for a transaction key, if the key is still remembered (its event may since
   * have been sent or cancelled).
   */
  findTxn(txnKey: string, nowMs: number): Promise<DelayId | undefined>;

  /** The event with this ID, pending or claimed, or `undefined`. */
  get(delayId: DelayId): Promise<StoredDelayedEvent | undefined>;

  /**
   * The owner's pending events ordered by (`sendAtMs`, `delayId`), starting after `after`, at most
   * `limit` of them.
   */
  listForUser(userId: string, options: { readonly after?: ListCursor | undefined; readonly limit: number }): Promise<StoredDelayedEvent[]>;

  /** Restarts a pending event owned by `userId`: `runningSinceMs = nowMs`, `sendAtMs = nowMs + delayMs`. */
  restart(delayId: DelayId, userId: string, nowMs: number): Promise<MutationResult<RestartOutcome>>;

  /** Removes a pending event owned by `userId`. */
  cancel(delayId: DelayId, userId: string): Promise<MutationResult<EventOutcome>>;

  /** Claims one pending event owned by `userId` (for the `send` action), whether due or not. */
  claim(delayId: DelayId, userId: string, options: ClaimOptions): Promise<MutationResult<EventOutcome<ClaimedDelayedEvent>>>;

  /**
   * Claims up to `max` due events: pending ones with `sendAtMs <= nowMs` and claimed ones whose lease
   * has lapsed, in order of due time (events due at the same millisecond in any order).
   */
  claimDue(options: ClaimOptions & { readonly max: number }): Promise<ClaimedDelayedEvent[]>;

  /**
   * Returns a claimed event to pending, due at `sendAtMs` (`runningSinceMs` becomes
   * `sendAtMs - delayMs`, so listings show the new time), with its attempt count. A no-op returning
   * `not_found` when the claim is no longer held.
   */
  reschedule(
    delayId: DelayId,
    claimToken: string,
    options: { readonly sendAtMs: number; readonly attempts: number; readonly nowMs: number },
  ): Promise<MutationResult>;

  /** Removes a claimed event for good. A no-op returning `not_found` when the claim is no longer held. */
  finalise(delayId: DelayId, claimToken: string): Promise<MutationResult>;

  /**
   * Optional: {@link DelayedEventStore.finalise} for several claimed events in one call, as a storm
   * delivers them (one round trip per batch instead of one per event). Each item is finalised on its
   * own, in order, exactly as `finalise(event.delayId, event.claimToken)` would: a claim no
   * longer held gives `not_found` for that item and leaves the others alone. `events` are the records
   * as {@link DelayedEventStore.claimDue} or {@link DelayedEventStore.claim} returned them, so a store
   * may rely on their owner, room, type and state key (which never change) once the claim token
   * matches. The scheduler falls back to one `finalise` per event when a store lacks it.
   *
   * @returns One result per event, in order.
   */
  finaliseMany?(events: readonly ClaimedDelayedEvent[]): Promise<MutationResult[]>;

  /**
   * Optional (for graceful shutdown, `stop({ deadlineMs })`): gives up claims this worker still holds,
   * so another worker sends the events at once instead of after the lease. Each event whose claim token
   * still matches becomes pending again, due at its `sendAtMs` (a due event is due at once; one claimed
   * by the `send` action goes back to its schedule), its attempt count unchanged; a claim no longer
   * held gives `not_found` for that item and is left alone. Stores shared across processes announce the
   * new earliest due time to watchers, as any change that makes something due earlier does.
   *
   * @returns One result per event, in order.
   */
  release?(events: readonly ClaimedDelayedEvent[], nowMs: number): Promise<MutationResult[]>;

  /** Cancels pending state events for one (room, type, state key), keeping `keepUserId`'s own. */
  cancelByStateKey(filter: StateKeyFilter): Promise<CancelByStateKeyResult>;

  /** Earliest due time (pending `sendAtMs` or claim `leaseUntilMs`), or `undefined` when empty. */
  nextDueAtMs(): Promise<number | undefined>;

  /**
   * Optional (needed for the retention of finalised events, e.g. by the `msc4140-2026` profile): keeps
   * these finalised events, and forgets those beyond `maxAgeMs` or beyond the newest `maxPerUser` of
   * their owner. Pruning happens inside calls (no timer per event), and memory stays bounded by
   * `maxPerUser` per user. Retention is best effort: a record lost to a crash between finalising and
   * retaining only means the event can no longer be looked up.
   */
  retain?(events: readonly FinalisedDelayedEvent[], options: RetentionOptions): Promise<void>;

  /**
   * Optional, with {@link DelayedEventStore.retain}: the finalised event with this ID if `userId` owns
   * it and it is still retained (finalised within `maxAgeMs` of `nowMs`).
   */
  getFinalised?(delayId: DelayId, userId: string, options: { readonly nowMs: number; readonly maxAgeMs: number }): Promise<FinalisedDelayedEvent | undefined>;

  /**
   * Optional (for metrics, read when scraped): how many events are outstanding and when the earliest is
   * due. Must be cheap (O(1) or close): it is called on every scrape.
   */
  stats?(): Promise<StoreStats>;

  /**
   * Optional, for stores shared across processes: calls `listener` when any process (this one included)
   * makes an event due at `dueAtMs` that may be earlier than what others have armed for, so every
   * scheduler can re-arm its timer. Returns an unsubscribe function.
   */
  watch?(listener: (dueAtMs: number) => void): () => void;

  /** Releases resources the store created (never a client it was given). */
  close?(): Promise<void>;
}
