/**
 * Profiling aid for a missed target: runs one side of one scenario in this process (so
 * `node --cpu-prof` sees the side's own work), against a private redis-server when the side needs one,
 * and prints, for each of 3 runs, the rate plus Redis' per-command statistics and CPU time of that
 * run's measured phase (setup excluded, except in the storm, which schedules its own events).
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts redis-store heartbeat 100000 50000
 *   npx tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile
 *
 * Scenarios: heartbeat N OPS | schedule N | cancel N | storm N.
 */
import type { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from './lib/redis-server.js';
import { SIDES, type SideName } from './sides/index.js';
import { fmt } from './lib/stats.js';

/** redis-server's own CPU time so far (user + sys), in seconds. */
async function redisCpuSeconds(admin: Redis): Promise<number> {
  const cpu = await admin.info('cpu');
  let total = 0;
  for (const line of cpu.split('\n')) {
    const match = /^used_cpu_(?:sys|user):([\d.]+)/.exec(line.trim());
    if (match) total += Number(match[1]);
  }
  return total;
}

async function main(): Promise<void> {
  const [sideName, scenario = 'heartbeat', nArg = '100000', opsArg] = process.argv.slice(2) as [SideName, string?, string?, string?];
  const info = SIDES[sideName];
  if (!info) throw new Error(`side must be one of ${Object.keys(SIDES).join(', ')}`);
  const n = Number(nArg);
  const ops = Number(opsArg ?? nArg);
  const needsRedis = sideName.startsWith('redis') || sideName === 'bullmq' || sideName === 'raw-evalsha';
  let redis: RedisServer | undefined;
  let admin: Redis | undefined;
  if (needsRedis) {
    redis = await startRedisServer();
    admin = redis.client();
  }
  const side = await info.factory({ redisUrl: redis?.url, inFlight: 64 });
  try {
    if (scenario === 'heartbeat') await side.heartbeatSetup!(n);
    if (scenario === 'cancel') await side.cancelSetup!(n, 0);
    for (let run = 0; run < 3; run++) {
      // Setup (a cancel run's adds, the flush before a schedule run) stays out of the Redis figures.
      if (scenario === 'schedule' || scenario === 'storm') await admin?.flushall();
      if (scenario === 'cancel' && run > 0) await side.cancelSetup!(n, run);
      await admin?.config('RESETSTAT');
      const cpuBefore = admin ? await redisCpuSeconds(admin) : 0;
      if (scenario === 'heartbeat') {
        const r = await side.heartbeat!(ops, run + 1);
        console.log(`${info.label}: ${fmt((r.ops / r.elapsedMs) * 1000)} restarts/s (${r.failed} failed)`);
      } else if (scenario === 'schedule') {
        const r = await side.schedule!(n, run);
        console.log(`${info.label}: ${fmt((r.ops / r.elapsedMs) * 1000)} schedules/s (${r.failed} failed)`);
      } else if (scenario === 'cancel') {
        const r = await side.cancel!(run + 1);
        console.log(`${info.label}: ${fmt((r.ops / r.elapsedMs) * 1000)} cancels/s (${r.failed} failed)`);
      } else if (scenario === 'storm') {
        // The storm side schedules its events itself, so these figures include that setup.
        const r = await side.storm!(n, run);
        console.log(`${info.label}: storm ${JSON.stringify(r)}`);
      } else {
        throw new Error(`unknown scenario ${scenario}`);
      }
      if (admin) {
        const stats = await admin.info('commandstats');
        console.log(stats.split('\n').filter((line) => line.includes('calls=')).map((line) => `  ${line.trim()}`).join('\n'));
        console.log(`  redis CPU during run ${run + 1}: ${((await redisCpuSeconds(admin)) - cpuBefore).toFixed(3)} s`);
      }
    }
  } finally {
    await side.release();
    await side.close();
    admin?.disconnect();
    await redis?.stop();
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
