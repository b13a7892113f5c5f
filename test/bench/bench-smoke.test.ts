/**
 * Smoke test of the benchmark harness (bench/): every side of every scenario runs in-process at a tiny
 * size and must produce sane numbers. It asserts no timings, only that work was done and counted:
 * operations completed without failures, every storm event delivered exactly once, charts and the
 * report render. The measured benchmark is `npm run bench`.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createBullmqSide } from '../../bench/sides/bullmq.js';
import { createOursSide } from '../../bench/sides/ours.js';
import { createRawEvalshaSide } from '../../bench/sides/raw-evalsha.js';
import { createSetTimeoutSide } from '../../bench/sides/settimeout.js';
import type { Side, SideFactory } from '../../bench/sides/types.js';
import { Results } from '../../bench/lib/results.js';
import { evaluateTargets } from '../../bench/lib/targets.js';
import { writeReport } from '../../bench/lib/report.js';
import { renderBarChart } from '../../bench/lib/svg.js';
import { parseArgs } from '../../bench/lib/config.js';
import { median, permutation, summarise } from '../../bench/lib/stats.js';
import { SCENARIO_DOCS } from '../../bench/scenarios/docs.js';

const N = 200;
const opened: Side[] = [];

async function open(factory: SideFactory, redis: boolean): Promise<Side> {
  const side = await factory({ redisUrl: redis ? inject('redisUrl') : undefined, inFlight: 16 });
  opened.push(side);
  return side;
}

afterAll(async () => {
  for (const side of opened) {
    await side.release();
    await side.close();
  }
});

const SIDES: Array<[string, SideFactory, boolean]> = [
  ['memory store', createOursSide({ store: 'memory', via: 'store' }), false],
  ['memory scheduler', createOursSide({ store: 'memory', via: 'scheduler' }), false],
  ['setTimeout', createSetTimeoutSide, false],
  ['redis store', createOursSide({ store: 'redis', via: 'store' }), true],
  ['redis scheduler + limit', createOursSide({ store: 'redis', via: 'scheduler', redisManageLimit: true }), true],
  ['BullMQ', createBullmqSide, true],
];

describe('bench sides (tiny sizes)', () => {
  for (const [name, factory, redis] of SIDES) {
    it(`${name}: heartbeat, schedule and cancel complete every operation`, async () => {
      const side = await open(factory, redis);
      await side.heartbeatSetup!(N);
      const hb = await side.heartbeat!(N, 1);
      expect(hb).toMatchObject({ ops: N, failed: 0 });
      expect(hb.elapsedMs).toBeGreaterThan(0);
      const sc = await side.schedule!(N, 0);
      expect(sc).toMatchObject({ ops: N, failed: 0 });
      await side.cancelSetup!(N, 0);
      const ca = await side.cancel!(2);
      expect(ca).toMatchObject({ ops: N, failed: 0 });
      await side.release();
    });
  }

  it('raw EVALSHA ceiling: heartbeat completes', async () => {
    const side = await open(createRawEvalshaSide, true);
    await side.heartbeatSetup!(N);
    expect(await side.heartbeat!(N, 1)).toMatchObject({ ops: N, failed: 0 });
  });

  const STORM_SIDES: Array<[string, SideFactory, boolean]> = [
    ['memory scheduler', createOursSide({ store: 'memory', via: 'scheduler' }), false],
    ['setTimeout', createSetTimeoutSide, false],
    ['redis scheduler', createOursSide({ store: 'redis', via: 'scheduler' }), true],
    ['BullMQ worker', createBullmqSide, true],
  ];
  for (const [name, factory, redis] of STORM_SIDES) {
    it(`${name}: a storm delivers every event exactly once`, async () => {
      const side = await open(factory, redis);
      const r = await side.storm!(N, 0);
      expect(r).toMatchObject({ delivered: N, duplicates: 0, timedOut: false });
      expect(r.latenessP50Ms).toBeGreaterThanOrEqual(0);
      expect(r.latenessMaxMs).toBeGreaterThanOrEqual(r.latenessP99Ms);
      expect(r.drainMs).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(r.maxStallMs)).toBe(true);
    });
  }

  it('Redis sides fill Redis with the events asked for', async () => {
    for (const factory of [createOursSide({ store: 'redis', via: 'scheduler' }), createBullmqSide]) {
      const side = await open(factory, true);
      expect(await side.fill!(N)).toEqual({ added: N });
      await side.release();
    }
  });
});

describe('bench statistics, targets and report', () => {
  it('median, percentiles and permutations are right', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(summarise([5, 1, 4, 2, 3])).toEqual({ p50: 3, p99: 5, max: 5 });
    expect([...permutation(10, 7)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });

  it('flags parse, and a typo is an error', () => {
    expect(parseArgs(['--quick', '--runs=2']).runs).toBe(2);
    expect(() => parseArgs(['--hartbeat-redis-n=5'])).toThrow(/Bad flag/);
    expect(() => parseArgs(['--only=nothing'])).toThrow(/Unknown scenario/);
  });

  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('targets compare medians and the report embeds an SVG per scenario', () => {
    const results = new Results();
    for (const v of [100, 110, 120]) {
      results.record('heartbeat-redis', 'ours: RedisStore (store op)', 'restarts/s', v * 3, { unit: 'restarts/s', better: 'higher', ours: true });
      results.record('heartbeat-redis', 'BullMQ 6', 'restarts/s', v, { unit: 'restarts/s', better: 'higher', ours: false });
    }
    const targets = evaluateTargets(results, 3);
    expect(targets.find((t) => t.id === 'T1')).toMatchObject({ met: true });
    expect(targets.find((t) => t.id === 'T2')).toMatchObject({ met: undefined });
    const out = join(dir, 'benchmarks.md');
    const md = writeReport({
      results,
      targets,
      docs: SCENARIO_DOCS,
      env: {
        command: 'npm run bench',
        date: 'now',
        cpu: 'cpu',
        cores: 2,
        memory: '1 GiB',
        os: 'os',
        node: process.version,
        redis: '7',
        versions: {},
        commit: 'abc',
        durationS: 1,
      },
      config: parseArgs(['--quick']),
      out,
      notesFile: join(dir, 'none.md'),
    });
    expect(md).toContain('| T1 |');
    expect(md).toContain('![1a. Heartbeat (MatrixRTC restart), Redis](benchmarks/heartbeat-redis.svg)');
    const svg = readFileSync(join(dir, 'benchmarks', 'heartbeat-redis.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('330');
    expect(existsSync(join(dir, 'benchmarks', 'results.json'))).toBe(true);
  });

  it('charts escape labels', () => {
    const svg = renderBarChart({ title: 'a<b', series: ['x'], groups: [{ label: 'c&d', ours: true, values: [1] }], format: String });
    expect(svg).toContain('a&lt;b');
    expect(svg).toContain('c&amp;d');
  });
});
