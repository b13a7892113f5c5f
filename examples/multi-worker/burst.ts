/**
 * The burst scenario, shared by `run.ts` (the runnable example) and the integration tests: N worker
 * processes share one Redis schedule; a burst of events falls due within a few seconds; mid-way a
 * disruption strikes (by default one worker is SIGKILLed); at the end every scheduled delayId must be
 * in the room exactly once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { DelayedEventScheduler, RateLimiter } from '../../src/index.js';
import { createRedisStore } from '../../src/redis/index.js';
import { openRoom, type RoomStats } from './room.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A running worker process. */
export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
}

/** Options of {@link runBurst}. */
export interface BurstOptions {
  readonly redisUrl: string;
  /** Key prefix of this run; everything under it is deleted at the end. */
  readonly prefix: string;
  readonly workers?: number;
  readonly events?: number;
  /** Events fall due between `firstDueMs` and `firstDueMs + spreadMs` after scheduling starts. */
  readonly firstDueMs?: number;
  readonly spreadMs?: number;
  readonly leaseMs?: number;
  readonly sendWorkMs?: number;
  /** Fraction of events delivered before the disruption. */
  readonly disruptAt?: number;
  /** What happens mid-way; default: SIGKILL the first worker. */
  readonly disrupt?: (workers: readonly WorkerProcess[]) => Promise<string>;
  /** Give up waiting after this long, in ms. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** What {@link runBurst} found. */
export interface BurstResult extends RoomStats {
  readonly scheduled: number;
  /** Scheduled delayIds missing from the room. */
  readonly lost: number;
  /** delayIds in the room more than once (must be 0: the host dedupes). */
  readonly repeatedInRoom: number;
  /** What the disruption did. */
  readonly disruption: string;
  /** Lateness (arrival − scheduled time) percentiles, in ms. */
  readonly latenessMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Wall time from the first scheduled event's due time to the last delivery, in ms. */
  readonly elapsedMs: number;
}

/** SIGKILLs the first worker (the default disruption). */
export async function killFirstWorker(workers: readonly WorkerProcess[]): Promise<string> {
  const victim = workers[0];
  if (victim === undefined) return 'no worker to kill';
  victim.child.kill('SIGKILL');
  await new Promise((resolve) => (victim.child.exitCode !== null || victim.child.signalCode !== null ? resolve(undefined) : victim.child.once('exit', resolve)));
  return `SIGKILLed worker ${victim.id}`;
}

function startWorker(id: string, options: BurstOptions): Promise<WorkerProcess> {
  const child = fork(join(here, 'worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      REDIS_URL: options.redisUrl,
      MDE_PREFIX: options.prefix,
      WORKER_ID: id,
      LEASE_MS: String(options.leaseMs ?? 3000),
      SEND_WORK_MS: String(options.sendWorkMs ?? 1),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve({ id, child }));
    child.once('exit', (code) => reject(new Error(`worker ${id} exited early (code ${code})`)));
  });
}

async function deleteByPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs the scenario and reports what the room holds. */
export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const log = options.log ?? (() => {});
  const count = options.events ?? 10_000;
  const firstDueMs = options.firstDueMs ?? 2000;
  const spreadMs = options.spreadMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const client = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  const workers: WorkerProcess[] = [];
  try {
    workers.push(...(await Promise.all(Array.from({ length: options.workers ?? 3 }, (_, i) => startWorker(`w${i + 1}`, options)))));
    log(`${workers.length} workers ready`);

    // The scheduling side: a scheduler that is never started (this process only accepts requests).
    const store = createRedisStore({ client, keyPrefix: options.prefix });
    const unlimited = new RateLimiter({ buckets: { schedule: false, manage: false, send: false, delivery: false } });
    const scheduler = new DelayedEventScheduler({ store, rateLimiter: unlimited, sendEvent: () => {}, maxOutstandingPerUser: 1_000_000 });
    const ids: string[] = [];
    const startMs = Date.now();
    for (let i = 0; i < count; i += 250) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 250); j++) {
        const dueIn = firstDueMs + Math.floor((j / count) * spreadMs) - (Date.now() - startMs);
        batch.push(
          scheduler.schedule({
            userId: `@user${j % 200}:example.org`,
            deviceId: 'DEV',
            roomId: `!room${j % 100}:example.org`,
            type: 'm.room.message',
            content: { msgtype: 'm.text', body: `burst message ${j} 🚀` },
            delayMs: Math.max(0, dueIn),
          }),
        );
      }
      for (const { delayId } of await Promise.all(batch)) ids.push(delayId);
    }
    log(`scheduled ${ids.length} events in ${Date.now() - startMs} ms, due ${firstDueMs}..${firstDueMs + spreadMs} ms after the start`);
    await store.close();

    const room = openRoom(client, `${options.prefix}-host`);
    const disruptAt = Math.floor(count * (options.disruptAt ?? 0.3));
    let disruption = 'none';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = await room.stats().catch(() => undefined);
      if (stats !== undefined) {
        if (disruption === 'none' && stats.delivered >= disruptAt && (stats.byWorker['w1'] ?? 0) > 0) {
          disruption = await (options.disrupt ?? killFirstWorker)(workers);
          log(`${disruption} after ${stats.delivered} deliveries`);
        }
        if (stats.delivered >= count && disruption !== 'none') break;
      }
      if (Date.now() > deadline) break;
      await sleep(20);
    }
    const elapsedMs = Date.now() - startMs - firstDueMs;
    const delivered = await room.delayIds();
    const seen = new Set(delivered);
    const lateness = (await room.lateness()).sort((a, b) => a - b);
    const stats = await room.stats();
    return {
      ...stats,
      scheduled: ids.length,
      lost: ids.filter((id) => !seen.has(id)).length,
      repeatedInRoom: delivered.length - seen.size,
      disruption,
      latenessMs: { p50: percentile(lateness, 50), p99: percentile(lateness, 99), max: lateness[lateness.length - 1] ?? 0 },
      elapsedMs,
    };
  } finally {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.send?.({ type: 'stop' });
        const exited = new Promise((resolve) => worker.child.once('exit', resolve));
        if ((await Promise.race([exited, sleep(3000, 'timeout')])) === 'timeout') worker.child.kill('SIGKILL');
      }
    }
    await deleteByPrefix(client, options.prefix).catch(() => {});
    client.disconnect();
  }
}
