/**
 * Runnable example: `npm run example:multi-worker` (needs a Redis; REDIS_URL, default
 * redis://127.0.0.1:6379). Starts WORKERS worker processes (default 3), schedules EVENTS delayed
 * events (default 10000) due within a few seconds, SIGKILLs one worker mid-way and prints how many
 * were delivered, how many duplicate hand-overs the host dropped and how many were lost.
 */
import { runBurst } from './burst.js';

const result = await runBurst({
  redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  prefix: `mw${process.pid}`,
  workers: Number(process.env['WORKERS'] ?? 3),
  events: Number(process.env['EVENTS'] ?? 10_000),
  log: (line) => console.log(line),
});
console.log(`scheduled:          ${result.scheduled}`);
console.log(`delivered:          ${result.delivered} (by worker: ${JSON.stringify(result.byWorker)})`);
console.log(`duplicates dropped: ${result.duplicatesDropped}`);
console.log(`lost:               ${result.lost}`);
console.log(`repeated in room:   ${result.repeatedInRoom}`);
console.log(`disruption:         ${result.disruption}`);
console.log(`lateness (ms):      p50 ${result.latenessMs.p50}, p99 ${result.latenessMs.p99}, max ${result.latenessMs.max}`);
process.exit(result.lost === 0 && result.repeatedInRoom === 0 && result.delivered === result.scheduled ? 0 : 1);
