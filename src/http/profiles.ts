/**
 * The spec profiles side by side: which routes each serves and how it writes events on the wire.
 * (Its error table is in `error-mapper.ts`.) The core's camelCase model is the same for both.
 */
import { MatrixError } from '../core/errors.js';
import type { SpecProfile } from '../core/options.js';
import type { DelayedEventDetails, JsonObject, PendingDelayedEvent } from '../core/types.js';
import type { DelayedEventAction, RouteSet } from './routes.js';
import { ROUTES_2024 } from './routes.js';

/** How a management action on an event that is no longer pending is answered (2026 profile). */
export type SettledAnswer = 'ok' | MatrixError;

/** What differs between the profiles on the wire, apart from errors. */
export interface WireProfile {
  /** The profile's name. */
  readonly name: SpecProfile;
  /** The routes it serves. */
  readonly routes: RouteSet;
  /** A pending event as listed by `GET …/delayed_events`. */
  listItem(event: PendingDelayedEvent): JsonObject;
  /** One event, pending or finalised, as `GET …/delayed_events/{delay_id}` answers it. */
  details(event: DelayedEventDetails): JsonObject;
  /**
   * The answer to `action` on the requester's event that already left the schedule with `outcome`;
   * `undefined` when the profile answers 404 as for an unknown event.
   */
  settled(action: DelayedEventAction, outcome: 'sent' | 'cancelled' | 'failed'): SettledAnswer | undefined;
}

function common(event: PendingDelayedEvent): JsonObject {
  const wire: JsonObject = { delay_id: event.delayId, room_id: event.roomId, type: event.type };
  if (event.stateKey !== undefined) wire['state_key'] = event.stateKey;
  return wire;
}

/** MSC4140 as of 2024-07-25: `delay` and `running_since`; an event that left the schedule is unknown. */
const PROFILE_2024: WireProfile = {
  name: 'msc4140-2024',
  routes: ROUTES_2024,
  listItem(event) {
    const wire = common(event);
    wire['delay'] = event.delayMs;
    wire['running_since'] = event.runningSinceMs;
    wire['content'] = event.content;
    return wire;
  },
  details(event) {
    return this.listItem(event);
  },
  settled: () => undefined,
};

const CONFLICTS: Record<'sent' | 'cancelled' | 'failed', string> = {
  sent: 'The delayed event was already sent.',
  cancelled: 'The delayed event was already cancelled.',
  failed: 'The delayed event was already cancelled: it could not be sent.',
};

/** The 2026 profile with or without the 2024 routes beside its own. */
function profile2026(with2024Routes: boolean): WireProfile {
  return {
    name: 'msc4140-2026',
    routes: Object.freeze({ revision2026: true, revision2024: with2024Routes }),
    listItem(event) {
      const wire = common(event);
      wire['delay_ms'] = event.delayMs;
      wire['scheduled_at'] = event.runningSinceMs;
      if (with2024Routes) {
        // Clients of the 2024 routes list on the same path and read these names.
        wire['delay'] = event.delayMs;
        wire['running_since'] = event.runningSinceMs;
      }
      wire['content'] = event.content;
      return wire;
    },
    details(event) {
      const wire = this.listItem(event);
      const finalised = event.finalised;
      if (finalised === undefined) return wire;
      wire['finalised_ts'] = finalised.atMs;
      if (finalised.eventId !== undefined) wire['event_id'] = finalised.eventId;
      if (finalised.error !== undefined) wire['error'] = { errcode: finalised.error.errcode, error: finalised.error.message };
      return wire;
    },
    settled(action, outcome) {
      // A failed event counts as cancelled (by an error), so a retried cancel of it succeeds.
      const ended = outcome === 'sent' ? 'sent' : 'cancelled';
      if ((action === 'send' && ended === 'sent') || (action === 'cancel' && ended === 'cancelled')) return 'ok';
      return new MatrixError(409, 'M_UNKNOWN', CONFLICTS[outcome]);
    },
  };
}

/**
 * The wire profile for a spec profile.
 *
 * @param with2024Routes - Under `msc4140-2026`, serve the 2024 scheduling routes (the delay parameter)
 *   and the body form of management beside the 2026 ones, for clients that have not moved yet.
 * @internal
 */
export function wireProfile(profile: SpecProfile, with2024Routes = true): WireProfile {
  return profile === 'msc4140-2026' ? profile2026(with2024Routes) : PROFILE_2024;
}
