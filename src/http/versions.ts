/** The `unstable_features` key under which MSC4140 support is advertised in `GET /_matrix/client/versions`. */
export const MSC4140_UNSTABLE_FEATURE = 'org.matrix.msc4140';

/**
 * The entries this library adds to `unstable_features` of `GET /_matrix/client/versions`. Clients
 * (matrix-js-sdk, Element Call) make delayed requests only when `org.matrix.msc4140` is `true`.
 *
 * @param enabled - Whether delayed events are served; `false` gives `{}`, so nothing is advertised.
 * @returns A fresh object to merge into the host's own `unstable_features`.
 *
 * @example
 * ```ts
 * app.get('/_matrix/client/versions', (_req, res) => {
 *   res.json({
 *     versions: ['v1.11'],
 *     unstable_features: { ...hostUnstableFeatures, ...versionsUnstableFeatures(true) },
 *   });
 * });
 * ```
 */
export function versionsUnstableFeatures(enabled = true): Record<string, boolean> {
  return enabled ? { [MSC4140_UNSTABLE_FEATURE]: true } : {};
}
