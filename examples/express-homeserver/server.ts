/**
 * EXAMPLE HOMESERVER — an in-memory Matrix homeserver on Express 5, wired to matrix-delayed-events the
 * way a real host would wire it. It is an example: no federation, no encryption, no persistence of
 * rooms or accounts; only the delayed-event schedule can live in Redis.
 *
 * Wiring, in order:
 * 1. `toExpressRouter` is mounted first: it answers the MSC4140 endpoints and schedules any send, state
 *    or redact request carrying a delay; everything else passes through untouched.
 * 2. The host's routes (accounts, rooms, sync) follow; unknown routes get JSON 404 `M_UNRECOGNIZED`.
 * 3. The scheduler's `sendEvent` inserts a due event through the same path as an immediate one, so
 *    power levels are checked at the moment of sending; a refusal (403 `M_FORBIDDEN`) finalises it.
 * 4. Every persisted state event is reported to `scheduler.onStateEvent`.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import type { Express } from 'express';
import { Registry } from 'prom-client';
import { toExpressRouter } from '../../src/adapters/express/index.js';
import type { Clock } from '../../src/core/clock.js';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import type { CancelOnNewerStatePolicy, SpecProfile } from '../../src/core/options.js';
import { RateLimiter, type RateLimiterLike } from '../../src/core/rate-limiter.js';
import type { DueDelayedEvent, FinalOutcome, Logger } from '../../src/core/types.js';
import { versionsUnstableFeatures } from '../../src/http/versions.js';
import { delayedEventsCapabilities } from '../../src/http/capabilities.js';
import type { DelayedEventStore } from '../../src/core/store.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { createPrometheusMetrics } from '../../src/prometheus/index.js';
import { AuthService } from './auth.js';
import type { RateLimitsConfig } from './config.js';
import { rateLimitBuckets } from './config.js';
import { matrixErrorHandler, rawBodyReader, route, unrecognized } from './http-util.js';
import { mountRoomRoutes } from './room-routes.js';
import { RoomService } from './rooms.js';
import { mountSyncRoutes } from './sync.js';

/** Options of {@link createHomeserver}. */
export interface HomeserverConfig {
  /** Server part of user, room and event IDs. @defaultValue `"localhost"` */
  readonly serverName?: string;
  /** Where the delayed-event schedule lives. @defaultValue a new in-memory store */
  readonly store?: DelayedEventStore;
  /** Clock of the scheduler. @defaultValue the system clock */
  readonly clock?: Clock;
  /** Largest delay a client may ask for, in ms. @defaultValue the library's (24 h) */
  readonly maxDelayMs?: number;
  /** Most outstanding delayed events per user. @defaultValue the library's (100) */
  readonly maxPerUser?: number;
  /** Rate limits of the delayed-events endpoints, or `'off'`. @defaultValue the library's */
  readonly rateLimits?: RateLimitsConfig;
  /** A ready rate limiter (e.g. Redis-backed); takes precedence over `rateLimits`. */
  readonly rateLimiter?: RateLimiterLike;
  /** Which delayed state events a newer state event cancels. @defaultValue the profile's */
  readonly cancelOnNewerState?: CancelOnNewerStatePolicy;
  /** The MSC4140 revision served. @defaultValue `"msc4140-2024"` */
  readonly profile?: SpecProfile;
  /** Diagnostics. @defaultValue nothing is logged */
  readonly logger?: Logger;
  /**
   * Rooms and accounts of a previous instance: the example keeps them in memory, so a "restart" that
   * keeps them simulates a host whose own database survives while its HTTP server and scheduler restart.
   */
  readonly previous?: Pick<Homeserver, 'rooms' | 'auth'>;
}

/** A running listener. */
export interface Listening {
  /** Base URL, e.g. `http://127.0.0.1:8008`. */
  readonly url: string;
  /** The `node:http` server. */
  readonly server: Server;
  /**
   * Stops the scheduler (with `deadlineMs`: waits that long for sends in flight, then releases their
   * claims to other workers), ends long-polls and closes the listener.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

/** What {@link createHomeserver} returns. */
export interface Homeserver {
  readonly app: Express;
  readonly scheduler: DelayedEventScheduler;
  readonly rooms: RoomService;
  readonly auth: AuthService;
  readonly serverName: string;
  /** How recently finalised delayed events ended (bounded; for tests and diagnostics). */
  readonly outcomes: ReadonlyMap<string, FinalOutcome>;
  /** The Prometheus registry served on `GET /metrics`. */
  readonly metricsRegistry: Registry;
  /**
   * The scheduler's `sendEvent`: inserts a due delayed event (power levels checked now); a second
   * delivery of the same delay ID returns the first event's ID without inserting anything.
   */
  deliver(event: DueDelayedEvent): Promise<{ eventId: string }>;
  /** Starts the scheduler and listens. */
  listen(port: number, host: string): Promise<Listening>;
}

const MAX_REMEMBERED = 10_000;

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.set(key, value);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as K);
}

/** Builds the example homeserver (not listening yet). */
export function createHomeserver(config: HomeserverConfig = {}): Homeserver {
  const serverName = config.serverName ?? 'localhost';
  const logger = config.logger ?? {};
  const auth = config.previous?.auth ?? new AuthService(serverName);
  const outcomes = new Map<string, FinalOutcome>();
  const delivered = new Map<string, Promise<string>>();
  const rooms = config.previous?.rooms ?? new RoomService(serverName);
  // Called only once the server runs, after `scheduler` below is initialised.
  rooms.setStateListener((info) => scheduler.onStateEvent(info));
  rooms.showDelayIds = config.profile === 'msc4140-2026';

  // At the point of sending: the same insert path as an immediate event, power levels checked now.
  async function sendEvent(event: DueDelayedEvent): Promise<{ eventId: string }> {
    const already = delivered.get(event.delayId);
    if (already) return { eventId: await already }; // a second delivery of one delay ID is dropped
    const inserting = rooms
      .insert({
        roomId: event.roomId,
        sender: event.userId,
        type: event.type,
        stateKey: event.stateKey,
        content: event.content,
        originServerTs: event.sendAtMs,
        delayId: event.delayId,
      })
      .then((ev) => ev.event_id);
    remember(delivered, event.delayId, inserting);
    inserting.catch(() => delivered.delete(event.delayId));
    return { eventId: await inserting };
  }

  // A registry per homeserver (tests start several in one process); a real host would use prom-client's
  // global `register` and add `collectDefaultMetrics()`.
  const metricsRegistry = new Registry();
  const rateLimiter =
    config.rateLimiter ?? (config.rateLimits !== undefined ? new RateLimiter({ logger, buckets: rateLimitBuckets(config.rateLimits) }) : undefined);
  const scheduler = new DelayedEventScheduler({
    // The event ID goes back to the library, which shows it in the 2026 lookup.
    sendEvent: async (event) => (await sendEvent(event)).eventId,
    ...(config.profile ? { profile: config.profile } : {}),
    store: config.store ?? createMemoryStore(),
    ...(config.clock ? { clock: config.clock } : {}),
    logger,
    ...(config.maxDelayMs !== undefined ? { maxDelayMs: config.maxDelayMs } : {}),
    ...(config.maxPerUser !== undefined ? { maxOutstandingPerUser: config.maxPerUser } : {}),
    ...(rateLimiter ? { rateLimiter } : {}),
    ...(config.cancelOnNewerState ? { cancelOnNewerState: config.cancelOnNewerState } : {}),
    // The library logs failures itself; the example keeps recent outcomes for diagnostics and tests.
    onFinalised: (event, outcome) => remember(outcomes, event.delayId, outcome),
    metrics: createPrometheusMetrics({ registry: metricsRegistry }),
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    // Browser clients (Element Web) need CORS on the Client-Server API.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Origin, X-Requested-With, Content-Type, Accept, Authorization');
    next();
  });
  app.options('/{*any}', (_req, res) => {
    res.status(204).end();
  });

  // Operations: Prometheus metrics, and a readiness probe (200 when the store answers and delivery
  // runs, else 503). A real host serves these on an internal port, not to clients.
  app.get('/metrics', route(async (_req, res) => {
    res.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  }));
  app.get('/health', route(async (_req, res) => {
    const health = await scheduler.health({ timeoutMs: 1000 });
    const ready = health.store === 'ok' && health.timer !== 'stopped';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', ...health });
  }));

  // 1. The library first: MSC4140 endpoints and every delayed send/state/redact.
  app.use(
    toExpressRouter({
      scheduler,
      authenticate: (req) => auth.authenticateToken(req.headers['authorization'], req.query.get('access_token')),
      logger,
    }),
  );

  // 2. The host's own routes.
  app.use(rawBodyReader());
  const client = express.Router();
  client.get('/versions', (_req, res) => {
    res.json({
      versions: ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11'],
      unstable_features: { ...versionsUnstableFeatures(true) },
    });
  });
  client.get('/v3/capabilities', route((req, res) => {
    const caller = auth.authenticate(req);
    res.json({
      capabilities: {
        'm.change_password': { enabled: false },
        'm.set_displayname': { enabled: false },
        'm.set_avatar_url': { enabled: false },
        'm.3pid_changes': { enabled: false },
        'm.room_versions': { default: '10', available: { '10': 'stable', '11': 'stable' } },
        ...delayedEventsCapabilities(scheduler.options, caller.userId),
      },
    });
  }));
  auth.mount(client);
  mountRoomRoutes(client, rooms, auth);
  mountSyncRoutes(client, rooms, auth);
  app.use('/_matrix/client', client);
  app.use(unrecognized((message) => logger.debug?.(message)));
  app.use(matrixErrorHandler((message, detail) => logger.error?.({ err: detail }, message)));

  return {
    app,
    scheduler,
    rooms,
    auth,
    serverName,
    outcomes,
    metricsRegistry,
    deliver: sendEvent,
    async listen(port, host) {
      rooms.reopen();
      await scheduler.start();
      const server = app.listen(port, host);
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      let closing: Promise<void> | undefined;
      return {
        url: `http://${shownHost}:${address.port}`,
        server,
        close(options = {}) {
          closing ??= (async () => {
            await scheduler.stop(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs });
            rooms.shutdown();
            await new Promise<void>((resolve) => {
              const force = setTimeout(() => server.closeAllConnections(), 2000);
              server.close(() => {
                clearTimeout(force);
                resolve();
              });
              server.closeIdleConnections();
            });
          })();
          return closing;
        },
      };
    },
  };
}
