/**
 * `npm run bench` — measures this library against BullMQ and `setTimeout`-per-event (and against raw
 * Redis / bare HTTP ceilings) in one invocation, and writes docs/benchmarks.md with SVG charts.
 *
 * `npm run bench -- --quick` is a short smoke run (small N; report written to a temporary directory
 * unless `--out` is given). `--help` lists every size flag.
 */
import { execSync } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { cpus, totalmem, tmpdir, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs, SCENARIOS, type BenchConfig } from './lib/config.js';
import { SidePool, type Ctx } from './lib/context.js';
import { startRedisServer } from './lib/redis-server.js';
import { writeReport, type Environment } from './lib/report.js';
import { Results, type Row } from './lib/results.js';
import { evaluateTargets } from './lib/targets.js';
import { SCENARIO_DOCS } from './scenarios/docs.js';
import { fleet } from './scenarios/fleet.js';
import { http } from './scenarios/http.js';
import { memory } from './scenarios/memory.js';
import { storm } from './scenarios/storm.js';
import { cancel, heartbeat, schedule } from './scenarios/throughput.js';

const RUNNERS: Record<(typeof SCENARIOS)[number], (ctx: Ctx) => Promise<void>> = {
  heartbeat,
  schedule,
  cancel,
  storm,
  memory,
  http,
  fleet,
};

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join('node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function shell(command: string): string {
  try {
    return execSync(command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Writes the report again from an earlier run's results.json (e.g. after editing bench/NOTES.md). */
function rerender(file: string): void {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as {
    env: Environment;
    config: BenchConfig;
    rows: Row[];
    remarks?: Array<[string, string[]]>;
  };
  const results = new Results();
  results.rows.push(...saved.rows);
  for (const [scenario, list] of saved.remarks ?? []) results.remarks.set(scenario, list);
  const targets = evaluateTargets(results, saved.config.fleetWorkers);
  const out = saved.config.out || 'docs/benchmarks.md';
  writeReport({ results, targets, docs: SCENARIO_DOCS, env: saved.env, config: saved.config, out, notesFile: 'bench/NOTES.md' });
  console.log(`re-rendered ${out} from ${file} (measured ${saved.env.date})`);
}

async function main(): Promise<void> {
  // Ctrl-C / kill: exit normally so exit handlers stop the private redis-server.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const argv = process.argv.slice(2);
  const config = parseArgs(argv);
  if (config.render) {
    rerender(config.render);
    return;
  }
  const started = performance.now();
  const log = (message: string): void => console.log(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}`);
  const redis = await startRedisServer();
  log(`redis-server ${redis.version} on ${redis.url}`);
  const admin = redis.client();
  const results = new Results();
  const ctx: Ctx = {
    config,
    results,
    redis,
    pool: new SidePool(() => ({ redisUrl: redis.url, inFlight: config.inFlight })),
    log,
    async flush() {
      await admin.flushall();
    },
    async redisCpuSeconds() {
      const info = await admin.info('cpu');
      const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? Number.NaN);
      const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? Number.NaN);
      return user + sys;
    },
    async usedMemory() {
      const info = await admin.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
    },
  };
  const selected = config.only.length > 0 ? config.only : [...SCENARIOS];
  const failures: string[] = [];
  try {
    for (const name of SCENARIOS) {
      if (!selected.includes(name)) continue;
      try {
        await RUNNERS[name](ctx);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${name}: ${message}`);
        log(`scenario ${name} FAILED: ${message}`);
        results.remark(name, `This scenario failed in this invocation: ${message.split('\n')[0]}`);
      }
    }
  } finally {
    await ctx.pool.closeAll();
    admin.disconnect();
    await redis.stop();
  }

  const targets = evaluateTargets(results, config.fleetWorkers);
  console.log('\nTargets:');
  for (const t of targets) {
    console.log(`  ${t.id.padEnd(4)} ${t.met === undefined ? 'not measured' : t.met ? 'met    ' : 'NOT MET'}  ${t.target}: ${t.result}`);
  }
  const durationS = (performance.now() - started) / 1000;
  if (config.write) {
    const out = config.out || join(mkdtempSync(join(tmpdir(), 'mde-bench-')), 'benchmarks.md');
    const cpu = cpus()[0]?.model ?? 'unknown';
    const env: Environment = {
      command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      cpu: shell("lscpu | sed -n 's/^Model name: *//p'") || cpu,
      cores: cpus().length,
      memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      os: `${osType()} ${release()}`,
      node: process.version,
      redis: redis.version,
      versions: {
        'matrix-delayed-events': (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version,
        bullmq: version('bullmq'),
        ioredis: version('ioredis'),
        express: version('express'),
        autocannon: version('autocannon'),
        'rate-limiter-flexible': version('rate-limiter-flexible'),
        tsx: version('tsx'),
      },
      commit: shell('git rev-parse --short HEAD') + (shell('git status --porcelain src') ? ' (with uncommitted changes in src/)' : ''),
      durationS,
    };
    writeReport({ results, targets, docs: SCENARIO_DOCS, env, config, out, notesFile: 'bench/NOTES.md' });
    log(`report written to ${out}`);
  }
  log(`done in ${durationS.toFixed(1)} s`);
  if (failures.length > 0) {
    console.error(`\n${failures.length} scenario(s) failed:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  // A CLI: don't wait for sockets some client library keeps half-open.
  .finally(() => process.exit());
