/**
 * Scenario 5: memory per outstanding event with ~200-byte content. Heap: V8 `heapUsed` growth after a
 * full GC (`--expose-gc`), in a fresh process per side, warmed up by a small storm first. Redis: `INFO memory` `used_memory` growth on an
 * emptied server, per run.
 */
import type { Ctx } from '../lib/context.js';
import { withPooledSides, withSides } from '../lib/context.js';
import { fmt } from '../lib/stats.js';
import type { SideName } from '../sides/index.js';

export async function memory(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  const heapSides: SideName[] = ['memory-scheduler', 'settimeout'];
  ctx.log(`memory-heap: ${fmt(config.memoryHeapN)} outstanding events`);
  // A fresh process per side, warmed up first by delivering a small storm (as a running host has),
  // then measured `runs` times; the input events are made once per process. Heap sizes do not depend
  // on timing, so both sides run at once.
  await Promise.all(heapSides.map((name) =>
    withSides(ctx, [name], async ([side]) => {
      await side!.call('storm', Math.min(2_000, config.memoryHeapN), 99);
      await side!.call('release');
      for (let run = 0; run < config.runs; run++) {
        const r = await side!.call('memory', config.memoryHeapN);
        await side!.call('release');
        ctx.results.record('memory-heap', side!.label, 'heap bytes/event', r.heapBytesPerEvent, { unit: 'B', better: 'lower', ours: side!.ours });
        ctx.log(`  run ${run + 1}/${config.runs} ${side!.label}: ${fmt(r.heapBytesPerEvent)} heap bytes/event`);
      }
    }),
  ));
  const redisSides: SideName[] = ['redis-scheduler', 'bullmq'];
  ctx.log(`memory-redis: ${fmt(config.memoryRedisN)} outstanding events`);
  for (let run = 0; run < config.runs; run++) {
    ctx.log(` run ${run + 1}/${config.runs}`);
    for (const name of redisSides) {
      await ctx.flush();
      await withPooledSides(ctx, [name], async ([side]) => {
        const before = await ctx.usedMemory();
        const { added } = await side!.call('fill', config.memoryRedisN);
        const after = await ctx.usedMemory();
        const perEvent = (after - before) / added;
        ctx.results.record('memory-redis', side!.label, 'Redis bytes/event', perEvent, { unit: 'B', better: 'lower', ours: side!.ours });
        ctx.log(`  ${side!.label}: ${fmt(perEvent)} Redis used_memory bytes/event`);
      });
    }
  }
  await ctx.flush();
}
