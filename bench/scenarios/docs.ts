/** What each scenario section of docs/benchmarks.md says. */
import type { ScenarioDoc } from '../lib/report.js';
import { SIDES } from '../sides/index.js';
import { FLEET_ONE, HTTP_SIDES } from '../lib/targets.js';

export const SCENARIO_DOCS: ScenarioDoc[] = [
  {
    key: 'heartbeat-redis',
    title: '1a. Heartbeat (MatrixRTC restart), Redis',
    description:
      'Restarts per second of events drawn uniformly at random from N outstanding ones (the same seeded order for every ' +
      'side), 64 in flight, against one private redis-server. **store op** calls `store.restart(id, userId, now)` on ' +
      '`createRedisStore({ client, keyPrefix })` directly; **scheduler** calls `DelayedEventScheduler.restart()` (rate limits ' +
      'off), and the third row adds the Redis-backed `manage` bucket through `createRedisDelayedEvents` (the store and limiter ' +
      'pair whose restart takes its point inside the store\'s restart script; a limit high enough never to refuse, so each ' +
      'restart pays the check). BullMQ restarts with `job.changeDelay(delay)` on the `Job` objects `add` ' +
      'returned. The ceiling is one `EVALSHA` of a script doing one `ZADD` and one `HSET` and nothing else.',
    baseline: SIDES.bullmq.label,
    chartMetrics: ['restarts/s'],
  },
  {
    key: 'heartbeat-memory',
    title: '1b. Heartbeat (MatrixRTC restart), in memory',
    description:
      'Restarts per second in random order with N outstanding events, 64 in flight: `createMemoryStore()`’s `restart` ' +
      '(store op), `DelayedEventScheduler.restart()` over it, and one `setTimeout` per event restarted with ' +
      '`timer.refresh()`. Every side goes through the same driver (one `await` per operation).',
    baseline: SIDES.settimeout.label,
    chartMetrics: ['restarts/s'],
  },
  {
    key: 'schedule-redis',
    title: '2a. Schedule, Redis',
    description:
      'Schedules per second, 64 in flight, with the per-user cap check and a transaction-ID record on every schedule ' +
      '(scheduler: `schedule({ …, txnId })`; store op: `store.add` with a `txnKey` and `maxPerUser`), vs BullMQ ' +
      '`queue.add(name, data, { delay })`, which checks no cap and records no transaction. Redis is emptied before each run.',
    baseline: SIDES.bullmq.label,
    chartMetrics: ['schedules/s'],
  },
  {
    key: 'schedule-memory',
    title: '2b. Schedule, in memory',
    description:
      'Schedules per second, 64 in flight, cap check and transaction record on. The `setTimeout` baseline does the same ' +
      'work by hand: a 144-bit random ID, a per-user count, a transaction map, the record in a `Map`, one `setTimeout`.',
    baseline: SIDES.settimeout.label,
    chartMetrics: ['schedules/s'],
  },
  {
    key: 'cancel-redis',
    title: '3a. Cancel, Redis',
    description: 'Cancels per second of N outstanding events in random order, 64 in flight, vs BullMQ `job.remove()`.',
    baseline: SIDES.bullmq.label,
    chartMetrics: ['cancels/s'],
  },
  {
    key: 'cancel-memory',
    title: '3b. Cancel, in memory',
    description: 'Cancels per second of N outstanding events in random order, 64 in flight, vs `clearTimeout` (plus the map bookkeeping).',
    baseline: SIDES.settimeout.label,
    chartMetrics: ['cancels/s'],
  },
  {
    key: 'storm-redis',
    title: '4a. Storm, Redis',
    description:
      'N events all due at the same instant (written with a send time of exactly that instant before it comes), then ' +
      'delivered by a `DelayedEventScheduler` on the Redis store (defaults: claim batch 256, 16 concurrent sends, events of ' +
      'one room in order) vs a BullMQ `Worker` with concurrency 100 (jobs added with `timestamp` + `delay` landing on the ' +
      'same instant). Lateness = time the host’s send callback / job processor is entered minus the instant; drain time = ' +
      'last delivery minus the instant; stall = largest event-loop delay in the delivering process ' +
      '(`monitorEventLoopDelay`, 1 ms resolution) from before the instant to the end of the drain.',
    baseline: SIDES.bullmq.label,
    chartMetrics: ['lateness p50', 'lateness p99', 'lateness max'],
    secondChart: { suffix: 'stall', title: '4a. Storm, Redis: largest event-loop stall', metrics: ['max event-loop stall'] },
  },
  {
    key: 'storm-memory',
    title: '4b. Storm, in memory',
    description:
      'N events due at the same instant, delivered by a `DelayedEventScheduler` on the memory store vs one `setTimeout` per ' +
      'event. Same measurements as 4a.',
    baseline: SIDES.settimeout.label,
    chartMetrics: ['lateness p50', 'lateness p99', 'lateness max'],
    secondChart: { suffix: 'stall', title: '4b. Storm, in memory: largest event-loop stall', metrics: ['max event-loop stall'] },
  },
  {
    key: 'memory-heap',
    title: '5a. Memory: heap bytes per outstanding event',
    description:
      'V8 `heapUsed` growth per outstanding event after a full GC (`global.gc()`), each side in a fresh child process ' +
      'with `--expose-gc`, first warmed up by delivering a 2,000-event storm (as a running host has; a cold process ' +
      'measured the `setTimeout` baseline up to ~5% larger at 1,000,000), then measured once per run after releasing ' +
      'the previous run. The input events are made before the first reading and kept alive past the second, so only ' +
      'what the side retains counts. Both sides hold the same data per event (IDs, room, type, state key, ~200-byte serialised ' +
      'content, delay, running-since); ours is scheduled through `DelayedEventScheduler.schedule()` on the memory store.',
    baseline: SIDES.settimeout.label,
    chartMetrics: ['heap bytes/event'],
  },
  {
    key: 'memory-redis',
    title: '5b. Memory: Redis bytes per outstanding event',
    description:
      'Growth of Redis `INFO memory` `used_memory` per outstanding event on an emptied server, ~200-byte content, ours ' +
      'scheduled through `DelayedEventScheduler.schedule()` on the Redis store, BullMQ through `addBulk` of delayed jobs with ' +
      'the same fields as job data (its default event stream, capped at ~10,000 entries, included as BullMQ runs by default).',
    baseline: SIDES.bullmq.label,
    chartMetrics: ['Redis bytes/event'],
  },
  {
    key: 'http-express',
    title: '6a. HTTP restart, Express',
    description:
      'Requests per second of `POST /_matrix/client/v1/delayed_events/{delay_id}` `{"action":"restart"}` from autocannon ' +
      '(programmatic, 50 connections, in the parent process) to a server in its own process; every server gets the ' +
      'identical request stream (each connection cycles over its own events and access token). Ours: the memory store ' +
      'behind `toExpressRouter(...)` in an Express 5 app, rate limits off. Ceiling: a bare Express 5 route answering `{}` ' +
      'without doing any work.',
    baseline: HTTP_SIDES.expressBare,
    chartMetrics: ['requests/s'],
  },
  {
    key: 'http-node',
    title: '6b. HTTP restart, node:http',
    description:
      'As 6a, through `toNodeHandler(...)` in a plain `node:http` server vs a bare `node:http` server answering `{}` without ' +
      'doing any work. The reference row is the same bare server reading (not parsing) the request body first, which ' +
      'any real restart handler has to do.',
    baseline: HTTP_SIDES.nodeBare,
    chartMetrics: ['requests/s'],
  },
  {
    key: 'fleet',
    title: '7. Fleet',
    description:
      'N events falling due spread evenly over one second, on one Redis store shared by several scheduler processes, vs ' +
      'one process. Lateness and drain as in 4; duplicate sends are counted by delay ID across all workers.',
    baseline: FLEET_ONE,
    chartMetrics: ['lateness p50', 'lateness p99', 'lateness max'],
  },
];
