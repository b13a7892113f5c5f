/**
 * The example homeserver's operations endpoints over real HTTP: `GET /metrics` (Prometheus text
 * format) and `GET /health` (readiness: 200, or 503 once the scheduler stopped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { complementRoom, DELAY, request, startServer, waitFor } from './helpers.js';
import type { RunningServer } from './helpers.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.close();
});

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('example homeserver operations endpoints', () => {
  it('GET /metrics counts what clients do and what is delivered, in the Prometheus text format', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    const scheduled = await user1.send(roomId, 'com.example.test', 'm1', { body: 'x' }, `?${DELAY}=50`);
    expect(scheduled.status).toBe(200);
    const missing = await user1.manage('no-such-delay-id-0000000000', 'restart');
    expect(missing.status).toBe(404);
    const delivered = await waitFor(async () => {
      const text = (await request(server.url, 'GET', '/metrics')).text;
      return sample(text, 'mde_delayed_events_sent_total') === 1;
    }, 5000);
    expect(delivered).toBe(true);
    const reply = await request(server.url, 'GET', '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(reply.text, 'mde_delayed_events_scheduled_total')).toBe(1);
    expect(sample(reply.text, 'mde_delayed_events_rejected_total{operation="restart",errcode="M_NOT_FOUND"}')).toBe(1);
    expect(sample(reply.text, 'mde_delayed_events_delivery_lateness_seconds_count')).toBe(1);
    expect(sample(reply.text, 'mde_delayed_events_outstanding')).toBe(0);
    expect(sample(reply.text, 'mde_delayed_events_store_up')).toBe(1);
  });

  it('GET /health: 200 while the store answers and delivery runs; 503 once the scheduler stopped', async () => {
    const { user1, roomId } = await complementRoom(server.url);
    await user1.send(roomId, 'com.example.test', 'h1', {}, `?${DELAY}=60000`);
    const ok = await request(server.url, 'GET', '/health');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'ok', store: 'ok', timer: 'armed', oldestDueLagMs: 0 });
    expect(typeof ok.body['nextDueAtMs']).toBe('number');
    await server.hs.scheduler.stop({ deadlineMs: 1000 });
    const stopped = await request(server.url, 'GET', '/health');
    expect(stopped.status).toBe(503);
    expect(stopped.body).toMatchObject({ status: 'unavailable', store: 'ok', timer: 'stopped' });
  });
});
