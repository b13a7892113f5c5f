/**
 * How the Redis store talks to its ioredis client: script registration (`defineCommand`, so ioredis
 * uses `EVALSHA` and reloads on `NOSCRIPT`), fail-fast when the connection is down, and a per-call
 * timeout.
 *
 * @internal
 * @packageDocumentation
 */
import type { Cluster, Redis } from 'ioredis';
import { luaScripts, type LuaScript } from './lua/scripts.generated.js';
import type { ScriptCall } from './scripts/call.js';

/** A ready ioredis client: a single node or a cluster. */
export type RedisClient = Redis | Cluster;

/** True for an ioredis `Cluster`. @internal */
export function isCluster(client: RedisClient): boolean {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** Script names. @internal */
export type ScriptName = keyof typeof luaScripts;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** Connection states in which a command would wait in ioredis's offline queue instead of failing. */
const DOWN_STATES = new Set(['reconnecting', 'close', 'end']);

/** Command name of a script: versioned by its SHA-1, so two versions sharing a client never collide. */
function commandName(script: LuaScript): string {
  return `mde_${script.name}_${script.sha1.slice(0, 8)}`;
}

const registered = new WeakSet<object>();

/** Registers every script on a client, once per client. @internal */
export function registerScripts(client: RedisClient): void {
  if (registered.has(client)) return;
  for (const script of Object.values(luaScripts)) {
    // Without numberOfKeys, ioredis takes the count from the first argument (and prefixes that many keys).
    client.defineCommand(commandName(script), script.numberOfKeys === null ? { lua: script.lua } : { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  registered.add(client);
}

/** Thrown when Redis cannot be reached; the scheduler turns it into `StoreUnavailableError`. @internal */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * Runs commands with fail-fast semantics: a call made while the client is reconnecting (or closed)
 * rejects at once instead of queueing, and a call that gets no answer within `timeoutMs` rejects.
 * @internal
 */
export class RedisConnection {
  constructor(
    readonly client: RedisClient,
    private readonly timeoutMs: number,
  ) {
    registerScripts(client);
  }

  /** Runs a Lua script by name. */
  script(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const script: LuaScript = luaScripts[name];
    return this.call(() => {
      const fn = (this.client as unknown as Record<string, ScriptFn>)[commandName(script)];
      if (fn === undefined) throw new Error(`Lua script ${script.name} is not registered on this client`);
      return script.numberOfKeys === null ? fn.call(this.client, keys.length, ...keys, ...args) : fn.call(this.client, ...keys, ...args);
    });
  }

  /** Runs a script call built by one of the modules in `scripts/`. */
  run(call: ScriptCall): Promise<unknown> {
    return this.script(call.script, call.keys, call.args);
  }

  /** Runs any command with the same fail-fast rules. */
  call<T>(run: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (DOWN_STATES.has(status)) {
      return Promise.reject(new RedisUnavailableError(`Redis connection is ${status}`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisUnavailableError(`Redis did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const settle = (): void => clearTimeout(timer);
      let pending: Promise<T>;
      try {
        pending = run();
      } catch (error) {
        settle();
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      pending.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error instanceof Error ? error : new RedisUnavailableError(String(error)));
        },
      );
    });
  }
}
