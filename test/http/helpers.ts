import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import type { DelayedEventSchedulerOptions } from '../../src/core/options.js';
import type { RateLimiterOptions } from '../../src/core/rate-limiter.js';
import { MatrixError } from '../../src/core/errors.js';
import type { DueDelayedEvent, Logger, Requester } from '../../src/core/types.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { toNodeHandler } from '../../src/adapters/node/index.js';
import type { AuthenticateFn, DelayedEventsHandlerOptions, HandlerRequest } from '../../src/http/handlers.js';
import { ALICE, ALICE_LAPTOP, BOB, noLimits, ROOM } from '../helpers/fixtures.js';

export const ROOM_ENC = encodeURIComponent(ROOM);
export const STABLE = '/_matrix/client/v1/delayed_events';
export const UNSTABLE = '/_matrix/client/unstable/org.matrix.msc4140/delayed_events';
export const ROOMS = `/_matrix/client/v3/rooms/${ROOM_ENC}`;

/** Access tokens of the test users. */
export const USERS: Record<string, Requester> = {
  alice: ALICE,
  alice2: ALICE_LAPTOP,
  bob: BOB,
};

function bearer(headers: HandlerRequest['headers']): string | undefined {
  const value = headers['authorization'];
  if (typeof value !== 'string' || !value.startsWith('Bearer ')) return undefined;
  return value.slice('Bearer '.length);
}

/** Counts calls, so tests can check that unrecognized requests skip authentication. */
export function makeAuthenticate(): AuthenticateFn & { calls: number } {
  const fn = Object.assign(
    async (req: HandlerRequest): Promise<Requester> => {
      fn.calls++;
      const token = bearer(req.headers);
      if (token === undefined) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
      const user = USERS[token];
      if (user === undefined) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown access token');
      return user;
    },
    { calls: 0 },
  );
  return fn;
}

/** What the host saw of requests the adapter passed on. */
export interface HostRequest {
  method: string;
  url: string;
  body: string;
}

export interface TestServer {
  baseUrl: string;
  clock: ManualClock;
  sent: DueDelayedEvent[];
  hostRequests: HostRequest[];
  scheduler: DelayedEventScheduler;
  authenticate: AuthenticateFn & { calls: number };
  logged: unknown[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  scheduler?: Partial<DelayedEventSchedulerOptions>;
  /** Buckets to turn on; every other bucket is off (see `noLimits`). */
  rateLimits?: RateLimiterOptions['buckets'];
  handler?: Partial<DelayedEventsHandlerOptions>;
  /**
   * The host calls the adapter only once the whole body (per `content-length`) has arrived and sits
   * unread in the request's buffer, as a framework with async hooks may. Waits for the bytes
   * themselves, not for an amount of time.
   */
  hostWaitsForBody?: boolean;
  /** Called with every request at the moment the adapter is called, e.g. to check the buffer then. */
  observeCall?: (req: IncomingMessage) => void;
  /** Called with every request before the adapter sees it. */
  observe?: (req: IncomingMessage) => void;
  /** Called with every request right after the adapter was called (in the same tick). */
  observeAfter?: (req: IncomingMessage) => void;
}

export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The host's own handler: answers 418 with what it received, proving the request reached it intact. */
export function hostFallback(hostRequests: HostRequest[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') };
      hostRequests.push(seen);
      res.writeHead(418, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ host: true, ...seen }));
    });
  };
}

export function makeScheduler(options: TestServerOptions = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const sent: DueDelayedEvent[] = [];
  const logged: unknown[] = [];
  const logger: Logger = { error: (message, detail) => logged.push({ message, detail }) };
  const scheduler = new DelayedEventScheduler({
    clock,
    logger,
    store: createMemoryStore(),
    rateLimiter: noLimits(options.rateLimits),
    sendEvent: (event) => {
      sent.push(event);
    },
    maxDelayMs: 86_400_000,
    ...options.scheduler,
  });
  return { clock, sent, logged, logger, scheduler };
}

/**
 * Resolves once `req`'s whole body (per `content-length`) is in its read buffer. Checks once per turn
 * of the event loop: each turn lets the socket deliver what has arrived, so this ends as soon as the
 * last byte is in, however long the network takes.
 */
async function bodyArrived(req: IncomingMessage): Promise<void> {
  const length = Number(req.headers['content-length'] ?? 0);
  while (req.readableLength < length && !req.readableEnded) await new Promise((resolve) => setImmediate(resolve));
}

/** A plain node:http server: the node adapter first, then the host's fallback. */
export async function startNodeServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { clock, sent, logged, logger, scheduler } = makeScheduler(options);
  await scheduler.start();
  const authenticate = makeAuthenticate();
  const delayedEvents = toNodeHandler({ scheduler, authenticate, logger, ...options.handler });
  const hostRequests: HostRequest[] = [];
  const fallback = hostFallback(hostRequests);
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    options.observe?.(req);
    options.observeCall?.(req);
    void delayedEvents(req, res).then((answered) => {
      if (!answered) fallback(req, res);
    });
    options.observeAfter?.(req);
  };
  const server = createServer(options.hostWaitsForBody === true ? (req, res) => void bodyArrived(req).then(() => serve(req, res)) : serve);
  const baseUrl = await listen(server);
  return {
    baseUrl,
    clock,
    sent,
    hostRequests,
    scheduler,
    authenticate,
    logged,
    async close() {
      await closeServer(server);
      await scheduler.stop();
    },
  };
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

export interface CallOptions {
  /** Token name from USERS; `null` sends no Authorization header. */
  token?: string | null;
  /** An object is sent as JSON; a string or bytes as they are. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request with Node's fetch. */
export async function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? 'alice' : options.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let body: string | Uint8Array | undefined;
  if (typeof options.body === 'string' || options.body instanceof Uint8Array) body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // leave empty; tests that expect JSON check `text`
  }
  return { status: response.status, headers: response.headers, text, json };
}

/**
 * A request with node:http, whose path is sent byte for byte (fetch would normalise `..` and `%2e`).
 */
export function rawCall(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string | null; body?: string; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? 'alice' : options.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Schedules a delayed message for `token` and returns its delay ID. */
export async function scheduleMessage(
  baseUrl: string,
  token: string,
  delayMs: number,
  txnId: string,
  content: Record<string, unknown> = { msgtype: 'm.text', body: txnId },
): Promise<string> {
  const res = await call(baseUrl, 'PUT', `${ROOMS}/send/m.room.message/${txnId}?delay=${delayMs}`, { token, body: content });
  if (res.status !== 200 || typeof res.json['delay_id'] !== 'string') {
    throw new Error(`scheduling failed: ${res.status} ${res.text}`);
  }
  return res.json['delay_id'];
}

/** The delay IDs `token` has pending, via the list endpoint. */
export async function listIds(baseUrl: string, token: string): Promise<string[]> {
  const res = await call(baseUrl, 'GET', STABLE, { token });
  if (res.status !== 200) throw new Error(`list failed: ${res.status} ${res.text}`);
  return (res.json['delayed_events'] as { delay_id: string }[]).map((e) => e.delay_id);
}

/** A response read off a raw connection. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  json: Record<string, unknown>;
}

/** One step of {@link rawExchange}: bytes to write (a string as UTF-8), or a pause in milliseconds. */
export type RawStep = string | Uint8Array | number;

/**
 * Writes `steps` on one keep-alive connection, exactly as given (each string is one `write`, so one
 * packet on loopback; a number pauses that long), and reads back `count` responses in order.
 */
export function rawExchange(baseUrl: string, steps: readonly RawStep[], count: number): Promise<RawResponse[]> {
  const { port, hostname } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    socket.setNoDelay(true);
    const responses: RawResponse[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${responses.length} of ${count} responses arrived`));
    }, 5_000);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [statusLine = '', ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const text = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
        buffered = buffered.subarray(end + 4 + length);
        responses.push({ status: Number(statusLine.split(' ')[1]), headers, json: JSON.parse(text) as Record<string, unknown> });
        if (responses.length === count) {
          clearTimeout(timer);
          socket.end();
          resolve(responses);
          return;
        }
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (typeof step === 'number') await new Promise((r) => setTimeout(r, step));
          else await new Promise<void>((r) => socket.write(step, () => r()));
        }
      })();
    });
  });
}

/** The head of a raw HTTP/1.1 request with a JSON body of `bodyBytes` bytes (sent separately). */
export function rawHead(method: string, path: string, bodyBytes: number, token = 'alice'): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`
  );
}

/** A whole raw HTTP/1.1 request with a JSON body. */
export function rawRequest(method: string, path: string, body: unknown, token = 'alice'): string {
  const json = JSON.stringify(body);
  return rawHead(method, path, Buffer.byteLength(json), token) + json;
}
