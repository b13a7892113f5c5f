/**
 * A stand-in for a Matrix room, kept in Redis so every worker process appends to the same one: a
 * Redis stream (`XADD`), with the host-side dedupe MSC4140 asks of homeservers. A delayed event may
 * (rarely) be handed over twice — a worker dies after sending but before finalising, its lease lapses
 * and another worker sends it again — so the host remembers each `delayId` (`SET NX`) and drops a
 * repeat. Dedupe and append run in one small script, so a crash between them cannot lose the event.
 */
import type { Redis } from 'ioredis';
import type { DueDelayedEvent } from 'matrix-delayed-events';

const APPEND_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[4]) then
  redis.call('XADD', KEYS[2], '*', 'delayId', ARGV[1], 'worker', ARGV[2], 'lateMs', ARGV[3])
  redis.call('HINCRBY', KEYS[3], 'delivered:' .. ARGV[2], 1)
  return 1
end
redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
return 0`;

/** What the room holds after a run. */
export interface RoomStats {
  /** Events in the room (each `delayId` once). */
  readonly delivered: number;
  /** Repeated hand-overs the host dropped. */
  readonly duplicatesDropped: number;
  /** Events each worker put into the room. */
  readonly byWorker: Record<string, number>;
}

/** One room shared by all workers, under `prefix`. */
export interface SharedRoom {
  /** Appends a due event unless its `delayId` was seen; true when appended. */
  append(event: DueDelayedEvent, workerId: string, nowMs: number): Promise<boolean>;
  /** Every `delayId` in the room, in order of arrival. */
  delayIds(): Promise<string[]>;
  /** Lateness of each event (arrival − scheduled send time), in ms. */
  lateness(): Promise<number[]>;
  /** Counters. */
  stats(): Promise<RoomStats>;
}

/** Opens the shared room under `prefix` on `client`. */
export function openRoom(client: Redis, prefix: string): SharedRoom {
  const stream = `${prefix}:room`;
  const counters = `${prefix}:stats`;
  if (!('mdeAppendOnce' in client)) client.defineCommand('mdeAppendOnce', { numberOfKeys: 3, lua: APPEND_ONCE });
  const run = client as unknown as { mdeAppendOnce(...args: (string | number)[]): Promise<number> };
  const readAll = async (): Promise<[string, string[]][]> => (await client.xrange(stream, '-', '+')) as [string, string[]][];
  const field = (fields: string[], name: string): string => fields[fields.indexOf(name) + 1] ?? '';
  return {
    async append(event, workerId, nowMs) {
      const late = Math.max(0, nowMs - event.sendAtMs);
      // Remember a delayId for a day: far longer than any lease.
      return (await run.mdeAppendOnce(`${prefix}:seen:${event.delayId}`, stream, counters, event.delayId, workerId, late, 86_400_000)) === 1;
    },
    async delayIds() {
      return (await readAll()).map(([, fields]) => field(fields, 'delayId'));
    },
    async lateness() {
      return (await readAll()).map(([, fields]) => Number(field(fields, 'lateMs')));
    },
    async stats() {
      const raw = await client.hgetall(counters);
      const byWorker: Record<string, number> = {};
      for (const [name, value] of Object.entries(raw)) {
        if (name.startsWith('delivered:')) byWorker[name.slice('delivered:'.length)] = Number(value);
      }
      return { delivered: await client.xlen(stream), duplicatesDropped: Number(raw['duplicates'] ?? 0), byWorker };
    },
  };
}
