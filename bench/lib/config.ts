/** Benchmark sizes and switches, from command-line flags. */

/** Every size the benchmark uses; each can be set with `--kebab-case-name=value`. */
export interface BenchConfig {
  quick: boolean;
  /** Runs per scenario; medians are reported. */
  runs: number;
  /** Operations kept in flight by the throughput scenarios. */
  inFlight: number;
  /** Outstanding events during the Redis heartbeat. */
  heartbeatRedisN: number;
  /** Restarts measured per run in the Redis heartbeat. */
  heartbeatRedisOps: number;
  /** Outstanding events during the memory heartbeat. */
  heartbeatMemoryN: number;
  /** Restarts measured per run in the memory heartbeat. */
  heartbeatMemoryOps: number;
  /** Schedules per run against Redis. */
  scheduleRedisN: number;
  /** Schedules per run in memory. */
  scheduleMemoryN: number;
  /** Cancels per run against Redis. */
  cancelRedisN: number;
  /** Cancels per run in memory. */
  cancelMemoryN: number;
  /** Events due at the same instant, Redis storm. */
  stormRedisN: number;
  /** Events due at the same instant, memory storm. */
  stormMemoryN: number;
  /** Outstanding events for the heap measurement. */
  memoryHeapN: number;
  /** Outstanding events for the Redis `used_memory` measurement. */
  memoryRedisN: number;
  /** Seconds per autocannon run. */
  httpSeconds: number;
  /** autocannon connections. */
  httpConnections: number;
  /** Events the HTTP restart requests spread over. */
  httpEvents: number;
  /** Events in the fleet scenario. */
  fleetN: number;
  /** Worker processes in the fleet scenario (compared with 1). */
  fleetWorkers: number;
  /** Window over which the fleet's events fall due, ms. */
  fleetWindowMs: number;
  /** Scenarios to run (all when empty). */
  only: string[];
  /** Where the Markdown report goes (charts go next to it, in `<name>/`). */
  out: string;
  /** Write the report (false: print the summary only). */
  write: boolean;
  /** Re-render the report from a results.json of an earlier run instead of measuring. */
  render: string;
}

// Run order: the timing-sensitive scenarios (storm, HTTP, fleet) last.
export const SCENARIOS = ['heartbeat', 'schedule', 'cancel', 'memory', 'storm', 'http', 'fleet'] as const;

const FULL: Omit<BenchConfig, 'quick' | 'only' | 'out' | 'write' | 'render'> = {
  runs: 3,
  inFlight: 64,
  heartbeatRedisN: 100_000,
  heartbeatRedisOps: 30_000,
  heartbeatMemoryN: 1_000_000,
  heartbeatMemoryOps: 300_000,
  scheduleRedisN: 20_000,
  scheduleMemoryN: 100_000,
  cancelRedisN: 20_000,
  cancelMemoryN: 100_000,
  stormRedisN: 10_000,
  stormMemoryN: 100_000,
  memoryHeapN: 1_000_000,
  memoryRedisN: 100_000,
  httpSeconds: 4,
  httpConnections: 50,
  httpEvents: 10_000,
  fleetN: 10_000,
  fleetWorkers: 3,
  fleetWindowMs: 1000,
};

const QUICK: Omit<BenchConfig, 'quick' | 'only' | 'out' | 'write' | 'render'> = {
  runs: 1,
  inFlight: 64,
  heartbeatRedisN: 2_000,
  heartbeatRedisOps: 2_000,
  heartbeatMemoryN: 20_000,
  heartbeatMemoryOps: 20_000,
  scheduleRedisN: 2_000,
  scheduleMemoryN: 10_000,
  cancelRedisN: 2_000,
  cancelMemoryN: 10_000,
  stormRedisN: 1_000,
  stormMemoryN: 5_000,
  memoryHeapN: 20_000,
  memoryRedisN: 5_000,
  httpSeconds: 1,
  httpConnections: 50,
  httpEvents: 1_000,
  fleetN: 1_000,
  fleetWorkers: 3,
  fleetWindowMs: 1000,
};

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Parses `process.argv`-style flags. Unknown flags are an error (a typo must not run silently). */
export function parseArgs(argv: readonly string[]): BenchConfig {
  const quick = argv.includes('--quick');
  const config: BenchConfig = {
    ...(quick ? QUICK : FULL),
    quick,
    only: [],
    out: quick ? '' : 'docs/benchmarks.md',
    write: true,
    render: '',
  };
  const numeric = new Map(Object.keys(FULL).map((key) => [kebab(key), key as keyof typeof FULL]));
  for (const arg of argv) {
    if (arg === '--quick') continue;
    if (arg === '--help' || arg === '-h') {
      console.log(
        `Usage: npm run bench -- [--quick] [--only=${SCENARIOS.join(',')}] [--out=FILE.md] [--no-write]\n` +
          `       npm run bench -- --render=docs/benchmarks/results.json   (re-render the report, measuring nothing)\n` +
          `  sizes: ${[...numeric.keys()].map((k) => `--${k}=N`).join(' ')}`,
      );
      process.exit(0);
    }
    if (arg === '--no-write') {
      config.write = false;
      continue;
    }
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`Unknown argument ${arg} (try --help)`);
    const [, name, value] = match as unknown as [string, string, string];
    if (name === 'only') {
      config.only = value.split(',').filter(Boolean);
      for (const s of config.only) {
        if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`Unknown scenario ${s}; one of ${SCENARIOS.join(', ')}`);
      }
    } else if (name === 'out') {
      config.out = value;
    } else if (name === 'render') {
      config.render = value;
    } else {
      const key = numeric.get(name);
      const n = Number(value);
      if (key === undefined || !Number.isSafeInteger(n) || n <= 0) throw new Error(`Bad flag --${name}=${value} (try --help)`);
      config[key] = n;
    }
  }
  return config;
}
