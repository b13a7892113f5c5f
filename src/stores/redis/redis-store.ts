import { ConfigError } from '../../core/config-error.js';
import type { DelayId, Logger } from '../../core/types.js';
import type {
  AddOptions,
  AddResult,
  ClaimOptions,
  ClaimedDelayedEvent,
  DelayedEventStore,
  ListCursor,
  MutationResult,
  NewDelayedEvent,
  RestartOutcome,
  StateKeyFilter,
  StoreCapabilities,
  StoredDelayedEvent,
} from '../../core/store.js';
import { decodeClaimedRecord, decodePendingRecord, encodeNewEvent } from './codec.js';
import { checkKeyPart, redisKeys, stateSlotFromBase, txnKeyFromBase, userKeyFromBase, type RedisKeys } from './keys.js';
import type { ChargeLink, FusedCharge } from './fused-charge.js';
import { RedisConnection, type RedisClient } from './redis-connection.js';
import { MicroBatcher } from './micro-batcher.js';
import { mapScriptStatus } from './script-status.js';
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
  /** Closes the store's subscriber connection (never the client it was given). */
  close(): Promise<void>;
}

type Reply = readonly unknown[];

/** Reads the event layout written by `eventReply()` in `lua/includes/codec.lua`. */
function decodeEvent(reply: unknown): StoredDelayedEvent {
  const [delayId, userId, deviceId, roomId, type, stateKey, contentJson, delayMs, sendAtMs, attempts] = reply as [
    string,
    string,
    string | null,
    string,
    string,
    string | null,
    string,
    number,
    number,
    number,
  ];
  return {
    delayId,
    userId,
    deviceId: deviceId ?? undefined,
    roomId,
    type,
    stateKey: stateKey ?? undefined,
    contentJson,
    delayMs,
    runningSinceMs: sendAtMs - delayMs,
    sendAtMs,
    attempts,
  };
}

function claimed(reply: unknown, options: ClaimOptions): ClaimedDelayedEvent {
  return { ...decodeEvent(reply), claimToken: options.claimToken, leaseUntilMs: options.nowMs + options.leaseMs };
}

function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

const notFound = { ok: false, reason: 'not_found' } as const;

/** One queued restart. */
interface RestartItem {
  readonly delayId: DelayId;
  readonly userId: string;
  readonly nowMs: number;
  /** The `manage` point to take in the script first, when the pair's limiter offered one. */
  readonly charge: FusedCharge | undefined;
}

type RestartResult = MutationResult<RestartOutcome>;
/** A restart whose charge was refused (the event was not touched). */
interface RestartRefused {
  readonly ok: false;
  readonly reason: 'rate_limited';
  readonly retryAfterMs: number;
}

/** One queued cancel. */
interface CancelItem {
  readonly delayId: DelayId;
  readonly userId: string;
}

type CancelResult = MutationResult<{ readonly event: StoredDelayedEvent }>;

/** One queued add. */
interface AddItem {
  readonly event: NewDelayedEvent;
  readonly options: AddOptions;
}

/**
 * Restarts and adds go in batches of up to 32 with up to 4 script calls on the wire at once: one
 * 128-item call left Node and Redis taking turns (41-52k restarts/s); 32 x 4 keeps both busy
 * (62-84k/s, same machine and load). Redis runs calls from one connection in order, so batches still
 * apply in the order they were sent.
 */
const BATCH = 32;
const BATCHES_IN_FLIGHT = 4;
/** Most finalisations sent in one script call (keeps each call short for Redis). */
const MAX_BATCH = 128;

class RedisDelayedEventStore implements RedisStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ sharedAcrossProcesses: true });
  private readonly redis: RedisConnection;
  private readonly keys: RedisKeys;
  private readonly wake: WakeSubscriber;
  private readonly restarts: MicroBatcher<RestartItem, RestartResult | RestartRefused>;
  private readonly adds: MicroBatcher<AddItem, AddResult>;
  private readonly cancels: MicroBatcher<CancelItem, CancelResult>;

  constructor(
    client: RedisClient,
    keys: RedisKeys,
    timeoutMs: number,
    logger: Logger,
    /** Where the pair's limiter offers its pending `manage` point (`createRedisDelayedEvents`). */
    private readonly link: ChargeLink | undefined,
  ) {
    this.redis = new RedisConnection(client, timeoutMs);
    this.keys = keys;
    this.wake = new WakeSubscriber(client, keys.wakeChannel, logger, () => this.nextDueAtMs());
    this.restarts = new MicroBatcher((items) => this.restartBatch(items), BATCH, BATCHES_IN_FLIGHT);
    this.adds = new MicroBatcher((items) => this.addBatch(items), BATCH, BATCHES_IN_FLIGHT);
    this.cancels = new MicroBatcher((items) => this.cancelBatch(items), BATCH, BATCHES_IN_FLIGHT);
  }

  /**
   * Runs a store call after charging the point the pair's limiter offered, if any: only restarts take
   * theirs inside their script.
   */
  private afterCharge<T>(run: () => Promise<T>): Promise<T> {
    const charge = this.link?.take();
    return charge === undefined ? run() : charge.chargeSeparately().then(run);
  }

  add(event: NewDelayedEvent, options: AddOptions): Promise<AddResult> {
    return this.afterCharge(() => this.adds.submit({ event, options }));
  }

  /**
   * Adds arriving in the same event-loop turn go to Redis as one script call, applied in order. Every
   * string the script stores is built here (record, key suffixes, state slot, transaction record),
   * where it costs the Node process little, instead of in Lua, where it cost most of an add's Redis time.
   */
  private async addBatch(items: readonly AddItem[]): Promise<AddResult[]> {
    const k = this.keys;
    const args: (string | number)[] = [k.wakeChannel];
    for (const { event, options } of items) {
      const { delayId, stateKey, txnKey } = event;
      const state = stateKey === undefined ? undefined : stateSlotFromBase('', event.roomId, event.type, stateKey);
      args.push(
        delayId,
        options.nowMs,
        options.maxPerUser,
        userKeyFromBase('', event.userId),
        encodeNewEvent(event),
        options.nowMs + event.delayMs,
        txnKey === undefined ? '' : txnKeyFromBase('', txnKey),
        `${options.nowMs + options.txnTtlMs}:${delayId}`,
        options.txnTtlMs,
        state?.key ?? '',
        state?.field ?? '',
        `${Buffer.byteLength(delayId)}:${delayId}`,
      );
    }
    const reply = (await this.redis.script('addDelayedEvents', [k.events, k.due, k.base], args)) as Reply;
    return items.map((_, i): AddResult => {
      const outcome = mapScriptStatus(reply[3 * i], 'addDelayedEvents');
      if (outcome === 'max_outstanding') {
        return { ok: false, reason: 'max_outstanding', userNextSendAtMs: optionalNumber(reply[3 * i + 2]) };
      }
      return { ok: true, delayId: String(reply[3 * i + 1]), duplicate: outcome === 'duplicate', nextDueAtMs: optionalNumber(reply[3 * i + 2]) };
    });
  }

  findTxn(txnKey: string, nowMs: number): Promise<DelayId | undefined> {
    return this.afterCharge(() => this.findTxnNow(txnKey, nowMs));
  }

  private async findTxnNow(txnKey: string, nowMs: number): Promise<DelayId | undefined> {
    const reply = await this.redis.script('findTxn', [this.keys.txn(txnKey)], [nowMs]);
    return typeof reply === 'string' ? reply : undefined;
  }

  get(delayId: DelayId): Promise<StoredDelayedEvent | undefined> {
    return this.afterCharge(() => this.getNow(delayId));
  }

  private async getNow(delayId: DelayId): Promise<StoredDelayedEvent | undefined> {
    const reply = (await this.redis.script('getDelayedEvent', [this.keys.events, this.keys.due], [delayId])) as Reply | null;
    return reply === null ? undefined : decodeEvent(reply[0]);
  }

  listForUser(userId: string, options: { readonly after?: ListCursor | undefined; readonly limit: number }): Promise<StoredDelayedEvent[]> {
    return this.afterCharge(() => this.listNow(userId, options));
  }

  private async listNow(userId: string, options: { readonly after?: ListCursor | undefined; readonly limit: number }): Promise<StoredDelayedEvent[]> {
    if (options.limit <= 0) return [];
    const reply = (await this.redis.script(
      'listDelayedEvents',
      [this.keys.events, this.keys.due, this.keys.user(userId)],
      [options.after?.sendAtMs ?? '', options.after?.delayId ?? '', options.limit],
    )) as Reply;
    return reply.map(decodeEvent);
  }

  /**
   * Restarts the event; with a `manage` point offered by the pair's limiter, takes it inside the same
   * script call (refused: the event is left untouched and the charge's error is thrown).
   */
  async restart(delayId: DelayId, userId: string, nowMs: number): Promise<RestartResult> {
    const charge = this.link?.take();
    const result = await this.restarts.submit({ delayId, userId, nowMs, charge });
    if (result.ok || result.reason === 'not_found') return result;
    throw charge!.refused(result.retryAfterMs);
  }

  /** Heartbeats arriving in the same event-loop turn go to Redis as one script call. */
  private async restartBatch(items: readonly RestartItem[]): Promise<(RestartResult | RestartRefused)[]> {
    const k = this.keys;
    const keys = [k.events, k.due];
    const counters = new Map<string, number>();
    const args: (string | number)[] = [k.wakeChannel];
    for (const { delayId, userId, nowMs, charge } of items) {
      // The owner as records store it (codec.lua), so the script compares it without decoding.
      args.push(delayId, `${Buffer.byteLength(userId)}:${userId}`, nowMs);
      if (charge === undefined) {
        args.push(0, 0, 0, 0);
        continue;
      }
      let index = counters.get(charge.key);
      if (index === undefined) {
        index = keys.push(charge.key);
        counters.set(charge.key, index);
      }
      args.push(index, charge.limit, charge.secDuration, charge.blockMs);
    }
    const reply = (await this.redis.script('restartDelayedEvents', keys, args)) as Reply;
    return items.map((_, i): RestartResult | RestartRefused => {
      const outcome = mapScriptStatus(reply[3 * i], 'restartDelayedEvents');
      if (outcome === 'rate_limited') return { ok: false, reason: 'rate_limited', retryAfterMs: Number(reply[3 * i + 1]) };
      if (outcome !== 'ok') return notFound;
      return { ok: true, nextDueAtMs: optionalNumber(reply[3 * i + 1]), sendAtMs: Number(reply[3 * i + 2]) };
    });
  }

  cancel(delayId: DelayId, userId: string): Promise<CancelResult> {
    return this.afterCharge(() => this.cancels.submit({ delayId, userId }));
  }

  /**
   * Cancels arriving in the same event-loop turn go to Redis as one script call, applied in order;
   * the script returns each removed record as stored, decoded here rather than in Lua.
   */
  private async cancelBatch(items: readonly CancelItem[]): Promise<CancelResult[]> {
    const k = this.keys;
    const args: string[] = [];
    // The owner as records store it (codec.lua), so the script compares it without decoding.
    for (const { delayId, userId } of items) args.push(delayId, `${Buffer.byteLength(userId)}:${userId}`);
    const reply = (await this.redis.script('cancelDelayedEvents', [k.events, k.due, k.base], args)) as Reply;
    // Every item of a batch sees the same earliest due time: the one after the whole batch.
    const nextDueAtMs = optionalNumber(reply[3 * items.length]);
    return items.map(({ delayId }, i): CancelResult => {
      if (mapScriptStatus(reply[3 * i], 'cancelDelayedEvents') !== 'ok') return notFound;
      return { ok: true, nextDueAtMs, event: decodePendingRecord(delayId, reply[3 * i + 2] as string, Number(reply[3 * i + 1])) };
    });
  }

  claim(delayId: DelayId, userId: string, options: ClaimOptions): Promise<MutationResult<{ readonly event: ClaimedDelayedEvent }>> {
    return this.afterCharge(() => this.claimNow(delayId, userId, options));
  }

  private async claimNow(delayId: DelayId, userId: string, options: ClaimOptions): Promise<MutationResult<{ readonly event: ClaimedDelayedEvent }>> {
    const reply = (await this.redis.script(
      'claimDelayedEvent',
      [this.keys.events, this.keys.due],
      [delayId, userId, options.nowMs, options.leaseMs, options.claimToken],
    )) as Reply;
    if (mapScriptStatus(reply[0], 'claimDelayedEvent') !== 'ok') return notFound;
    return { ok: true, nextDueAtMs: optionalNumber(reply[1]), event: claimed(reply[2], options) };
  }

  async claimDue(options: ClaimOptions & { readonly max: number }): Promise<ClaimedDelayedEvent[]> {
    if (options.max <= 0) return [];
    const reply = (await this.redis.script(
      'claimDueEvents',
      [this.keys.events, this.keys.due],
      [options.nowMs, options.leaseMs, options.claimToken, options.max],
    )) as Reply;
    const leaseUntilMs = options.nowMs + options.leaseMs;
    const events: ClaimedDelayedEvent[] = [];
    for (let i = 0; i < reply.length; i += 2) events.push(decodeClaimedRecord(reply[i] as string, reply[i + 1] as string, leaseUntilMs));
    return events;
  }

  async reschedule(
    delayId: DelayId,
    claimToken: string,
    options: { readonly sendAtMs: number; readonly attempts: number; readonly nowMs: number },
  ): Promise<MutationResult> {
    const k = this.keys;
    const reply = (await this.redis.script(
      'rescheduleDelayedEvent',
      [k.events, k.due],
      [delayId, claimToken, options.sendAtMs, options.attempts, k.wakeChannel],
    )) as Reply;
    if (mapScriptStatus(reply[0], 'rescheduleDelayedEvent') !== 'ok') return notFound;
    return { ok: true, nextDueAtMs: optionalNumber(reply[1]) };
  }

  async finalise(delayId: DelayId, claimToken: string): Promise<MutationResult> {
    const k = this.keys;
    const reply = (await this.redis.script('finaliseDelayedEvent', [k.events, k.due, k.base], [delayId, claimToken])) as Reply;
    if (mapScriptStatus(reply[0], 'finaliseDelayedEvent') !== 'ok') return notFound;
    return { ok: true, nextDueAtMs: optionalNumber(reply[1]) };
  }

  /**
   * One script call per chunk of a storm's batch, the chunks on the wire at once (Redis runs them in
   * order). Passing the owner and the state-index slot from the claimed fields spares the script
   * decoding each record beyond its claim token and hashing the slot: redis-server is what every
   * worker shares, while this process has time to spare in a storm.
   */
  async finaliseMany(events: readonly ClaimedDelayedEvent[]): Promise<MutationResult[]> {
    const chunks: Promise<MutationResult[]>[] = [];
    for (let from = 0; from < events.length; from += MAX_BATCH) chunks.push(this.finaliseChunk(events.slice(from, from + MAX_BATCH)));
    return (await Promise.all(chunks)).flat();
  }

  private async finaliseChunk(events: readonly ClaimedDelayedEvent[]): Promise<MutationResult[]> {
    if (events.length === 0) return [];
    const k = this.keys;
    const args: string[] = [];
    for (const event of events) {
      if (event.stateKey === undefined) args.push(event.delayId, event.claimToken, event.userId, '', '');
      else {
        const slot = stateSlotFromBase(k.base, event.roomId, event.type, event.stateKey);
        args.push(event.delayId, event.claimToken, event.userId, slot.key, slot.field);
      }
    }
    const reply = (await this.redis.script('finaliseDelayedEvents', [k.events, k.due, k.base], args)) as Reply;
    // Every item of a batch sees the same earliest due time: the one after the whole batch.
    const done = { ok: true, nextDueAtMs: optionalNumber(reply[events.length]) } as const;
    return events.map((_, i) => (mapScriptStatus(reply[i], 'finaliseDelayedEvents') === 'ok' ? done : notFound));
  }

  async cancelByStateKey(filter: StateKeyFilter): Promise<{ readonly cancelled: StoredDelayedEvent[]; readonly nextDueAtMs: number | undefined }> {
    const k = this.keys;
    const reply = (await this.redis.script(
      'cancelByStateKey',
      [k.events, k.due, k.state(filter.roomId, filter.type, filter.stateKey), k.base],
      [filter.keepUserId ?? '', filter.keepUserId === undefined ? '0' : '1', filter.roomId, filter.type, filter.stateKey],
    )) as Reply;
    return { nextDueAtMs: optionalNumber(reply[0]), cancelled: reply.slice(1).map(decodeEvent) };
  }

  async nextDueAtMs(): Promise<number | undefined> {
    const head = await this.redis.call(() => this.redis.client.zrange(this.keys.due, 0, 0, 'WITHSCORES'));
    return head[1] === undefined ? undefined : Number(head[1]);
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
 * import { createRedisStore, createRedisRateLimiter } from 'matrix-delayed-events/redis';
 *
 * const client = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const store = createRedisStore({ client, keyPrefix: 'mde' });
 * const scheduler = new DelayedEventScheduler({
 *   store,
 *   rateLimiter: createRedisRateLimiter({ client }),
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
