/**
 * Several scheduler processes on one Redis store: delivery with a worker SIGKILLed mid-way, the
 * per-user cap raced across processes, and a Redis restart (AOF) mid-run. Real time and real child
 * processes, so each case is bounded.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { runBurst, type BurstResult } from '../../examples/multi-worker/burst.js';
import { ALICE } from '../helpers/fixtures.js';
import { startPrivateRedis } from '../setup/redis-server.js';
import { deleteByPrefix, newClient, redisUrl } from './helpers/redis.js';

const here = dirname(fileURLToPath(import.meta.url));
const client = newClient();
afterAll(() => client.quit());

function report(name: string, result: BurstResult): void {
  console.log(
    `[${name}] scheduled ${result.scheduled}, delivered ${result.delivered}, duplicates dropped by the host ` +
      `${result.duplicatesDropped}, lost ${result.lost}, by worker ${JSON.stringify(result.byWorker)}; ${result.disruption}; ` +
      `lateness p50 ${result.latenessMs.p50} ms, p99 ${result.latenessMs.p99} ms, max ${result.latenessMs.max} ms`,
  );
}

describe('many workers, one schedule', () => {
  it('delivers 10,000 events exactly once when one of 3 workers is SIGKILLed mid-delivery', { timeout: 90_000 }, async () => {
    const result = await runBurst({ redisUrl: redisUrl(), prefix: `mp${process.pid}a`, workers: 3, events: 10_000, leaseMs: 2000, timeoutMs: 60_000 });
    report('SIGKILL', result);
    expect(result.disruption).toMatch(/SIGKILLed worker w1/);
    expect(result.lost).toBe(0);
    expect(result.repeatedInRoom).toBe(0);
    expect(result.delivered).toBe(10_000);
    // The survivors picked up the work, including the dead worker's lapsed claims.
    expect((result.byWorker['w2'] ?? 0) + (result.byWorker['w3'] ?? 0)).toBeGreaterThan(0);
  });

  it('admits exactly the cap when 3 processes race 20 schedules each for one user (cap 10)', { timeout: 30_000 }, async () => {
    const prefix = `mp${process.pid}b`;
    const children = Array.from({ length: 3 }, () =>
      fork(join(here, 'workers/cap-race-worker.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, REDIS_URL: redisUrl(), MDE_PREFIX: prefix, CAP: '10' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    try {
      await Promise.all(children.map((child) => new Promise((resolve) => child.once('message', resolve))));
      const results = children.map(
        (child) => new Promise<{ admitted: number; capped: number; other: number }>((resolve) => child.once('message', resolve)),
      );
      for (const child of children) child.send({ type: 'go', count: 20 });
      const totals = (await Promise.all(results)).reduce(
        (sum, r) => ({ admitted: sum.admitted + r.admitted, capped: sum.capped + r.capped, other: sum.other + r.other }),
        { admitted: 0, capped: 0, other: 0 },
      );
      console.log(`[cap race] per process: admitted/capped ${JSON.stringify(totals)}`);
      expect(totals).toEqual({ admitted: 10, capped: 50, other: 0 });
      expect(await client.zcard(`${prefix}:{${prefix}}:u:${ALICE.userId}`)).toBe(10);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await deleteByPrefix(client, `${prefix}:`);
    }
  });

  it('loses nothing when Redis (AOF on) is killed and restarted mid-run', { timeout: 90_000 }, async () => {
    const server = await startPrivateRedis({ aof: true });
    try {
      const result = await runBurst({
        redisUrl: server.url,
        prefix: `mp${process.pid}c`,
        workers: 3,
        events: 3000,
        leaseMs: 2000,
        timeoutMs: 60_000,
        disruptAt: 0.3,
        disrupt: async () => {
          await server.stop('SIGKILL');
          await sleep(1000);
          await server.restart();
          return 'Redis SIGKILLed, down 1 s, restarted from its AOF';
        },
      });
      report('Redis restart', result);
      expect(result.disruption).toMatch(/restarted/);
      expect(result.lost).toBe(0);
      expect(result.repeatedInRoom).toBe(0);
      expect(result.delivered).toBe(3000);
    } finally {
      await server.stop();
      server.dispose();
    }
  });
});
