/** Refusals reach the metrics hook once each: the HTTP layer counts its own, the scheduler its own. */
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricsOperation, SchedulerMetrics } from '../../src/core/metrics.js';
import { call, ROOMS, STABLE, startNodeServer, UNSTABLE } from './helpers.js';
import type { TestServer } from './helpers.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

function rejections(): { metrics: SchedulerMetrics; seen: string[] } {
  const seen: string[] = [];
  const metrics: SchedulerMetrics = {
    scheduled: () => undefined,
    restarted: () => undefined,
    deferred: () => undefined,
    finalised: () => undefined,
    sendFinished: () => undefined,
    rejected: (operation: MetricsOperation, errcode: string) => void seen.push(`${operation}:${errcode}`),
  };
  return { metrics, seen };
}

describe('refusals counted by the metrics hook', () => {
  it('counts what the HTTP layer refuses as request, and what the scheduler refuses by its operation, once each', async () => {
    const { metrics, seen } = rejections();
    s = await startNodeServer({ scheduler: { metrics, maxDelayMs: 60_000 } });
    const put = (query: string, body: unknown, token?: string | null) =>
      call(s!.baseUrl, 'PUT', `${ROOMS}/send/m.room.message/t${seen.length}${query}`, { body, ...(token === undefined ? {} : { token }) });
    expect((await put('?delay=abc', {})).status).toBe(400); // parser: bad delay
    expect((await put('?delay=1000', '{not json')).status).toBe(400); // parser: bad JSON
    expect((await put('?delay=1000', {}, null)).status).toBe(401); // no token
    expect((await call(s.baseUrl, 'GET', `${UNSTABLE}/x/y/z`)).status).toBe(404); // unknown route
    expect((await put('?delay=60001', {})).status).toBe(400); // scheduler: over the maximum
    expect((await call(s.baseUrl, 'POST', `${STABLE}/nope/cancel`, { body: {} })).status).toBe(404); // scheduler: unknown ID
    expect((await put('?delay=1000', { ok: true })).status).toBe(200);
    expect(seen).toEqual([
      'request:M_INVALID_PARAM',
      'request:M_NOT_JSON',
      'request:M_MISSING_TOKEN',
      'request:M_UNRECOGNIZED',
      'schedule:M_MAX_DELAY_EXCEEDED',
      'cancel:M_NOT_FOUND',
    ]);
  });
});
