import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import type { DelayedEventSchedulerOptions } from '../../src/core/options.js';
import { RateLimiter } from '../../src/core/rate-limiter.js';
import type { DueDelayedEvent, FinalOutcome } from '../../src/core/types.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

export const ALICE = { userId: '@alice:example.org', deviceId: 'ALICEPHONE' } as const;
export const BOB = { userId: '@bob:example.org', deviceId: 'BOBLAPTOP' } as const;
export const ROOM = '!room:example.org';

/** Rate limits off, so tests of other behaviour are not throttled. */
export function unlimited(): RateLimiter {
  return new RateLimiter({ buckets: { schedule: false, manage: false, send: false, delivery: false } });
}

export interface Harness {
  clock: ManualClock;
  scheduler: DelayedEventScheduler;
  sent: DueDelayedEvent[];
  finalised: { event: DueDelayedEvent; outcome: FinalOutcome }[];
  /** Replace to make sendEvent fail or block. */
  sendImpl: (event: DueDelayedEvent) => Promise<void> | void;
}

/** A scheduler on a ManualClock and the in-memory store, recording what it sends and finalises. */
export async function createHarness(options: Partial<DelayedEventSchedulerOptions> = {}, start = true): Promise<Harness> {
  const clock = new ManualClock(1_700_000_000_000);
  const harness: Harness = {
    clock,
    sent: [],
    finalised: [],
    sendImpl: () => undefined,
    scheduler: undefined as unknown as DelayedEventScheduler,
  };
  harness.scheduler = new DelayedEventScheduler({
    store: createMemoryStore(),
    clock,
    rateLimiter: unlimited(),
    sendEvent: async (event) => {
      await harness.sendImpl(event);
      harness.sent.push(event);
    },
    onFinalised: (event, outcome) => harness.finalised.push({ event, outcome }),
    ...options,
  });
  if (start) await harness.scheduler.start();
  return harness;
}

export function message(delayMs: number, extra: Record<string, unknown> = {}) {
  return { ...ALICE, roomId: ROOM, type: 'm.room.message', content: { body: `after ${delayMs}` }, delayMs, ...extra };
}
