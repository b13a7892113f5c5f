/**
 * Scenarios 1–3: heartbeat (restart), schedule and cancel throughput, `inFlight` operations pending at
 * once, each side in its own process, runs interleaved side by side.
 */
import type { Ctx } from '../lib/context.js';
import { withPooledSides } from '../lib/context.js';
import type { SideProcess } from '../lib/side-process.js';
import type { Timed } from '../sides/types.js';
import type { SideName } from '../sides/index.js';
import { fmt } from '../lib/stats.js';

/** Runs one timed call; for Redis scenarios also measures redis-server CPU per operation. */
async function timed(ctx: Ctx, scenario: string, side: SideProcess, metric: string, call: () => Promise<Timed>): Promise<void> {
  const redis = scenario.endsWith('-redis');
  const cpuBefore = redis ? await ctx.redisCpuSeconds() : 0;
  const result = await call();
  const cpuUs = redis ? ((await ctx.redisCpuSeconds()) - cpuBefore) * 1e6 : 0;
  record(ctx, scenario, side, metric, result);
  if (redis) {
    ctx.results.record(scenario, side.label, 'Redis CPU per op', cpuUs / result.ops, { unit: 'µs', better: 'lower', ours: side.ours });
  }
}

function record(ctx: Ctx, scenario: string, side: SideProcess, metric: string, timed: Timed): void {
  const rate = (timed.ops / timed.elapsedMs) * 1000;
  ctx.results.record(scenario, side.label, metric, rate, { unit: `${metric}`, better: 'higher', ours: side.ours });
  if (timed.failed > 0) ctx.results.note(scenario, side.label, metric, `${timed.failed} of ${timed.ops} operations failed`);
  ctx.log(`  ${side.label}: ${fmt(rate)} ${metric}${timed.failed ? ` (${timed.failed} failed)` : ''}`);
}

export const REDIS_HEARTBEAT_SIDES: SideName[] = ['redis-store', 'redis-scheduler', 'redis-scheduler-limit', 'bullmq', 'raw-evalsha'];
// `memory-scheduler-metrics` next to `memory-scheduler`: the metrics hook's cost on the hot path, same run.
export const MEMORY_HEARTBEAT_SIDES: SideName[] = ['memory-store', 'memory-scheduler', 'memory-scheduler-metrics', 'settimeout'];

/** Scenario 1: restarts/s in random order with N outstanding. */
export async function heartbeat(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  const groups: Array<[string, SideName[], number, number]> = [
    ['heartbeat-redis', REDIS_HEARTBEAT_SIDES, config.heartbeatRedisN, config.heartbeatRedisOps],
    ['heartbeat-memory', MEMORY_HEARTBEAT_SIDES, config.heartbeatMemoryN, config.heartbeatMemoryOps],
  ];
  for (const [scenario, names, n, ops] of groups) {
    await ctx.flush();
    ctx.log(`${scenario}: ${fmt(n)} outstanding, ${fmt(ops)} restarts per run`);
    await withPooledSides(ctx, names, async (sides) => {
      // One at a time: on two cores, parallel fills only contend.
      for (const side of sides) {
        const started = performance.now();
        await side.call('heartbeatSetup', n);
        ctx.log(`  ${side.label}: ${fmt(n)} events set up in ${fmt((performance.now() - started) / 1000)} s`);
      }
      for (let run = 0; run < config.runs; run++) {
        ctx.log(` run ${run + 1}/${config.runs}`);
        for (const side of sides) await timed(ctx, scenario, side, 'restarts/s', () => side.call('heartbeat', ops, 1000 + run));
      }
    });
    await ctx.flush();
  }
}

/** Scenario 2: schedules/s, cap check and transaction record on. */
export async function schedule(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  const groups: Array<[string, SideName[], number]> = [
    ['schedule-redis', ['redis-scheduler', 'redis-store', 'bullmq'], config.scheduleRedisN],
    ['schedule-memory', ['memory-scheduler', 'memory-store', 'settimeout'], config.scheduleMemoryN],
  ];
  for (const [scenario, names, n] of groups) {
    ctx.log(`${scenario}: ${fmt(n)} schedules per run`);
    await withPooledSides(ctx, names, async (sides) => {
      for (let run = 0; run < config.runs; run++) {
        ctx.log(` run ${run + 1}/${config.runs}`);
        for (const side of sides) {
          await ctx.flush();
          await timed(ctx, scenario, side, 'schedules/s', () => side.call('schedule', n, run));
        }
      }
    });
    await ctx.flush();
  }
}

/** Scenario 3: cancels/s of N outstanding events, in random order. */
export async function cancel(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  const groups: Array<[string, SideName[], number]> = [
    ['cancel-redis', ['redis-scheduler', 'redis-store', 'bullmq'], config.cancelRedisN],
    ['cancel-memory', ['memory-scheduler', 'memory-store', 'settimeout'], config.cancelMemoryN],
  ];
  for (const [scenario, names, n] of groups) {
    ctx.log(`${scenario}: ${fmt(n)} cancels per run`);
    await withPooledSides(ctx, names, async (sides) => {
      for (let run = 0; run < config.runs; run++) {
        ctx.log(` run ${run + 1}/${config.runs}`);
        for (const side of sides) {
          await ctx.flush();
          await side.call('cancelSetup', n, run);
          await timed(ctx, scenario, side, 'cancels/s', () => side.call('cancel', 2000 + run));
        }
      }
    });
    await ctx.flush();
  }
}
