import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import type { DelayedEventSchedulerOptions } from '../../src/core/options.js';
import type { DueDelayedEvent, FinalOutcome } from '../../src/core/types.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { noLimits } from './fixtures.js';

export interface Harness {
  clock: ManualClock;
  scheduler: DelayedEventScheduler;
  sent: DueDelayedEvent[];
  finalised: { event: DueDelayedEvent; outcome: FinalOutcome }[];
  /** Replace to make sendEvent fail or block. */
  sendImpl: (event: DueDelayedEvent) => Promise<void> | void;
  /**
   * Resolves once `count` events have been sent. For tests that must look at the scheduler while a
   * delivery run is still going (the clock's advance not awaited yet): it waits for the event itself,
   * not for some amount of real time.
   */
  untilSent(count: number): Promise<void>;
}

/**
 * A condition to await: `until(check)` resolves as soon as `check()` holds, re-tested each time
 * `poke()` reports a change. No timer: a condition that never comes true fails on the test timeout.
 */
export function condition(): { until(check: () => boolean): Promise<void>; poke(): void } {
  const waiting = new Set<{ check: () => boolean; resolve: () => void }>();
  return {
    until(check) {
      if (check()) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.add({ check, resolve }));
    },
    poke() {
      for (const waiter of waiting) {
        if (!waiter.check()) continue;
        waiting.delete(waiter);
        waiter.resolve();
      }
    },
  };
}

/** A scheduler on a ManualClock and the in-memory store, recording what it sends and finalises. */
export async function createHarness(options: Partial<DelayedEventSchedulerOptions> = {}, start = true): Promise<Harness> {
  const clock = new ManualClock(1_700_000_000_000);
  const sentChanged = condition();
  const harness: Harness = {
    clock,
    sent: [],
    finalised: [],
    sendImpl: () => undefined,
    untilSent: (count) => sentChanged.until(() => harness.sent.length >= count),
    scheduler: undefined as unknown as DelayedEventScheduler,
  };
  harness.scheduler = new DelayedEventScheduler({
    store: createMemoryStore(),
    clock,
    rateLimiter: noLimits(),
    sendEvent: async (event) => {
      await harness.sendImpl(event);
      harness.sent.push(event);
      sentChanged.poke();
    },
    onFinalised: (event, outcome) => harness.finalised.push({ event, outcome }),
    ...options,
  });
  if (start) await harness.scheduler.start();
  return harness;
}
