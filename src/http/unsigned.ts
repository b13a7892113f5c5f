/**
 * `delay_id` in a sent delayed event's `unsigned` data (2026 revision): shown to its sender only.
 */

/** The stable and unstable `unsigned` keys. */
export const UNSIGNED_DELAY_ID_KEYS = ['delay_id', 'org.matrix.msc4140.delay_id'] as const;

/**
 * The `unsigned` entries to add to a room event when serving it (over `/sync`, `/messages`, …): the
 * `delay_id` it was sent under, under both names, if and only if the viewer is its sender.
 *
 * @param event - The event as the host stored it: its `sender`, and the `delayId` that
 *   `sendEvent` received for it (`undefined` for an event that was not delayed).
 * @param viewerUserId - The user the event is being served to.
 * @returns Entries to spread into the event's `unsigned` (`{}` for anyone else).
 *
 * @example
 * ```ts
 * const unsigned = { ...event.unsigned, ...delayIdUnsigned({ sender: event.sender, delayId: event.delayId }, viewer) };
 * ```
 */
export function delayIdUnsigned(event: { readonly sender: string; readonly delayId?: string | undefined }, viewerUserId: string): Record<string, string> {
  if (event.delayId === undefined || event.sender !== viewerUserId) return {};
  const unsigned: Record<string, string> = {};
  for (const key of UNSIGNED_DELAY_ID_KEYS) unsigned[key] = event.delayId;
  return unsigned;
}
