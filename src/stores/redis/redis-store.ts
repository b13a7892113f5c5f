import { ConfigError } from '../../core/config-error.js';
import type {
  AddOptions,
  AddResult,
  CancelByStateKeyResult,
  ClaimOptions,
  ClaimedDelayedEvent,
  DelayedEventStore,
  EventOutcome,
  FinalisedDelayedEvent,
  ListCursor,
  MutationResult,
  NewDelayedEvent,
  RetentionOptions,
  StateKeyFilter,
  StoreCapabilities,
  StoredDelayedEvent,
  StoreStats,
} from '../../core/store.js';
import type { DelayId, Logger } from '../../core/types.js';
import { decodeFinalised } from './codec.js';
import type { ChargeLink } from './fused-charge.js';
import { checkKeyPart, redisKeys, type RedisKeys } from './keys.js';
import { MicroBatcher } from './micro-batcher.js';
import { RedisConnection, type RedisClient } from './redis-connection.js';
import { addCall, decodeAdd, type AddItem } from './scripts/add.js';
import type { Reply, ScriptCall } from './scripts/call.js';
import { cancelByStateKeyCall, decodeCancelByStateKey } from './scripts/cancel-by-state-key.js';
import { cancelCall, decodeCancel, type CancelItem, type CancelResult } from './scripts/cancel.js';
import { claimDueCall, decodeClaimDue } from './scripts/claim-due.js';
import { claimCall, decodeClaim } from './scripts/claim.js';
import { decodeFinaliseMany, finaliseManyCall } from './scripts/finalise-many.js';
import { decodeFinalise, finaliseCall } from './scripts/finalise.js';
import { decodeFindTxn, findTxnCall } from './scripts/find-txn.js';
import { decodeGet, getCall } from './scripts/get.js';
import { decodeList, listCall } from './scripts/list.js';
import { decodeReschedule, rescheduleCall } from './scripts/reschedule.js';
import { decodeRelease, releaseCall } from './scripts/release.js';
import { retainCall } from './scripts/retain.js';
import { decodeStats, statsCall } from './scripts/stats.js';
import { decodeRestart, restartCall, type RestartItem, type RestartRefused, type RestartResult } from './scripts/restart.js';
import { WakeSubscriber } from './wake-subscriber.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /**
   * A ready ioredis client (`Redis` or `Cluster`). The store never creates or closes it. Recommended
   * for fail-fast behaviour while Redis is down: `enableOfflineQueue: false` and
   * `maxRetriesPerRequest: 1` (see `docs/guide/operations.md`).
   */
  readonly client: RedisClient;
  /**
   * First part of every key; use one per deployment (or per test) sharing a Redis.
   * @defaultValue `"mde"`
   */
  readonly keyPrefix?: string;
  /**
   * Hash tag in every key (`<keyPrefix>:{<hashTag>}:…`), so one deployment's keys share a Redis
   * Cluster slot and every script can run atomically there.
   * @defaultValue the `keyPrefix`
   */
  readonly hashTag?: string;
  /**
   * How long a command may go unanswered before the call rejects, in ms. Calls made while the client
   * is reconnecting reject at once.
   * @defaultValue 5000
   */
  readonly commandTimeoutMs?: number;
  /**
   * Where connection problems of the store's own subscriber connection are reported.
   * @defaultValue a logger that discards everything
   */
  readonly logger?: Logger;
}

/** A {@link DelayedEventStore} on Redis, shared by every process that uses the same keys. */
export interface RedisStore extends DelayedEventStore {
  /** Always `{ sharedAcrossProcesses: true }`. */
  readonly capabilities: StoreCapabilities;
  /**
   * Calls `listener` when any process makes an event due earlier than the earliest before
   * (Redis pub/sub on a connection the store duplicates from the client on first use).
   */
  watch(listener: (dueAtMs: number) => void): () => void;
  /** Always present: one script call per 128 events (see {@link DelayedEventStore.finaliseMany}). */
  finaliseMany(events: readonly ClaimedDelayedEvent[]): Promise<MutationResult[]>;
  /**
   * Always present: one script call per 128 finalised events. Per owner, a hash of packed records and
   * a sorted set by finalisation time, pruned in the call and expiring `maxAgeMs` (plus a minute)
   * after the owner's last retained event (see {@link DelayedEventStore.retain}).
   */
  retain(events: readonly FinalisedDelayedEvent[], options: RetentionOptions): Promise<void>;
  /**
   * Always present (graceful shutdown, see {@link DelayedEventStore.release}): one script call per 128
   * events; each event still claimed under its token is pending again at the send time its claim
   * recorded, its attempts unchanged, and watchers hear of a new earliest due time. `nowMs` is not
   * needed (the records hold the send times).
   */
  release(events: readonly ClaimedDelayedEvent[], nowMs: number): Promise<MutationResult[]>;
  /** Always present (metrics, see {@link DelayedEventStore.stats}): `ZCARD` of the due index (pending and claimed) and its head, one script call. */
  stats(): Promise<StoreStats>;
  /** Always present: one `HGET` on the owner's hash (see {@link DelayedEventStore.getFinalised}). */
  getFinalised(delayId: DelayId, userId: string, options: { readonly nowMs: number; readonly maxAgeMs: number }): Promise<FinalisedDelayedEvent | undefined>;
  /** Closes the store's subscriber connection (never the client it was given). */
  close(): Promise<void>;
}

/**
 * Restarts and adds go in batches of up to 32 with up to 4 script calls on the wire at once, which
 * keeps Node and Redis both busy instead of taking turns on one large call (bench/NOTES.md). Redis
 * runs calls from one connection in order, so batches still apply in the order they were sent.
 */
const BATCH = 32;
const BATCHES_IN_FLIGHT = 4;
/** Most finalisations sent in one script call (keeps each call short for Redis). */
const MAX_BATCH = 128;

/**
 * Orchestration only: batching, the fused charge, and which script runs when. Each script's
 * arguments and reply live in `scripts/`, beside nothing but the Lua in `lua/`.
 */
class RedisDelayedEventStore implements RedisStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ sharedAcrossProcesses: true });
  private readonly redis: RedisConnection;
  private readonly wake: WakeSubscriber;
  private readonly restarts: MicroBatcher<RestartItem, RestartResult | RestartRefused>;
  private readonly adds: MicroBatcher<AddItem, AddResult>;
  private readonly cancels: MicroBatcher<CancelItem, CancelResult>;

  constructor(
    client: RedisClient,
    private readonly keys: RedisKeys,
    timeoutMs: number,
    logger: Logger,
    /** Where the pair's limiter offers its pending `manage` point (`createRedisDelayedEvents`). */
    private readonly link: ChargeLink | undefined,
  ) {
    this.redis = new RedisConnection(client, timeoutMs);
    this.wake = new WakeSubscriber(client, keys.wakeChannel, logger, () => this.nextDueAtMs());
    this.restarts = new MicroBatcher(async (items) => decodeRestart((await this.redis.run(restartCall(keys, items))) as Reply, items.length), BATCH, BATCHES_IN_FLIGHT);
    this.adds = new MicroBatcher(async (items) => decodeAdd((await this.redis.run(addCall(keys, items))) as Reply, items.length), BATCH, BATCHES_IN_FLIGHT);
    this.cancels = new MicroBatcher(async (items) => decodeCancel((await this.redis.run(cancelCall(keys, items))) as Reply, items), BATCH, BATCHES_IN_FLIGHT);
  }

  /**
   * Runs a store call after charging the point the pair's limiter offered, if any (only a restart
   * takes its point inside its own script).
   */
  private afterCharge<T>(run: () => Promise<T>): Promise<T> {
    const charge = this.link?.take();
    return charge === undefined ? run() : charge.chargeSeparately().then(run);
  }

  /** Adds arriving in the same event-loop turn go to Redis as one script call, applied in order. */
  add(event: NewDelayedEvent, options: AddOptions): Promise<AddResult> {
    return this.afterCharge(() => this.adds.submit({ event, options }));
  }

  findTxn(txnKey: string, nowMs: number): Promise<DelayId | undefined> {
    return this.afterCharge(async () => decodeFindTxn(await this.redis.run(findTxnCall(this.keys, txnKey, nowMs))));
  }

  get(delayId: DelayId): Promise<StoredDelayedEvent | undefined> {
    return this.afterCharge(async () => decodeGet(delayId, (await this.redis.run(getCall(this.keys, delayId))) as Reply | null));
  }

  listForUser(userId: string, options: { readonly after?: ListCursor | undefined; readonly limit: number }): Promise<StoredDelayedEvent[]> {
    return this.afterCharge(async () => {
      if (options.limit <= 0) return [];
      return decodeList((await this.redis.run(listCall(this.keys, userId, options.after, options.limit))) as Reply);
    });
  }

  /**
   * Heartbeats arriving in the same event-loop turn go to Redis as one script call. With a `manage`
   * point offered by the pair's limiter, the point is taken inside that call (refused: the event is
   * left untouched and the charge's error is thrown).
   */
  async restart(delayId: DelayId, userId: string, nowMs: number): Promise<RestartResult> {
    const charge = this.link?.take();
    const result = await this.restarts.submit({ delayId, userId, nowMs, charge });
    if (result.ok || result.reason === 'not_found') return result;
    throw charge!.refused(result.retryAfterMs);
  }

  /** Cancels arriving in the same event-loop turn go to Redis as one script call, applied in order. */
  cancel(delayId: DelayId, userId: string): Promise<CancelResult> {
    return this.afterCharge(() => this.cancels.submit({ delayId, userId }));
  }

  claim(delayId: DelayId, userId: string, options: ClaimOptions): Promise<MutationResult<EventOutcome<ClaimedDelayedEvent>>> {
    return this.afterCharge(async () => decodeClaim(delayId, (await this.redis.run(claimCall(this.keys, delayId, userId, options))) as Reply, options));
  }

  claimDue(options: ClaimOptions & { readonly max: number }): Promise<ClaimedDelayedEvent[]> {
    return this.afterCharge(async () => {
      if (options.max <= 0) return [];
      return decodeClaimDue((await this.redis.run(claimDueCall(this.keys, options))) as Reply, options);
    });
  }

  reschedule(
    delayId: DelayId,
    claimToken: string,
    options: { readonly sendAtMs: number; readonly attempts: number; readonly nowMs: number },
  ): Promise<MutationResult> {
    return this.afterCharge(async () =>
      decodeReschedule((await this.redis.run(rescheduleCall(this.keys, delayId, claimToken, options.sendAtMs, options.attempts))) as Reply),
    );
  }

  finalise(delayId: DelayId, claimToken: string): Promise<MutationResult> {
    return this.afterCharge(async () => decodeFinalise((await this.redis.run(finaliseCall(this.keys, delayId, claimToken))) as Reply));
  }

  /** One script call per chunk of a storm's batch, the chunks on the wire at once (Redis runs them in order). */
  finaliseMany(events: readonly ClaimedDelayedEvent[]): Promise<MutationResult[]> {
    return this.afterCharge(() => this.inChunks(events, finaliseManyCall, decodeFinaliseMany));
  }

  /** One script call per chunk, like {@link RedisDelayedEventStore.finaliseMany}. */
  release(events: readonly ClaimedDelayedEvent[], _nowMs?: number): Promise<MutationResult[]> {
    return this.afterCharge(() => this.inChunks(events, releaseCall, decodeRelease));
  }

  /** Runs a per-event script over `events` in chunks of {@link MAX_BATCH}, all chunks on the wire at once; results in order. */
  private async inChunks(
    events: readonly ClaimedDelayedEvent[],
    call: (keys: RedisKeys, chunk: readonly ClaimedDelayedEvent[]) => ScriptCall,
    decode: (reply: Reply, count: number) => MutationResult[],
  ): Promise<MutationResult[]> {
    const chunks: Promise<MutationResult[]>[] = [];
    for (let from = 0; from < events.length; from += MAX_BATCH) {
      const chunk = events.slice(from, from + MAX_BATCH);
      chunks.push(this.redis.run(call(this.keys, chunk)).then((reply) => decode(reply as Reply, chunk.length)));
    }
    return (await Promise.all(chunks)).flat();
  }

  stats(): Promise<StoreStats> {
    return this.afterCharge(async () => decodeStats((await this.redis.run(statsCall(this.keys))) as Reply));
  }

  /** One script call per chunk, grouped by owner inside each (the chunks on the wire at once). */
  retain(events: readonly FinalisedDelayedEvent[], options: RetentionOptions): Promise<void> {
    return this.afterCharge(async () => {
      const chunks: Promise<unknown>[] = [];
      for (let from = 0; from < events.length; from += MAX_BATCH) chunks.push(this.redis.run(retainCall(this.keys, events.slice(from, from + MAX_BATCH), options)));
      await Promise.all(chunks);
    });
  }

  /** The owner is part of the key, so another user's record is never found. */
  getFinalised(delayId: DelayId, userId: string, options: { readonly nowMs: number; readonly maxAgeMs: number }): Promise<FinalisedDelayedEvent | undefined> {
    return this.afterCharge(async () => {
      const packed = await this.redis.call(() => this.redis.client.hget(this.keys.finalised(userId), delayId));
      if (packed === null) return undefined;
      const record = decodeFinalised(delayId, userId, packed);
      return record.finalisedAtMs < options.nowMs - options.maxAgeMs ? undefined : record;
    });
  }

  cancelByStateKey(filter: StateKeyFilter): Promise<CancelByStateKeyResult> {
    return this.afterCharge(async () => decodeCancelByStateKey((await this.redis.run(cancelByStateKeyCall(this.keys, filter))) as Reply));
  }

  nextDueAtMs(): Promise<number | undefined> {
    return this.afterCharge(async () => {
      const head = await this.redis.call(() => this.redis.client.zrange(this.keys.due, 0, 0, 'WITHSCORES'));
      return head[1] === undefined ? undefined : Number(head[1]);
    });
  }

  watch(listener: (dueAtMs: number) => void): () => void {
    return this.wake.watch(listener);
  }

  close(): Promise<void> {
    return this.wake.close();
  }
}

/**
 * Creates a {@link DelayedEventStore} on Redis. Several scheduler processes sharing one Redis (and
 * the same `keyPrefix`) share one schedule: each due event is claimed with a lease and sent by one
 * worker, and a crashed worker's claims fall due again for the others.
 *
 * @remarks
 * Every atomic operation is one Lua script, called by `EVALSHA`; concurrent `restart`, `add` and `cancel` calls
 * are sent as one script call per batch (each item still atomic; a lone call is not delayed). All
 * keys carry one hash tag, so the store also runs on Redis Cluster. Memory: see `docs/guide/operations.md` for the measured bytes per
 * outstanding event.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { DelayedEventScheduler } from 'matrix-delayed-events';
 * import { createRedisStore } from 'matrix-delayed-events/redis';
 *
 * const client = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const store = createRedisStore({ client, keyPrefix: 'mde' });
 * const scheduler = new DelayedEventScheduler({
 *   store, // with Redis-backed rate limits, prefer createRedisDelayedEvents (one call per heartbeat)
 *   sendEvent: (event) => homeserver.sendAs(event.userId, event), // dedupe on event.delayId
 * });
 * await scheduler.start();
 * ```
 *
 * @throws `ConfigError` `ERR_DE_OPTION_INVALID` for a missing client or a malformed prefix or tag.
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return newRedisStore(options, undefined);
}

/**
 * {@link createRedisStore}, linked to the rate limiter of a `createRedisDelayedEvents` pair.
 * @internal
 */
export function newRedisStore(options: RedisStoreOptions, link: ChargeLink | undefined): RedisStore {
  const client = options?.client;
  if (client === undefined || client === null || typeof client.defineCommand !== 'function') {
    throw new ConfigError('ERR_DE_OPTION_INVALID', 'createRedisStore needs `client`: a connected ioredis Redis or Cluster');
  }
  const keyPrefix = options.keyPrefix ?? 'mde';
  const hashTag = options.hashTag ?? keyPrefix;
  const problem = checkKeyPart('keyPrefix', keyPrefix) ?? checkKeyPart('hashTag', hashTag);
  if (problem !== undefined) throw new ConfigError('ERR_DE_OPTION_INVALID', problem);
  const timeoutMs = options.commandTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError('ERR_DE_OPTION_INVALID', `commandTimeoutMs must be an integer > 0 (got ${String(timeoutMs)})`);
  }
  return new RedisDelayedEventStore(client, redisKeys(keyPrefix, hashTag), timeoutMs, options.logger ?? {}, link);
}
