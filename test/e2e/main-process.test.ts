/**
 * `npm run example` as a process: environment parsing, the printed URL, configuration that takes
 * effect, invalid values (exit 1 with a clear message), graceful SIGTERM, and the Redis store.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { EnvConfigError, readEnvConfig } from '../../examples/express-homeserver/config.js';
import { complementRoom, DELAY } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;
const MAIN = 'examples/express-homeserver/main.ts';

interface Child {
  readonly url: Promise<string>;
  readonly exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

function runMain(env: Record<string, string>): Child {
  const child = spawn(TSX, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let resolveUrl: (url: string) => void = () => {};
  const url = new Promise<string>((resolve) => (resolveUrl = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const m = /listening on (http:\/\/\S+)/.exec(stdout);
    if (m?.[1]) resolveUrl(m[1]);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { url, exit, kill: (signal) => child.kill(signal) };
}

describe('readEnvConfig', () => {
  it('defaults', () => {
    expect(readEnvConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8008,
      serverName: 'localhost',
      maxDelayMs: undefined,
      maxPerUser: undefined,
      rateLimits: undefined,
      cancelOnNewerState: undefined,
      profile: 'msc4140-2024',
      store: 'memory',
      redisUrl: 'redis://127.0.0.1:6379',
    });
  });

  it('valid values', () => {
    const c = readEnvConfig({
      HOST: '0.0.0.0',
      PORT: '9000',
      DELAYED_EVENTS_MAX_DELAY_MS: '60000',
      DELAYED_EVENTS_MAX_PER_USER: '0',
      DELAYED_EVENTS_RATE_LIMITS: '{"manage":{"points":10,"duration":5},"send":false,"schedule":{"points":3,"durationMs":1500}}',
      DELAYED_EVENTS_CANCEL_ON_NEWER_STATE: 'never',
      DELAYED_EVENTS_STORE: 'redis',
      REDIS_URL: 'redis://127.0.0.1:6390',
    });
    expect(c).toMatchObject({ host: '0.0.0.0', port: 9000, maxDelayMs: 60_000, maxPerUser: 0, cancelOnNewerState: 'never', store: 'redis' });
    expect(c.rateLimits).toEqual({ manage: { points: 10, durationMs: 5000 }, send: false, schedule: { points: 3, durationMs: 1500 } });
    expect(readEnvConfig({ DELAYED_EVENTS_RATE_LIMITS: 'off' }).rateLimits).toBe('off');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DELAYED_EVENTS_MAX_DELAY_MS', '-5'],
    ['DELAYED_EVENTS_MAX_DELAY_MS', '0'],
    ['DELAYED_EVENTS_MAX_DELAY_MS', '1.5'],
    ['DELAYED_EVENTS_MAX_DELAY_MS', '99999999999999999999'],
    ['DELAYED_EVENTS_MAX_PER_USER', 'many'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{bad'],
    ['DELAYED_EVENTS_RATE_LIMITS', '[]'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"nope":{"points":1,"duration":1}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":0,"duration":1}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":1}}'],
    ['DELAYED_EVENTS_CANCEL_ON_NEWER_STATE', 'sometimes'],
    ['DELAYED_EVENTS_STORE', 'postgres'],
  ])('%s=%s is rejected, naming the variable', (name, value) => {
    let error: unknown;
    try {
      readEnvConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvConfigError);
    expect((error as EnvConfigError).message).toContain(name);
  });
});

describe('the example as a process', () => {
  it('invalid environment → a clear message on stderr and exit 1', async () => {
    const { code, stderr } = await runMain({ DELAYED_EVENTS_MAX_PER_USER: 'lots', DELAYED_EVENTS_STORE: 'postgres' }).exit;
    expect(code).toBe(1);
    expect(stderr).toContain('DELAYED_EVENTS_MAX_PER_USER');
    expect(stderr).toContain('DELAYED_EVENTS_STORE');
  });

  it('prints its URL, applies the configuration, exits 0 on SIGTERM', async () => {
    const child = runMain({ DELAYED_EVENTS_MAX_DELAY_MS: '1000', DELAYED_EVENTS_MAX_PER_USER: '1', DELAYED_EVENTS_RATE_LIMITS: 'off' });
    const url = await child.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { user1, roomId } = await complementRoom(url);
    const tooLong = await user1.send(roomId, 'com.example.test', 'a', {}, '?delay=1001');
    expect([tooLong.status, tooLong.body['errcode'], tooLong.body['max_delay']]).toEqual([400, 'M_MAX_DELAY_EXCEEDED', 1000]);
    expect((await user1.send(roomId, 'com.example.test', 'b', {}, `?${DELAY}=1000`)).status).toBe(200);
    const capped = await user1.send(roomId, 'com.example.test', 'c', {}, `?${DELAY}=1000`);
    expect(capped.body['org.matrix.msc4140.errcode']).toBe('M_MAX_DELAYED_EVENTS_EXCEEDED');
    child.kill('SIGTERM');
    const { code, stdout } = await child.exit;
    expect(stdout).toContain('SIGTERM');
    expect(code).toBe(0);
  });

  it('DELAYED_EVENTS_STORE=redis: runs on Redis; an unreachable Redis → exit 1', async () => {
    const child = runMain({ DELAYED_EVENTS_STORE: 'redis', REDIS_URL: inject('redisUrl') });
    const url = await child.url;
    const { user1, roomId } = await complementRoom(url);
    const r = await user1.putState(roomId, 'com.example.test', 'redis', { v: 1 }, `?${DELAY}=100`);
    expect(r.status, r.text).toBe(200);
    const deadline = Date.now() + 2000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await user1.getState(roomId, 'com.example.test', 'redis')).status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
    child.kill('SIGINT');
    const { code, stdout } = await child.exit;
    expect(stdout).toContain('redis store');
    expect(code).toBe(0);

    const broken = await runMain({ DELAYED_EVENTS_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' }).exit;
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('Redis');
  });
});
