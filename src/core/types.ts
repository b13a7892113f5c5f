/**
 * Shared value types of the core. Everything here is camelCase and knows no wire format: the Matrix
 * field names (`delay_id`, `running_since`, …) appear only in `src/http/`.
 */
import type { FinalisedError, ListCursor } from './store.js';

/** Opaque, unguessable identifier of one delayed event (at least 128 random bits, URL-safe). */
export type DelayId = string;

/** A JSON object, as Matrix event content must be. */
export type JsonObject = { [key: string]: unknown };

/** Who is acting: the authenticated Matrix user and, where known, their device. */
export interface Requester {
  /** Fully qualified Matrix user ID, e.g. `@alice:example.org`. */
  readonly userId: string;
  /** The device behind the access token, when the host knows it. */
  readonly deviceId?: string | undefined;
}

/** A delayed event as the scheduler hands it to the host's {@link SendEventFn}. */
export interface DueDelayedEvent {
  /** The delay ID; the same event may (rarely) be handed over twice, so hosts drop a repeated ID. */
  readonly delayId: DelayId;
  /** The user who scheduled it; the event is sent as this user. */
  readonly userId: string;
  /** The device that scheduled it, when known. */
  readonly deviceId: string | undefined;
  /** Target room. */
  readonly roomId: string;
  /** Event type, e.g. `m.call.member` or `m.room.redaction`. */
  readonly type: string;
  /** State key for a state event; `undefined` for a message-like event. */
  readonly stateKey: string | undefined;
  /**
   * Event content, parsed from {@link DueDelayedEvent.contentJson} on first read (an own, enumerable
   * property, so spreading or serialising the event includes it); a fresh object on each hand-over.
   */
  readonly content: JsonObject;
  /** The content exactly as scheduled, as JSON: hosts that store JSON can skip a parse and a stringify. */
  readonly contentJson: string;
  /**
   * The scheduled send time in Unix ms. Hosts use it as the event's `origin_server_ts`, as Synapse
   * does, so a late delivery still carries the time the client asked for.
   */
  readonly sendAtMs: number;
  /** Why it is being sent: its timer ran out, or its owner used the `send` action. */
  readonly trigger: 'timeout' | 'action';
}

/**
 * Inserts a due delayed event into its room. The host checks membership and power levels *now*
 * (MSC4140: power levels are evaluated at the point of sending).
 *
 * @remarks
 * Return the new room event's ID: it is passed to `onFinalised` and kept with the finalised event, so
 * the `msc4140-2026` profile's `GET …/delayed_events/{delay_id}` can show it. Anything else returned is
 * ignored.
 *
 * Throw an error carrying a 4xx `httpStatus` (or `statusCode`/`status`) and an `errcode` — for example
 * a {@link MatrixError} — for a permanent refusal; the event is then finalised as failed. Anything
 * else is treated as transient and retried with backoff.
 *
 * `signal` is aborted when the claim on the event runs out (another worker may then send it) or when
 * `stop()` gives up waiting: a host that can cancel a hung insert should.
 */
export type SendEventFn = (event: DueDelayedEvent, signal: AbortSignal) => Promise<unknown> | unknown;

/**
 * One level of a {@link Logger}, in pino's call shape: a record of fields and a message
 * (`logger.warn({ delayId, err }, 'delivery failed')`), or a message alone.
 */
export type LogFn = (recordOrMessage: Record<string, unknown> | string, message?: string) => void;

/**
 * Where the library's diagnostics go, in pino's shape: a pino logger fits as it is (as do bunyan and
 * anything with the same methods), and so does `console` (or `consoleLogger()`, which prints the
 * message first). The default logs nothing.
 *
 * @remarks
 * Records never hold a full delay ID (a capability: a short prefix, `delayId: 'k3J9xQ…'`) or event
 * content. Errors are under `err`, as pino's standard serialiser expects.
 */
export interface Logger {
  /** Diagnostic detail. */
  readonly debug?: LogFn;
  /** Something worth knowing that needs no action. */
  readonly info?: LogFn;
  /** Something went wrong but was handled. */
  readonly warn?: LogFn;
  /** Something went wrong and was not handled as hoped. */
  readonly error?: LogFn;
}

/** How a delayed event left the schedule. */
export type FinalOutcome =
  | {
      /** Sent into its room. */
      readonly kind: 'sent';
      /** The room event's ID, when `sendEvent` returned one. */
      readonly eventId?: string | undefined;
    }
  | {
      /** Cancelled before it was sent. */
      readonly kind: 'cancelled';
      /** By its owner's `cancel` action, or by a newer state event on the same key. */
      readonly reason: 'action' | 'newer-state';
    }
  | {
      /** Given up: refused by the host (4xx), out of retries, or rate-limited under policy `fail`. */
      readonly kind: 'failed';
      /** The last error. */
      readonly error: unknown;
    };

/** One pending delayed event as {@link DelayedEventScheduler.list} returns it. */
export interface PendingDelayedEvent {
  /** The delay ID. */
  readonly delayId: DelayId;
  /** Target room. */
  readonly roomId: string;
  /** Event type. */
  readonly type: string;
  /** State key, for state events only. */
  readonly stateKey: string | undefined;
  /** The delay in ms the event was scheduled with. */
  readonly delayMs: number;
  /** When the delay last (re)started, Unix ms; the event is due at `runningSinceMs + delayMs`. */
  readonly runningSinceMs: number;
  /** Event content. */
  readonly content: JsonObject;
}

/** What {@link DelayedEventScheduler.schedule} takes. */
export interface ScheduleRequest extends Requester {
  /** Target room. */
  readonly roomId: string;
  /** Event type. */
  readonly type: string;
  /** State key, for a delayed state event (may be the empty string). */
  readonly stateKey?: string | undefined;
  /** Event content, a JSON object. */
  readonly content: JsonObject;
  /** Delay in ms: an integer \>= 0 and at most `maxDelayMs`. */
  readonly delayMs: number;
  /**
   * The client's transaction ID, scoped by the caller to its endpoint (e.g. `"send:" + txnId`). A repeat
   * from the same user and device returns the first delay ID.
   */
  readonly txnId?: string | undefined;
}

/** What {@link DelayedEventScheduler.schedule} returns. */
export interface ScheduleResult {
  /** The delay ID, for `send`, `cancel`, `restart` and listings. */
  readonly delayId: DelayId;
}

/** What {@link DelayedEventScheduler.list} returns. */
export interface DelayedEventsPage {
  /** Pending events in send-time order. */
  readonly events: PendingDelayedEvent[];
  /** Where the next page starts (pass it as `after`), present while more remain. */
  readonly next?: ListCursor;
}

/** A state event the host has persisted, for {@link DelayedEventScheduler.onStateEvent}. */
export interface PersistedStateEvent {
  /** Room of the state event. */
  readonly roomId: string;
  /** Its type. */
  readonly type: string;
  /** Its state key. */
  readonly stateKey: string;
  /** Its sender. */
  readonly sender: string;
}

/** One of the requester's delayed events, pending or finalised, as {@link DelayedEventScheduler.lookup} returns it. */
export interface DelayedEventDetails extends PendingDelayedEvent {
  /** How and when it left the schedule; absent while it is pending. */
  readonly finalised?: {
    /** How it left the schedule. */
    readonly outcome: 'sent' | 'cancelled' | 'failed';
    /** When, Unix ms. */
    readonly atMs: number;
    /** The room event's ID, for a sent event whose host reported it. */
    readonly eventId?: string | undefined;
    /** Why it failed, for a failed event. */
    readonly error?: FinalisedError | undefined;
  };
}

/** What {@link DelayedEventScheduler.health} reports. */
export interface SchedulerHealth {
  /** Whether the store answered (within the health check's timeout). */
  readonly store: 'ok' | 'unreachable';
  /**
   * The wake-up timer: `armed` (waiting for the next due event), `idle` (started, nothing scheduled),
   * `draining` (sending due events now), or `stopped` (`start()` not called, or `stop()` called).
   */
  readonly timer: 'armed' | 'idle' | 'draining' | 'stopped';
  /** The earliest due time in the store, Unix ms; absent when nothing is scheduled or the store did not answer. */
  readonly nextDueAtMs?: number;
  /**
   * How overdue the oldest due event is, in ms (0 when nothing is overdue); absent when nothing is
   * scheduled or the store did not answer. A value that keeps growing means delivery is stuck or
   * falling behind (no worker started, the host's `sendEvent` hangs, or the store fails).
   */
  readonly oldestDueLagMs?: number;
}
