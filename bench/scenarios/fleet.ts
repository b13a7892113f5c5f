/**
 * Scenario 7: N events falling due evenly over one second, delivered by several scheduler processes
 * sharing one Redis store, vs by one process. Lateness, drain and duplicate sends.
 */
import { Redis } from 'ioredis';
import { createRedisDelayedEvents } from '../../src/redis/index.js';
import type { Ctx } from '../lib/context.js';
import { Child } from '../lib/child.js';
import { makeEvents } from '../lib/data.js';
import { fmt, runLanes, sleep, summarise } from '../lib/stats.js';
import { FLEET_MANY, FLEET_ONE } from '../lib/targets.js';
import { CAP_PER_USER } from '../sides/common.js';
import type { Delivery } from '../children/fleet-worker.js';

type WorkerMessage = { ready: true } | { deliveries: Delivery[] } | { stopped: true };

async function fleetRun(ctx: Ctx, workers: number, run: number): Promise<void> {
  const { config } = ctx;
  const n = config.fleetN;
  const keyPrefix = `fleet${workers}r${run}`;
  await ctx.flush();
  const seen = new Map<string, number>();
  const lateness: number[] = [];
  const perWorker = new Array<number>(workers).fill(0);
  let duplicates = 0;
  let last = 0;
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const children: Array<Child<WorkerMessage>> = [];
  const pumps: Array<Promise<void>> = [];
  const client = new Redis(ctx.redis.url, { maxRetriesPerRequest: 20 });
  const { store } = createRedisDelayedEvents({ client, keyPrefix, buckets: { schedule: false, manage: false, send: false, delivery: false } });
  try {
    for (let w = 0; w < workers; w++) {
      const child = new Child<WorkerMessage>('children/fleet-worker.ts', [ctx.redis.url, keyPrefix]);
      children.push(child);
      const first = await child.next(60_000);
      if (!('ready' in first)) throw new Error('fleet worker did not start');
      pumps.push(
        (async () => {
          for (;;) {
            const message = await child.next();
            if ('stopped' in message) return;
            if (!('deliveries' in message)) continue;
            for (const [id, late, at] of message.deliveries) {
              perWorker[w]!++;
              if (seen.has(id)) {
                duplicates++;
                continue;
              }
              seen.set(id, at);
              lateness.push(late);
              last = Math.max(last, at);
              if (seen.size === n) resolveAll();
            }
          }
        })().catch(() => {}),
      );
    }
    // Schedule from this process (as if another worker had accepted the requests): due times spread
    // evenly over the window, starting once every event is in.
    const events = makeEvents(n, `fl${workers}r${run}`);
    const startAt = Date.now() + 1_500 + Math.ceil(n * 0.3);
    await runLanes(n, config.inFlight, async (i) => {
      const ev = events[i]!;
      const nowMs = Date.now();
      const sendAt = startAt + Math.floor((i * config.fleetWindowMs) / n);
      const result = await store.add(
        {
          delayId: ev.delayId,
          userId: ev.userId,
          deviceId: ev.deviceId,
          roomId: ev.roomId,
          type: ev.type,
          stateKey: ev.stateKey,
          contentJson: ev.contentJson,
          delayMs: sendAt - nowMs,
          txnKey: undefined,
        },
        { nowMs, maxPerUser: CAP_PER_USER, txnTtlMs: 86_400_000 },
      );
      if (!result.ok) throw new Error('fleet add refused');
    });
    if (Date.now() > startAt - 200) ctx.results.remark('fleet', `run ${run + 1} (${workers} workers): scheduling overran the start of the window`);
    const timeout = sleep(Math.max(0, startAt + config.fleetWindowMs + 60_000 - Date.now())).then(() => 'timeout' as const);
    const outcome = await Promise.race([all.then(() => 'done' as const), timeout]);
    await sleep(300); // let a late duplicate show up
    for (const child of children) child.send('stop');
    await Promise.all(pumps);
    const label = workers === 1 ? FLEET_ONE : FLEET_MANY(workers);
    const s = summarise(lateness);
    const drainMs = last - startAt;
    const opts = (unit: string, better: 'higher' | 'lower') => ({ unit, better, ours: true });
    ctx.results.record('fleet', label, 'lateness p50', s.p50, opts('ms', 'lower'));
    ctx.results.record('fleet', label, 'lateness p99', s.p99, opts('ms', 'lower'));
    ctx.results.record('fleet', label, 'lateness max', s.max, opts('ms', 'lower'));
    ctx.results.record('fleet', label, 'drain time', drainMs, opts('ms', 'lower'));
    ctx.results.record('fleet', label, 'drain rate', (seen.size / drainMs) * 1000, opts('events/s', 'higher'));
    ctx.results.record('fleet', label, 'duplicate sends', duplicates, opts('sends', 'lower'));
    if (outcome === 'timeout') ctx.results.note('fleet', label, 'lateness p50', `run ${run + 1}: only ${seen.size} of ${n} delivered`);
    ctx.log(
      `  ${label}: p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms, drain ${fmt(drainMs)} ms, ` +
        `${seen.size}/${n} delivered, ${duplicates} duplicates, per worker ${perWorker.join('/')}`,
    );
  } finally {
    for (const child of children) await child.close();
    await store.close?.();
    client.disconnect();
  }
}

export async function fleet(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  ctx.log(`fleet: ${fmt(config.fleetN)} events due within ${config.fleetWindowMs} ms, 1 vs ${config.fleetWorkers} workers`);
  for (let run = 0; run < config.runs; run++) {
    ctx.log(` run ${run + 1}/${config.runs}`);
    await fleetRun(ctx, 1, run);
    await fleetRun(ctx, config.fleetWorkers, run);
  }
  await ctx.flush();
}
