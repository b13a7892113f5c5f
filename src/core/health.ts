/** The scheduler's health report for readiness probes. Internal to the scheduler. */
import type { Clock } from './clock.js';
import type { DelayedEventStore } from './store.js';
import type { SchedulerHealth } from './types.js';

/**
 * Asks the store for its earliest due time within `timeoutMs` and reports it with the timer state and
 * how overdue the oldest due event is.
 *
 * @internal
 */
export async function checkHealth(store: DelayedEventStore, timer: SchedulerHealth['timer'], clock: Clock, timeoutMs: number): Promise<SchedulerHealth> {
  const nowMs = clock.now();
  let handle: unknown;
  let nextDueAtMs: number | undefined;
  try {
    nextDueAtMs = await Promise.race([
      store.nextDueAtMs(),
      new Promise<never>((_resolve, reject) => {
        handle = clock.setTimer(() => reject(new Error('store health check timed out')), timeoutMs);
      }),
    ]);
  } catch {
    return { store: 'unreachable', timer };
  } finally {
    clock.clearTimer(handle);
  }
  return nextDueAtMs === undefined ? { store: 'ok', timer } : { store: 'ok', timer, nextDueAtMs, oldestDueLagMs: Math.max(0, nowMs - nextDueAtMs) };
}
