/**
 * Which matched requests have a body the handler reads; shared by every adapter, so that none reads
 * (or waits for) a body the handler would ignore.
 *
 * @internal
 */
import type { DelayedEventsRoute } from '../http/routes.js';

/** True when a matched request's body matters to the handler (the path form of management ignores it). */
export function needsBody(route: DelayedEventsRoute): boolean {
  return route.kind === 'schedule' || (route.kind === 'manage' && route.action === undefined);
}
