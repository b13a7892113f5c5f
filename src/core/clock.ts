/** Handle returned by {@link Clock.setTimer}. */
export type TimerHandle = unknown;

/**
 * The source of time and timers. Everything time-dependent takes one, so tests run on a
 * `ManualClock` (from `matrix-delayed-events/testing`) instead of sleeping.
 */
export interface Clock {
  /** Current time in Unix ms. */
  now(): number;
  /**
   * Calls `callback` once after `delayMs`. A callback may return a promise; a manual clock awaits it,
   * which lets tests advance time deterministically.
   */
  setTimer(callback: () => unknown, delayMs: number): TimerHandle;
  /** Cancels a timer from {@link Clock.setTimer}; unknown handles are ignored. */
  clearTimer(handle: TimerHandle): void;
}

/** The largest delay `setTimeout` honours (about 24.8 days); longer timers must be re-armed. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The real clock: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  // eslint-disable-next-line no-restricted-properties -- the one sanctioned read of wall-clock time
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    return setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_DELAY_MS));
  },
  clearTimer(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
