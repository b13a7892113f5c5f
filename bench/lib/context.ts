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
  log(message: string): void;
  /** Empties the benchmark Redis (FLUSHALL). */
  flush(): Promise<void>;
  /** Redis `used_memory`, bytes. */
  usedMemory(): Promise<number>;
}

/** Starts sides one after another (each in its own process); closes them all afterwards. */
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
