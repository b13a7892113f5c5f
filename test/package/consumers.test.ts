/**
 * The published package as consumers get it: `npm pack` (which builds through `prepare`), then the
 * tarball installed into fresh projects under the OS temp directory:
 * - a TypeScript project (`module`/`moduleResolution` `nodenext`) importing every subpath, checked with
 *   this repository's `tsc`, from an ESM file and from a `.cts` (CommonJS) file;
 * - in the same project, a `require()` consumer that runs the scheduler with the `./testing` clock
 *   while Vitest is installed (the old `./testing` pulled Vitest in and failed under `require()`);
 * - a project with none of the optional peers, importing the main entry, `./testing` and `./node`
 *   from ESM and from CJS and running schedule → send.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmInstall, packRepo, repoVersionOf, run, runNode, TempDirs, TSC, writeFiles } from './helpers.js';
import { EXPECTED_SCENARIO, SCENARIO } from './scenario.js';
import type { Packed } from './helpers.js';

const OPTIONAL_PEERS = ['ioredis', 'express', 'vitest', 'fast-check', 'prom-client', 'fastify'];
const temp = new TempDirs();
let packed: Packed;
let withPeers: string;
let noPeers: string;

/** Sends one event through the real system clock, as an embedding server would with no test helpers. */
const SYSTEM_CLOCK_SEND = `
async function sendWithSystemClock(lib) {
  let resolveSent;
  const arrived = new Promise((resolve) => { resolveSent = resolve; });
  const scheduler = new lib.DelayedEventScheduler({ store: lib.createMemoryStore(), sendEvent: async (event) => resolveSent(event.content) });
  await scheduler.start();
  await scheduler.schedule({ userId: '@bob:example.org', roomId: '!room:example.org', type: 'org.example.sys', content: { ok: true }, delayMs: 0 });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('sendEvent not called within 5 s')), 5000).unref());
  const content = await Promise.race([arrived, timeout]);
  await scheduler.stop();
  return content;
}`;

const ESM_TS_CONSUMER = `
import { createServer } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { DelayedEventScheduler, createMemoryStore } from 'matrix-delayed-events';
import type { DelayedEventStore, DueDelayedEvent, Requester } from 'matrix-delayed-events';
import { ManualClock } from 'matrix-delayed-events/testing';
import { describeStoreConformance } from 'matrix-delayed-events/testing/conformance';
import type { StoreTestContext, StoreUnderTest } from 'matrix-delayed-events/testing/conformance';
import { createRedisDelayedEvents, createRedisStore } from 'matrix-delayed-events/redis';
import { createPrometheusMetrics } from 'matrix-delayed-events/prometheus';
import { toExpressRouter } from 'matrix-delayed-events/express';
import { toNodeHandler } from 'matrix-delayed-events/node';
import { toFetchHandler } from 'matrix-delayed-events/fetch';
import { delayedEventsPlugin } from 'matrix-delayed-events/fastify';
import Fastify from 'fastify';

const clock = new ManualClock(0);
const sent: DueDelayedEvent[] = [];
const client = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
const redis = createRedisDelayedEvents({ client, keyPrefix: 'mde' });
const store: DelayedEventStore = redis.store;
export const plainStore: DelayedEventStore = createRedisStore({ client, keyPrefix: 'other' });
const scheduler = new DelayedEventScheduler({
  clock,
  store,
  rateLimiter: redis.rateLimiter,
  metrics: createPrometheusMetrics(),
  sendEvent: async (event) => {
    sent.push(event);
  },
});
const who: Requester = { userId: '@alice:example.org', deviceId: 'PHONE' };
const { delayId } = await scheduler.schedule({ ...who, roomId: '!r:example.org', type: 'm.room.message', content: {}, delayMs: 0 });
export const id: string = delayId;

// Types resolved to \`any\` would accept these; each line must stay an error.
// @ts-expect-error delayMs is required
await scheduler.schedule({ ...who, roomId: '!r:example.org', type: 'm.room.message', content: {} });
// @ts-expect-error ManualClock.advance takes milliseconds
clock.advance('soon');

const authenticate = (): Requester => who;
express().use(toExpressRouter({ scheduler, authenticate }));
const fetchHandler = toFetchHandler({ scheduler, authenticate });
export const answered: Promise<Response | undefined> = fetchHandler(new Request('http://localhost/_matrix/client/v1/delayed_events'));
void Fastify().register(delayedEventsPlugin, { scheduler, authenticate });
const handle = toNodeHandler({ scheduler, authenticate });
createServer((req, res) => {
  void handle(req, res).then((handled) => {
    if (!handled) res.end();
  });
});

describeStoreConformance('memory', async (context: StoreTestContext): Promise<StoreUnderTest> => {
  context.clock.advance(1);
  return { store: createMemoryStore(), cleanup: async () => {} };
});
`;

const CTS_CONSUMER = `
import { DelayedEventScheduler } from 'matrix-delayed-events';
import { ManualClock } from 'matrix-delayed-events/testing';
import { createRedisStore } from 'matrix-delayed-events/redis';
import { toExpressRouter } from 'matrix-delayed-events/express';
import { toNodeHandler } from 'matrix-delayed-events/node';
// @ts-expect-error the conformance suite is ESM-only, so require() resolution must not find it
import { describeStoreConformance } from 'matrix-delayed-events/testing/conformance';

export const loaded = [DelayedEventScheduler, ManualClock, createRedisStore, toExpressRouter, toNodeHandler, describeStoreConformance];
// @ts-expect-error the CJS typings are real too
export const wrong: number = new ManualClock(0);
`;

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    types: ['node'],
    // The package's own .d.ts files are what is being checked, so they are not skipped.
    skipLibCheck: false,
  },
  files: ['consumer.ts', 'consumer-cjs.cts'],
});

const CJS_CONSUMER = `
const lib = require('matrix-delayed-events');
const testing = require('matrix-delayed-events/testing');
const redis = require('matrix-delayed-events/redis');
const node = require('matrix-delayed-events/node');
${SCENARIO}
let conformanceUnderRequire;
try {
  require('matrix-delayed-events/testing/conformance');
  conformanceUnderRequire = 'loaded';
} catch (error) {
  conformanceUnderRequire = error.code;
}
scenario(lib, testing).then((result) => {
  console.log(JSON.stringify({
    ...result,
    redis: typeof redis.createRedisStore,
    node: typeof node.toNodeHandler,
    conformanceUnderRequire,
    vitestLoaded: Object.keys(require.cache).some((file) => file.includes('/node_modules/vitest/')),
  }));
});
`;

const NO_PEERS_ESM = `
import * as lib from 'matrix-delayed-events';
import * as testing from 'matrix-delayed-events/testing';
import { toNodeHandler } from 'matrix-delayed-events/node';
${SCENARIO}
${SYSTEM_CLOCK_SEND}
const scenarioResult = await scenario(lib, testing);
const systemClock = await sendWithSystemClock(lib);
console.log(JSON.stringify({ scenario: scenarioResult, systemClock, node: typeof toNodeHandler }));
`;

const NO_PEERS_CJS = `
const lib = require('matrix-delayed-events');
const testing = require('matrix-delayed-events/testing');
const { toNodeHandler } = require('matrix-delayed-events/node');
${SCENARIO}
${SYSTEM_CLOCK_SEND}
(async () => {
  const scenarioResult = await scenario(lib, testing);
  const systemClock = await sendWithSystemClock(lib);
  console.log(JSON.stringify({ scenario: scenarioResult, systemClock, node: typeof toNodeHandler }));
})();
`;

function lastJsonLine(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
}

beforeAll(async () => {
  withPeers = temp.make('consumer-peers');
  noPeers = temp.make('consumer-no-peers');
  writeFiles(withPeers, {
    'package.json': JSON.stringify({ name: 'consumer-with-peers', private: true, type: 'module' }),
    'tsconfig.json': TSCONFIG,
    'consumer.ts': ESM_TS_CONSUMER,
    'consumer-cjs.cts': CTS_CONSUMER,
    'require-consumer.cjs': CJS_CONSUMER,
  });
  writeFiles(noPeers, {
    'package.json': JSON.stringify({ name: 'consumer-no-peers', private: true, type: 'module' }),
    'esm.mjs': NO_PEERS_ESM,
    'cjs.cjs': NO_PEERS_CJS,
  });
  // Peers at the versions this repository tests with, so the installs come from the warm npm cache. They
  // install while the build and pack run; adding the tarball afterwards is then a short second install.
  const peers = ['ioredis', 'express', '@types/express', 'vitest', 'fast-check', 'prom-client', 'fastify', '@types/node'].map(repoVersionOf);
  const [pack] = await Promise.all([packRepo(temp.make('pack')), npmInstall(withPeers, peers)]);
  packed = pack;
  await Promise.all([npmInstall(withPeers, [packed.tarball]), npmInstall(noPeers, [packed.tarball])]);
}, 300_000);

afterAll(() => {
  temp.cleanup();
});

describe('the packed tarball', () => {
  it('holds the built entries, types, README, LICENSE and CHANGELOG, and no sources or tests', () => {
    const files = new Set(packed.files);
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/testing.cjs',
      'dist/testing/conformance.js',
      'dist/testing/conformance.d.ts',
    ]) {
      expect(files, required).toContain(required);
    }
    // ESM-only: a CJS build of the conformance suite could only fail to load.
    expect(files).not.toContain('dist/testing/conformance.cjs');
    expect(packed.files.filter((f) => !/^(dist\/|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$)/.test(f))).toEqual([]);
  });
});

describe('a TypeScript consumer (nodenext) with every peer', () => {
  it('typechecks imports of every subpath, from ESM and from a .cts file', async () => {
    await run(process.execPath, [TSC, '-p', '.'], { cwd: withPeers, timeoutMs: 60_000 });
  }, 90_000);
});

describe('a require() consumer with every peer', () => {
  it('loads ./testing without Vitest, runs the scheduler on its ManualClock, and cannot require the ESM-only suite', async () => {
    const result = lastJsonLine(await runNode(withPeers, 'require-consumer.cjs'));
    expect(result).toEqual({
      ...EXPECTED_SCENARIO,
      redis: 'function',
      node: 'function',
      conformanceUnderRequire: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      vitestLoaded: false,
    });
  });
});

describe('a consumer without any optional peer', () => {
  it('has only the tarball and its own dependencies installed', () => {
    const installed = readdirSync(join(noPeers, 'node_modules')).filter((name) => !name.startsWith('.'));
    for (const peer of OPTIONAL_PEERS) expect(existsSync(join(noPeers, 'node_modules', peer)), peer).toBe(false);
    expect(installed).toContain('matrix-delayed-events');
  });

  it('imports the main entry, ./testing and ./node as ESM and sends a due event', async () => {
    const result = lastJsonLine(await runNode(noPeers, 'esm.mjs'));
    expect(result).toEqual({ scenario: EXPECTED_SCENARIO, systemClock: { ok: true }, node: 'function' });
  });

  it('requires the main entry, ./testing and ./node as CJS and sends a due event', async () => {
    const result = lastJsonLine(await runNode(noPeers, 'cjs.cjs'));
    expect(result).toEqual({ scenario: EXPECTED_SCENARIO, systemClock: { ok: true }, node: 'function' });
  });
});
