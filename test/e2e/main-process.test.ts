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

function configError(env: Record<string, string>): EnvConfigError {
  try {
    readEnvConfig(env);
  } catch (error) {
    if (error instanceof EnvConfigError) return error;
    throw error;
  }
  throw new Error(`no EnvConfigError for ${JSON.stringify(env)}`);
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
      DELAYED_EVENTS_RATE_LIMITS:
        '{"manage":{"points":10,"durationMs":5000},"send":false,"delivery":"off","schedule":{"points":3,"durationMs":1500,"blockDurationMs":0}}',
      DELAYED_EVENTS_CANCEL_ON_NEWER_STATE: 'never',
      DELAYED_EVENTS_STORE: 'redis',
      REDIS_URL: 'redis://127.0.0.1:6390',
    });
    expect(c).toMatchObject({ host: '0.0.0.0', port: 9000, maxDelayMs: 60_000, maxPerUser: 0, cancelOnNewerState: 'never', store: 'redis' });
    expect(c.rateLimits).toEqual({
      manage: { points: 10, durationMs: 5000 },
      send: false,
      delivery: false,
      schedule: { points: 3, durationMs: 1500, blockDurationMs: 0 },
    });
    expect(readEnvConfig({ DELAYED_EVENTS_RATE_LIMITS: 'off' }).rateLimits).toBe('off');
  });

  it('empty variables count as unset', () => {
    expect(readEnvConfig({ PORT: '', HOST: '', DELAYED_EVENTS_RATE_LIMITS: '', DELAYED_EVENTS_STORE: '' })).toEqual(readEnvConfig({}));
  });

  it('takes rate-limit windows in milliseconds only: "duration" (seconds) is refused, naming its replacement', () => {
    const error = configError({ DELAYED_EVENTS_RATE_LIMITS: '{"manage":{"points":10,"duration":5}}' });
    expect(error.problems).toEqual([
      'DELAYED_EVENTS_RATE_LIMITS.manage.duration "duration" (seconds) is not accepted: give the window as "durationMs", in milliseconds',
    ]);
  });

  it('lists every problem at once, each under its variable (and bucket, and field)', () => {
    const error = configError({
      PORT: 'abc',
      DELAYED_EVENTS_MAX_PER_USER: 'many',
      DELAYED_EVENTS_RATE_LIMITS: '{"send":{"points":0,"durationMs":1},"delivery":{"points":1},"nope":false}',
      DELAYED_EVENTS_STORE: 'postgres',
    });
    expect(error.problems).toEqual([
      'PORT must be an integer from 0 to 65535 (got "abc")',
      'DELAYED_EVENTS_MAX_PER_USER must be an integer from 0 to 1000000000 (got "many")',
      'DELAYED_EVENTS_RATE_LIMITS.send.points must be > 0',
      'DELAYED_EVENTS_RATE_LIMITS.delivery.durationMs is required: the window, in milliseconds',
      'DELAYED_EVENTS_RATE_LIMITS unknown bucket(s) nope (known: schedule, manage, send, delivery)',
      'DELAYED_EVENTS_STORE must be memory or redis (got "postgres")',
    ]);
    expect(error.message).toContain('  - PORT must be');
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
    ['DELAYED_EVENTS_RATE_LIMITS', '{"nope":{"points":1,"durationMs":1000}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":0,"durationMs":1000}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":1}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":1,"durationMs":1.5}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":1,"durationMs":"5s"}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":{"points":1,"durationMs":1000,"extra":1}}'],
    ['DELAYED_EVENTS_RATE_LIMITS', '{"manage":5}'],
    ['SERVER_NAME', 'not a host'],
    ['DELAYED_EVENTS_PROFILE', 'msc4140-2025'],
    ['DELAYED_EVENTS_CANCEL_ON_NEWER_STATE', 'sometimes'],
    ['DELAYED_EVENTS_STORE', 'postgres'],
  ])('%s=%s is rejected, naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.startsWith(name)).toBe(true);
  });

  it('REDIS_URL is checked when the store is redis', () => {
    expect(configError({ DELAYED_EVENTS_STORE: 'redis', REDIS_URL: 'http://127.0.0.1' }).problems).toEqual(['REDIS_URL must start with redis:// or rediss://']);
    expect(readEnvConfig({ REDIS_URL: 'http://127.0.0.1' }).store).toBe('memory');
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
