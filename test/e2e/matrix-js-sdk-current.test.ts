/**
 * The current matrix-js-sdk (43, Node >= 22), run by the Node 22 of test/e2e/current-sdk (its own small
 * package, installed by the suite's global setup test/setup/current-sdk-global-setup.ts, so the root's
 * `node_modules/.bin/node` stays the system Node) against the example homeserver: its
 * `_unstable_*ScheduledDelayedEvent` methods try the subpath form
 * `POST /unstable/org.matrix.msc4140/delayed_events/{id}/{action}` first (falling back to the body form
 * only on a JSON `M_UNRECOGNIZED`), and its deprecated `_unstable_updateDelayedEvent` sends the body form
 * without a token first, repeating it with one after 401 `M_MISSING_TOKEN`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, UNSTABLE } from './helpers.js';
import type { RunningServer } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SDK_DIR = fileURLToPath(new URL('./current-sdk/', import.meta.url));
const NODE22 = `${SDK_DIR}node_modules/node/bin/node`;
const SCRIPT = `${SDK_DIR}client.mjs`;

let server: RunningServer;
const requests: { method: string; path: string; auth: boolean; body: string; status?: number }[] = [];

beforeAll(async () => {
  if (!existsSync(NODE22)) {
    throw new Error(`Node 22 for the current matrix-js-sdk is missing: run \`npm ci --prefix test/e2e/current-sdk\` (the suite's global setup, test/setup/current-sdk-global-setup.ts, normally does it).`);
  }
  server = await startServer({ rateLimits: { manage: { points: 50, durationMs: 5_000 } } });
  server.listening.server.on('request', (req: IncomingMessage, res: { on(event: 'finish', cb: () => void): void; statusCode: number }) => {
    const seen: (typeof requests)[number] = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', auth: req.headers.authorization !== undefined, body: '' };
    req.on('data', (chunk: Buffer) => (seen.body += chunk.toString()));
    res.on('finish', () => {
      seen.status = res.statusCode;
      requests.push(seen);
    });
  });
});

afterAll(async () => {
  await server.close();
});

function runClient(): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, [SCRIPT], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', BASE_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`client exited ${code}: ${stdout}\n${stderr}`));
      }
    });
  });
}

describe('current matrix-js-sdk (Node 22) against the example homeserver', () => {
  it('MatrixRTC heartbeats via the subpath form; list, cancel, send; the deprecated body form', async () => {
    const result = await runClient();
    expect(result['error']).toBeUndefined();
    expect(result['steps']).toEqual(['synced', 'matrixrtc', 'manage']);

    // The delayed leave survived the user's own join and the heartbeats, then arrived after them.
    expect(result['leaveEarly']).toBe(false);
    expect(result['leaveContent']).toEqual({});
    expect(result['afterStopMs'] as number).toBeLessThanOrEqual(1500 + 1000);
    expect(result['afterLastRestartMs'] as number).toBeGreaterThanOrEqual(1500 - 50);

    expect(result['listed']).toEqual(result['expectedListed']);
    expect(result['sendArrived']).toEqual({ body: 'send me' });
    expect(result['listedAfter']).toEqual([]);
    expect(result['restartCancelled']).toEqual({ httpStatus: 404, errcode: 'M_NOT_FOUND' });

    // Heartbeats used the subpath form, authenticated, with no fallback needed.
    const delayId = result['delayId'] as string;
    const restarts = requests.filter((r) => r.path === `${UNSTABLE}/delayed_events/${delayId}/restart`);
    expect(restarts.length).toBeGreaterThanOrEqual(5);
    expect(restarts.every((r) => r.method === 'POST' && r.auth && r.status === 200)).toBe(true);
    expect(requests.filter((r) => r.path === `${UNSTABLE}/delayed_events/${delayId}`)).toEqual([]);
    // The deprecated method: body form without a token (401), then with one (200).
    const legacy = requests.filter((r) => r.method === 'POST' && /\/delayed_events\/[^/]+$/.test(r.path) && r.body.includes('"cancel"'));
    expect(legacy.map((r) => [r.auth, r.status])).toEqual([
      [false, 401],
      [true, 200],
    ]);
    // Nothing else the client asked for was unknown to the server. Expected 404s: the restart of the
    // cancelled event, and MSC4143 RTC transports, which this server does not offer (JSON
    // M_UNRECOGNIZED, which the client reads as "unsupported").
    const unexpected = requests.filter(
      (r) =>
        r.status === 404 &&
        r.path !== `${UNSTABLE}/delayed_events/${(result['expectedListed'] as string[]).find((id) => r.path.includes(id)) ?? '-'}/restart` &&
        r.path !== '/_matrix/client/unstable/org.matrix.msc4143/rtc/transports',
    );
    expect(unexpected).toEqual([]);
  });
});
