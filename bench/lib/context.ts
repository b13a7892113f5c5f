/** What every scenario gets: sizes, the results collector, the private Redis, a logger. */
import type { BenchConfig } from './config.js';
import type { RedisServer } from './redis-server.js';
import type { Results } from './results.js';
import { SideProcess } from './side-process.js';
import type { SideName } from '../sides/index.js';

export interface Ctx {
  readonly config: BenchConfig;
  readonly results: Results;
  readonly redis: RedisServer;
  readonly pool: SidePool;
  log(message: string): void;
  /** Empties the benchmark Redis (FLUSHALL). */
  flush(): Promise<void>;
  /** Redis `used_memory`, bytes. */
  usedMemory(): Promise<number>;
  /** CPU seconds the redis-server process has used so far (user + system). */
  redisCpuSeconds(): Promise<number>;
}

/**
 * Side processes shared by the scenarios (started on first use, `release`d after each scenario, closed
 * at the end), so a side's process and JIT warm-up are paid once per invocation.
 */
export class SidePool {
  private readonly started = new Map<SideName, SideProcess>();

  constructor(private readonly settings: () => { redisUrl: string; inFlight: number }) {}

  async get(names: readonly SideName[]): Promise<SideProcess[]> {
    // Start missing sides in parallel (process start-up is mostly waiting on module loading).
    const missing = names.filter((name) => !this.started.has(name));
    const started = await Promise.allSettled(missing.map((name) => SideProcess.start(name, this.settings())));
    started.forEach((result, i) => {
      if (result.status === 'fulfilled') this.started.set(missing[i]!, result.value);
    });
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return names.map((name) => this.started.get(name)!);
  }

  async closeAll(): Promise<void> {
    for (const side of this.started.values()) await side.close().catch(() => {});
    this.started.clear();
  }
}

/** Runs `body` with pooled sides, releasing their events afterwards. */
export async function withPooledSides<T>(ctx: Ctx, names: readonly SideName[], body: (sides: SideProcess[]) => Promise<T>): Promise<T> {
  const sides = await ctx.pool.get(names);
  try {
    return await body(sides);
  } finally {
    for (const side of sides) await side.call('release').catch(() => {});
  }
}

/** Starts fresh sides one after another (each in its own process); closes them all afterwards. */
export async function withSides<T>(ctx: Ctx, names: readonly SideName[], body: (sides: SideProcess[]) => Promise<T>): Promise<T> {
  const sides: SideProcess[] = [];
  try {
    for (const name of names) {
      sides.push(await SideProcess.start(name, { redisUrl: ctx.redis.url, inFlight: ctx.config.inFlight }));
    }
    return await body(sides);
  } finally {
    for (const side of sides) await side.close().catch(() => {});
  }
}
