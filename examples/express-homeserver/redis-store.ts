/**
 * EXAMPLE HOMESERVER — opens the Redis store (`DELAYED_EVENTS_STORE=redis`). Loaded by `main.ts` with
 * a dynamic import only when Redis is asked for, so the memory path never loads ioredis.
 */
import type { DelayedEventStore } from '../../src/stores/store.js';

/** Connects to Redis at `url` and returns a delayed-event store on it. */
export async function openRedisStore(url: string): Promise<DelayedEventStore> {
  const specifier = '../../src/stores/redis/index.js';
  let mod: { createRedisStore?: (options: { url: string }) => DelayedEventStore | Promise<DelayedEventStore> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (error) {
    throw new Error(`the Redis store could not be loaded (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof mod.createRedisStore !== 'function') throw new Error('the Redis store is not available in this build');
  return mod.createRedisStore({ url });
}
