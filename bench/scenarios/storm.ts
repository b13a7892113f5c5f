/**
 * Scenario 4: N events due at the same instant. Lateness (delivery time minus the instant) p50/p99/max,
 * time to drain, and the largest event-loop stall in the delivering process during the storm.
 */
import type { Ctx } from '../lib/context.js';
import { withPooledSides } from '../lib/context.js';
import { fmt } from '../lib/stats.js';
import type { SideName } from '../sides/index.js';

export const STORM_METRICS = [
  ['lateness p50', 'ms', 'lower'],
  ['lateness p99', 'ms', 'lower'],
  ['lateness max', 'ms', 'lower'],
  ['drain time', 'ms', 'lower'],
  ['drain rate', 'events/s', 'higher'],
  ['max event-loop stall', 'ms', 'lower'],
] as const;

export async function storm(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  const groups: Array<[string, SideName[], number]> = [
    ['storm-redis', ['redis-scheduler', 'bullmq'], config.stormRedisN],
    ['storm-memory', ['memory-scheduler', 'settimeout'], config.stormMemoryN],
  ];
  for (const [scenario, names, n] of groups) {
    ctx.log(`${scenario}: ${fmt(n)} events due at one instant`);
    await withPooledSides(ctx, names, async (sides) => {
      for (let run = 0; run < config.runs; run++) {
        ctx.log(` run ${run + 1}/${config.runs}`);
        for (const side of sides) {
          await ctx.flush();
          const r = await side.call('storm', n, run);
          const drainRate = r.drainMs > 0 ? (r.delivered / r.drainMs) * 1000 : Number.POSITIVE_INFINITY;
          const values: Record<(typeof STORM_METRICS)[number][0], number> = {
            'lateness p50': r.latenessP50Ms,
            'lateness p99': r.latenessP99Ms,
            'lateness max': r.latenessMaxMs,
            'drain time': r.drainMs,
            'drain rate': drainRate,
            'max event-loop stall': r.maxStallMs,
          };
          for (const [metric, unit, better] of STORM_METRICS) {
            ctx.results.record(scenario, side.label, metric, values[metric], { unit, better, ours: side.ours });
          }
          if (r.timedOut) ctx.results.note(scenario, side.label, 'drain time', `run ${run + 1}: only ${r.delivered} of ${n} delivered in time`);
          if (r.duplicates > 0) ctx.results.note(scenario, side.label, 'drain time', `run ${run + 1}: ${r.duplicates} duplicate deliveries`);
          ctx.log(
            `  ${side.label}: p50 ${fmt(r.latenessP50Ms)} p99 ${fmt(r.latenessP99Ms)} max ${fmt(r.latenessMaxMs)} ms, ` +
              `drain ${fmt(r.drainMs)} ms (${fmt(drainRate)}/s), stall ${fmt(r.maxStallMs)} ms, ${r.delivered}/${n}` +
              (r.duplicates ? `, ${r.duplicates} dup` : ''),
          );
        }
      }
    });
    await ctx.flush();
  }
}
