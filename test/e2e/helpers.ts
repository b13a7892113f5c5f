/**
 * Helpers for end-to-end tests against the example homeserver on an ephemeral 127.0.0.1 port, over
 * real HTTP (fetch).
 */
import { createHomeserver } from '../../examples/express-homeserver/server.js';
import type { Homeserver, HomeserverConfig, Listening } from '../../examples/express-homeserver/server.js';

/** A running example homeserver. */
export interface RunningServer {
  readonly hs: Homeserver;
  readonly url: string;
  readonly listening: Listening;
  close(): Promise<void>;
}

/** Starts an example homeserver on 127.0.0.1 with an ephemeral port. Rate limits are off unless given. */
export async function startServer(config: HomeserverConfig = {}): Promise<RunningServer> {
  const hs = createHomeserver({ rateLimits: 'off', ...config });
  const listening = await hs.listen(0, '127.0.0.1');
  return { hs, url: listening.url, listening, close: () => listening.close() };
}

/** A response: status, headers and the parsed JSON body (or the raw text when not JSON). */
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly text: string;
  readonly isJson: boolean;
}

/** Options of {@link request}. */
export interface RequestOptions {
  /** JSON-serialised unless a string (sent as is). `undefined`: no body. */
  readonly body?: unknown;
  readonly token?: string;
  readonly headers?: Record<string, string>;
}

/** Sends one request and parses the reply. */
export async function request(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  let isJson = false;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
    isJson = true;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed, text, isJson };
}

/** A registered user, with request helpers that carry its token. */
export class User {
  constructor(
    readonly base: string,
    readonly userId: string,
    readonly token: string,
    readonly deviceId: string,
  ) {}

  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
    return request(this.base, method, path, { token: this.token, body, ...(headers ? { headers } : {}) });
  }

  /** PUT a state event (path segments are encoded here). */
  putState(roomId: string, type: string, stateKey: string, content: unknown, query = ''): Promise<Reply> {
    return this.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}${query}`, content);
  }

  getState(roomId: string, type: string, stateKey: string): Promise<Reply> {
    return this.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`);
  }

  send(roomId: string, type: string, txnId: string, content: unknown, query = ''): Promise<Reply> {
    return this.req('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}${query}`, content);
  }

  /** Lists pending delayed events (unstable path by default). */
  async listDelayed(stable = false): Promise<Record<string, unknown>[]> {
    const r = await this.req('GET', stable ? '/_matrix/client/v1/delayed_events' : `${UNSTABLE}/delayed_events`);
    if (r.status !== 200) throw new Error(`list failed: ${r.status} ${r.text}`);
    return r.body['delayed_events'] as Record<string, unknown>[];
  }

  /** Management in the body form on the unstable path. */
  manage(delayId: string, action: unknown): Promise<Reply> {
    return this.req('POST', `${UNSTABLE}/delayed_events/${enc(delayId)}`, action === undefined ? undefined : { action });
  }

  /** `/messages` backwards from the end, returned oldest first. */
  async messages(roomId: string, limit = 50): Promise<Record<string, unknown>[]> {
    const r = await this.req('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=${limit}`);
    if (r.status !== 200) throw new Error(`messages failed: ${r.status} ${r.text}`);
    return (r.body['chunk'] as Record<string, unknown>[]).slice().reverse();
  }
}

export const UNSTABLE = '/_matrix/client/unstable/org.matrix.msc4140';
export const DELAY = 'org.matrix.msc4140.delay';
export const enc = encodeURIComponent;

let counter = 0;

/**
 * Registers a new user (`m.login.dummy`) with a unique name built from `prefix`. Without `password`
 * the account has none (registration returns its access token): a password costs one scrypt hash
 * (~100 ms here), so only tests that log in with one ask for it.
 */
export async function register(base: string, prefix = 'user', password?: string): Promise<User> {
  const username = `${prefix}${process.pid}x${++counter}`.toLowerCase();
  const r = await request(base, 'POST', '/_matrix/client/v3/register', {
    body: { username, ...(password === undefined ? {} : { password }), auth: { type: 'm.login.dummy' } },
  });
  if (r.status !== 200) throw new Error(`register failed: ${r.status} ${r.text}`);
  return new User(base, r.body['user_id'] as string, r.body['access_token'] as string, r.body['device_id'] as string);
}

/** The Complement setup: user1 creates a public room with power level 0 for `com.example.test`; user2 joins. */
export async function complementRoom(base: string, user1Password?: string): Promise<{ user1: User; user2: User; roomId: string }> {
  const user1 = await register(base, 'one', user1Password);
  const user2 = await register(base, 'two');
  const created = await user1.req('POST', '/_matrix/client/v3/createRoom', {
    preset: 'public_chat',
    power_level_content_override: { events: { 'com.example.test': 0 } },
  });
  if (created.status !== 200) throw new Error(`createRoom failed: ${created.status} ${created.text}`);
  const roomId = created.body['room_id'] as string;
  const joined = await user2.req('POST', `/_matrix/client/v3/join/${enc(roomId)}`, {});
  if (joined.status !== 200) throw new Error(`join failed: ${joined.status} ${joined.text}`);
  return { user1, user2, roomId };
}

/** Real-time sleep (these are end-to-end timing tests against the real clock). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 25 ms until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}
