/**
 * Scenario 6: restart requests/s through the Express and node:http adapters vs bare servers doing no
 * work. Each server runs in its own process; autocannon (programmatic, in this process) drives it.
 */
import autocannon, { type AutocannonRequest } from 'autocannon';
import type { Ctx } from '../lib/context.js';
import { Child } from '../lib/child.js';
import { fmt } from '../lib/stats.js';
import { HTTP_SIDES } from '../lib/targets.js';
import type { HttpKind, HttpTarget } from '../children/http-server.js';

const SERVERS: Array<{ kind: HttpKind; scenario: string; label: string; ours: boolean }> = [
  { kind: 'express-ours', scenario: 'http-express', label: HTTP_SIDES.expressOurs, ours: true },
  { kind: 'express-bare', scenario: 'http-express', label: HTTP_SIDES.expressBare, ours: false },
  { kind: 'node-ours', scenario: 'http-node', label: HTTP_SIDES.nodeOurs, ours: true },
  { kind: 'node-bare', scenario: 'http-node', label: HTTP_SIDES.nodeBare, ours: false },
  { kind: 'node-bare-body', scenario: 'http-node', label: HTTP_SIDES.nodeBareBody, ours: false },
];

const BODY = JSON.stringify({ action: 'restart' });

/** One autocannon run; every connection cycles over its own slice of the targets. */
async function load(port: number, targets: readonly HttpTarget[], connections: number, seconds: number) {
  const perConnection = Math.max(1, Math.floor(targets.length / connections));
  let next = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    setupClient(client) {
      const start = (next++ % connections) * perConnection;
      const requests: AutocannonRequest[] = [];
      for (let i = start; i < start + perConnection && i < targets.length; i++) {
        const t = targets[i]!;
        requests.push({
          method: 'POST',
          path: `/_matrix/client/v1/delayed_events/${t.delayId}`,
          headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
          body: BODY,
        });
      }
      client.setRequests(requests);
    },
  });
}

export async function http(ctx: Ctx): Promise<void> {
  const { config } = ctx;
  ctx.log(`http: ${config.httpConnections} connections, ${config.httpSeconds} s per run, ${fmt(config.httpEvents)} events`);
  const servers: Array<{ child: Child<{ port: number; targets: HttpTarget[] }>; port: number; targets: HttpTarget[] } & (typeof SERVERS)[number]> = [];
  try {
    for (const server of SERVERS) {
      const child = new Child<{ port: number; targets: HttpTarget[] }>('children/http-server.ts', [server.kind, String(config.httpEvents)]);
      const { port, targets } = await child.next(120_000);
      servers.push({ ...server, child, port, targets });
    }
    // Warm-up (JIT), not recorded.
    for (const s of servers) await load(s.port, s.targets, config.httpConnections, Math.max(1, Math.ceil(config.httpSeconds / 4)));
    for (let run = 0; run < config.runs; run++) {
      ctx.log(` run ${run + 1}/${config.runs}`);
      for (const s of servers) {
        const r = await load(s.port, s.targets, config.httpConnections, config.httpSeconds);
        const rate = r.requests.total / r.duration;
        ctx.results.record(s.scenario, s.label, 'requests/s', rate, { unit: 'requests/s', better: 'higher', ours: s.ours });
        ctx.results.record(s.scenario, s.label, 'latency p99', r.latency.p99, { unit: 'ms', better: 'lower', ours: s.ours });
        const bad = r.non2xx + r.errors + r.timeouts;
        if (bad > 0) ctx.results.note(s.scenario, s.label, 'requests/s', `run ${run + 1}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
        ctx.log(`  ${s.label}: ${fmt(rate)} requests/s, p99 ${fmt(r.latency.p99)} ms${bad ? `, ${bad} bad` : ''}`);
      }
    }
  } finally {
    for (const s of servers) {
      s.child.send('stop');
      await s.child.close();
    }
  }
}
