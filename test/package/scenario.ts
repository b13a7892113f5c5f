/**
 * One scheduler scenario, as JavaScript source, that every runtime consumer runs against the package it
 * installed, and what it must print.
 */

/**
 * Schedules one event due now and one due in 5 s on a `ManualClock`, then moves the clock. The same
 * text runs as ESM and as CJS; `lib` and `testing` are the two modules as that consumer loaded them.
 */
export const SCENARIO = `
async function scenario(lib, testing) {
  const clock = new testing.ManualClock(1_000_000);
  const sent = [];
  const scheduler = new lib.DelayedEventScheduler({
    store: lib.createMemoryStore(),
    clock,
    sendEvent: async (event) => { sent.push({ type: event.type, content: event.content, sendAtMs: event.sendAtMs }); },
  });
  await scheduler.start();
  const who = { userId: '@alice:example.org', deviceId: 'PHONE', roomId: '!room:example.org' };
  const now = await scheduler.schedule({ ...who, type: 'org.example.now', content: { n: 0 }, delayMs: 0 });
  const later = await scheduler.schedule({ ...who, type: 'org.example.later', content: { n: 1 }, delayMs: 5000 });
  await clock.advanceAsync(0);
  const sentAtStart = sent.map((e) => e.type);
  await clock.advanceAsync(5000);
  await scheduler.stop();
  return { distinctIds: now.delayId !== later.delayId, sentAtStart, sent, clockNow: clock.now() };
}`;

export const EXPECTED_SCENARIO = {
  distinctIds: true,
  sentAtStart: ['org.example.now'],
  sent: [
    { type: 'org.example.now', content: { n: 0 }, sendAtMs: 1_000_000 },
    { type: 'org.example.later', content: { n: 1 }, sendAtMs: 1_005_000 },
  ],
  clockNow: 1_005_000,
};
