/**
 * The `m.delayed_events` capability of the 2026 revision, for the host's `GET /_matrix/client/v3/capabilities`.
 */

/** The capability names: stable, and the unstable one clients look for while MSC4140 is open. */
export const DELAYED_EVENTS_CAPABILITY = 'm.delayed_events';
/** The unstable capability name of MSC4140. */
export const UNSTABLE_DELAYED_EVENTS_CAPABILITY = 'org.matrix.msc4140.delayed_events';

/** The limits a deployment enforces, as the scheduler's resolved options have them. */
export interface DelayedEventsLimits {
  /** Largest delay allowed, in ms. */
  readonly maxDelayMs?: number | undefined;
  /** Most outstanding delayed events per user: a number, or a function (a per-user cap is not advertised). */
  readonly maxOutstandingPerUser?: number | ((userId: string) => number) | undefined;
}

/**
 * The entries this library adds to `capabilities` of `GET /_matrix/client/v3/capabilities`:
 * `m.delayed_events` (and its unstable name) with `max_delay_ms` and `max_scheduled`. A limit that is
 * not enforced, or differs per user, is left out, as the revision says.
 *
 * @param limits - Usually `scheduler.options`.
 * @param requesterUserId - When the cap is a per-user function: the user asking, whose own cap is then given.
 * @returns A fresh object to merge into the host's own `capabilities`.
 *
 * @example
 * ```ts
 * app.get('/_matrix/client/v3/capabilities', (req, res) => {
 *   res.json({ capabilities: { ...hostCapabilities, ...delayedEventsCapabilities(scheduler.options, req.userId) } });
 * });
 * ```
 */
export function delayedEventsCapabilities(limits: DelayedEventsLimits, requesterUserId?: string): Record<string, Record<string, number>> {
  const capability: Record<string, number> = {};
  if (limits.maxDelayMs !== undefined) capability['max_delay_ms'] = limits.maxDelayMs;
  const cap = limits.maxOutstandingPerUser;
  if (typeof cap === 'number') capability['max_scheduled'] = cap;
  else if (typeof cap === 'function' && requesterUserId !== undefined) capability['max_scheduled'] = cap(requesterUserId);
  return { [DELAYED_EVENTS_CAPABILITY]: capability, [UNSTABLE_DELAYED_EVENTS_CAPABILITY]: { ...capability } };
}
