/**
 * A runnable tour of the core on the in-memory store (`npm run example:demo`): schedule, heartbeat
 * (restart), let one fire, cancel another, send one early, and watch newer state cancel one.
 */
import { createMemoryStore, DelayedEventScheduler, RateLimiter, type DueDelayedEvent } from 'matrix-delayed-events';

const started = Date.now();
const log = (message: string) => console.log(`[+${String(Date.now() - started).padStart(5)} ms] ${message}`);
const alice = { userId: '@alice:example.org', deviceId: 'ALICEPHONE' };
const room = '!call:example.org';

const scheduler = new DelayedEventScheduler({
  store: createMemoryStore(),
  sendEvent: (event: DueDelayedEvent) => {
    log(`SENT     ${event.type} ${event.stateKey ?? ''} ${JSON.stringify(event.content)} (${event.trigger}, id ${event.delayId})`);
  },
  onFinalised: (event, outcome) => {
    if (outcome.kind !== 'sent') log(`FINAL    ${event.delayId}: ${outcome.kind}${'reason' in outcome ? ` (${outcome.reason})` : ''}`);
  },
  rateLimiter: new RateLimiter({ buckets: { manage: { points: 50, durationMs: 1000 } } }),
});
await scheduler.start();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

log('MatrixRTC join: schedule a delayed "leave" (1500 ms), heartbeat it every 500 ms');
const leave = await scheduler.schedule({
  ...alice,
  roomId: room,
  type: 'org.matrix.msc3401.call.member',
  stateKey: '_@alice:example.org_ALICEPHONE',
  content: {},
  delayMs: 1500,
});
log(`scheduled leave ${leave.delayId}`);
const reminder = await scheduler.schedule({ ...alice, roomId: room, type: 'm.room.message', content: { body: 'reminder' }, delayMs: 60_000 });
log(`scheduled a reminder in 60 s: ${reminder.delayId}`);
const oops = await scheduler.schedule({ ...alice, roomId: room, type: 'm.room.message', content: { body: 'never sent' }, delayMs: 1000 });
log(`scheduled a message in 1 s: ${oops.delayId}`);

for (let beat = 1; beat <= 4; beat++) {
  await sleep(500);
  await scheduler.restart(alice, leave.delayId);
  log(`heartbeat ${beat}: restarted the leave`);
  if (beat === 1) {
    await scheduler.cancel(alice, oops.delayId);
    log('cancelled the 1 s message');
  }
}
const page = await scheduler.list(alice);
log(`pending: ${page.events.map((e) => `${e.type} due in ${e.runningSinceMs + e.delayMs - Date.now()} ms`).join(', ')}`);
log('send the reminder now instead of in 60 s');
await scheduler.send(alice, reminder.delayId);
log('client vanishes: no more heartbeats; the leave should fire about 1500 ms after the last one');
await sleep(2000);

const other = await scheduler.schedule({ ...alice, roomId: room, type: 'm.room.topic', stateKey: '', content: { topic: 'later' }, delayMs: 5000 });
log(`scheduled a topic change in 5 s: ${other.delayId}; now @bob sets the topic himself`);
await scheduler.onStateEvent({ roomId: room, type: 'm.room.topic', stateKey: '', sender: '@bob:example.org' });
log(`pending after that: ${(await scheduler.list(alice)).events.length}`);
await scheduler.stop();
log('done');
