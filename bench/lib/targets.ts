/** The targets of issue 5, each computed from the medians of one invocation. */
import type { Results } from './results.js';
import { SIDES } from '../sides/index.js';
import { fmt, fmtRatio } from './stats.js';

/** Outcome of one target. */
export interface TargetOutcome {
  readonly id: string;
  readonly target: string;
  /** What was measured, in words and numbers. */
  readonly result: string;
  /** undefined: not measured in this invocation. */
  readonly met: boolean | undefined;
  /** Scenario the target belongs to (for linking). */
  readonly scenario: string;
}

const L = (name: keyof typeof SIDES): string => SIDES[name].label;

interface RatioTarget {
  readonly id: string;
  readonly scenario: string;
  readonly target: string;
  readonly metric: string;
  readonly ours: string;
  readonly theirs: string;
  /** `ours / theirs` must be at least (`min`) or at most (`max`) this. */
  readonly min?: number;
  readonly max?: number;
}

/** Fleet labels (the fleet scenario names its sides itself). */
export const FLEET_ONE = 'ours: 1 worker';
export const FLEET_MANY = (n: number): string => `ours: ${n} workers`;
export const HTTP_SIDES = {
  expressOurs: 'ours: Express adapter (toExpressRouter)',
  expressBare: 'bare Express 5 route (ceiling)',
  nodeOurs: 'ours: node:http adapter (toNodeHandler)',
  nodeBare: 'bare node:http server (ceiling)',
  nodeBareBody: 'bare node:http server reading the body (reference)',
} as const;

const RATIO_TARGETS: RatioTarget[] = [
  {
    id: 'T1',
    scenario: 'heartbeat-redis',
    target: 'Redis heartbeat (store op) ≥ 2× BullMQ `changeDelay`',
    metric: 'restarts/s',
    ours: L('redis-store'),
    theirs: L('bullmq'),
    min: 2,
  },
  {
    id: 'T2',
    scenario: 'heartbeat-redis',
    target: 'Redis heartbeat (store op) ≥ 0.6× the raw EVALSHA ceiling',
    metric: 'restarts/s',
    ours: L('redis-store'),
    theirs: L('raw-evalsha'),
    min: 0.6,
  },
  {
    id: 'T3',
    scenario: 'heartbeat-redis',
    target: 'Redis heartbeat with the Redis-backed `manage` limit in the path ≥ 1.5× BullMQ `changeDelay`',
    metric: 'restarts/s',
    ours: L('redis-scheduler-limit'),
    theirs: L('bullmq'),
    min: 1.5,
  },
  {
    id: 'T4',
    scenario: 'schedule-redis',
    target: 'Redis schedule (scheduler, cap check + txn record) ≥ 2.5× BullMQ `add`',
    metric: 'schedules/s',
    ours: L('redis-scheduler'),
    theirs: L('bullmq'),
    min: 2.5,
  },
  {
    id: 'T5',
    scenario: 'storm-redis',
    target: 'Redis storm p99 lateness ≤ 1/5 of BullMQ’s',
    metric: 'lateness p99',
    ours: L('redis-scheduler'),
    theirs: L('bullmq'),
    max: 0.2,
  },
  {
    id: 'T6',
    scenario: 'storm-redis',
    target: 'Redis storm drain rate ≥ 2.5× BullMQ’s',
    metric: 'drain rate',
    ours: L('redis-scheduler'),
    theirs: L('bullmq'),
    min: 2.5,
  },
  {
    id: 'T7',
    scenario: 'memory-redis',
    target: 'Redis bytes per outstanding event ≤ 0.6× BullMQ’s',
    metric: 'Redis bytes/event',
    ours: L('redis-scheduler'),
    theirs: L('bullmq'),
    max: 0.6,
  },
  {
    id: 'T8',
    scenario: 'memory-heap',
    target: 'Memory store heap bytes per event ≤ 0.75× `setTimeout`-per-event',
    metric: 'heap bytes/event',
    ours: L('memory-scheduler'),
    theirs: L('settimeout'),
    max: 0.75,
  },
  {
    id: 'T9',
    scenario: 'heartbeat-memory',
    target: 'Memory store restart in random order (store op) ≥ `setTimeout` `timer.refresh()` rate',
    metric: 'restarts/s',
    ours: L('memory-store'),
    theirs: L('settimeout'),
    min: 1,
  },
  {
    id: 'T10',
    scenario: 'storm-memory',
    target: 'Memory storm p99 lateness ≤ `setTimeout`-per-event’s',
    metric: 'lateness p99',
    ours: L('memory-scheduler'),
    theirs: L('settimeout'),
    max: 1,
  },
  {
    id: 'T12',
    scenario: 'http-express',
    target: 'HTTP restart through the Express adapter ≥ 80% of the bare-Express ceiling',
    metric: 'requests/s',
    ours: HTTP_SIDES.expressOurs,
    theirs: HTTP_SIDES.expressBare,
    min: 0.8,
  },
  {
    id: 'T13',
    scenario: 'http-node',
    target: 'HTTP restart through the node:http adapter ≥ 80% of the bare node:http ceiling',
    metric: 'requests/s',
    ours: HTTP_SIDES.nodeOurs,
    theirs: HTTP_SIDES.nodeBare,
    min: 0.8,
  },
];

function unitOf(results: Results, scenario: string, metric: string): string {
  return results.rows.find((r) => r.scenario === scenario && r.metric === metric)?.unit ?? '';
}

/** Evaluates every target against the medians in `results`. */
export function evaluateTargets(results: Results, fleetWorkers: number): TargetOutcome[] {
  const out: TargetOutcome[] = [];
  for (const t of RATIO_TARGETS) {
    const ours = results.median(t.scenario, t.ours, t.metric);
    const theirs = results.median(t.scenario, t.theirs, t.metric);
    if (ours === undefined || theirs === undefined) {
      out.push({ id: t.id, target: t.target, scenario: t.scenario, result: 'not measured', met: undefined });
      continue;
    }
    const ratio = theirs === 0 ? (ours === 0 ? 1 : Number.POSITIVE_INFINITY) : ours / theirs;
    const met = t.min !== undefined ? ratio >= t.min : ratio <= (t.max ?? Number.POSITIVE_INFINITY);
    const unit = unitOf(results, t.scenario, t.metric);
    out.push({
      id: t.id,
      target: t.target,
      scenario: t.scenario,
      result: `${fmtRatio(ratio)} (${fmt(ours)} vs ${fmt(theirs)} ${unit === t.metric ? unit : `${unit} ${t.metric}`})`,
      met,
    });
  }
  const stall = results.median('storm-memory', L('memory-scheduler'), 'max event-loop stall');
  const stallRow = results.rows.find((r) => r.scenario === 'storm-memory' && r.side === L('memory-scheduler') && r.metric === 'max event-loop stall');
  const worstStall = stallRow ? Math.max(...stallRow.values) : undefined;
  out.push({
    id: 'T11',
    target: 'Memory storm: no event-loop stall over 10 ms',
    scenario: 'storm-memory',
    result: stall === undefined ? 'not measured' : `largest stall ${fmt(worstStall!)} ms (worst of ${stallRow!.values.length} runs; median ${fmt(stall)} ms)`,
    met: worstStall === undefined ? undefined : worstStall <= 10,
  });
  const one = results.median('fleet', FLEET_ONE, 'drain rate');
  const many = results.median('fleet', FLEET_MANY(fleetWorkers), 'drain rate');
  const dupRows = results.rows.filter((r) => r.scenario === 'fleet' && r.metric === 'duplicate sends');
  const dups = dupRows.reduce((sum, r) => sum + r.values.reduce((a, b) => a + b, 0), 0);
  out.push({
    id: 'T14',
    target: `Fleet: ${fleetWorkers} workers drain at least as fast as 1, and no event is sent twice`,
    scenario: 'fleet',
    result:
      one === undefined || many === undefined
        ? 'not measured'
        : `${fmtRatio(many / one)} (${fmt(many)} vs ${fmt(one)} events/s drain rate); ${dups} duplicate sends over all runs`,
    met: one === undefined || many === undefined ? undefined : many >= one && dups === 0,
  });
  return out.sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1)));
}
