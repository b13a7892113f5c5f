/**
 * EXAMPLE HOMESERVER — accounts, devices and access tokens (in memory; all lost on exit).
 *
 * Routes: `POST /v3/register` (`m.login.dummy` or no auth), `GET|POST /v3/login` (`m.login.password`),
 * `GET /v3/account/whoami`, `POST /v3/logout`.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Router } from 'express';
import { fail, jsonBody, optObject, optString, queryString, route } from './http-util.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

/** The authenticated caller. */
export interface Caller {
  readonly userId: string;
  readonly deviceId: string;
}

interface Account {
  readonly userId: string;
  /** `scrypt$N$r$p$salt$hash` (see passwords.ts), or `undefined` for an account without a password. */
  readonly passwordHash: string | undefined;
}

const LOCALPART = /^[a-z0-9._=\-/+]+$/;
const MAX_PASSWORD_LENGTH = 512;

/** Accounts and access tokens of the example homeserver. */
export class AuthService {
  private readonly accounts = new Map<string, Account>();
  private readonly tokens = new Map<string, Caller>();

  constructor(readonly serverName: string) {}

  /** True when the user exists. */
  hasUser(userId: string): boolean {
    return this.accounts.has(userId);
  }

  /** Resolves the access token of a request (Bearer header or `access_token` query) or throws 401. */
  authenticate(req: Request): Caller {
    return this.authenticateToken(req.headers.authorization, queryString(req, 'access_token'));
  }

  /**
   * Resolves an `Authorization` header value, else an `access_token` query value, to the caller.
   * Throws 401 `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`.
   */
  authenticateToken(authorization: string | string[] | undefined, queryToken: string | null | undefined): Caller {
    let token: string | undefined;
    if (typeof authorization === 'string' && authorization.length > 0) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) fail(401, 'M_MISSING_TOKEN', 'Malformed Authorization header.');
      token = match[1];
    } else if (typeof queryToken === 'string') {
      token = queryToken;
    }
    if (token === undefined || token === '') fail(401, 'M_MISSING_TOKEN', 'Missing access token.');
    const caller = this.tokens.get(token);
    if (!caller) fail(401, 'M_UNKNOWN_TOKEN', 'Unrecognised access token.');
    return caller;
  }

  private issue(userId: string, deviceId: string | undefined): { user_id: string; access_token: string; device_id: string; home_server: string } {
    const device = deviceId ?? randomBytes(5).toString('hex').toUpperCase();
    const token = `syt_${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { userId, deviceId: device });
    return { user_id: userId, access_token: token, device_id: device, home_server: this.serverName };
  }

  /** Mounts the account routes on a router under `/_matrix/client`. */
  mount(router: Router): void {
    router.post('/v3/register', route(async (req, res) => {
      if (queryString(req, 'kind') === 'guest') fail(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled.');
      const body = jsonBody(req, false);
      const auth = optObject(body, 'auth');
      if (auth !== undefined && auth['type'] !== undefined && auth['type'] !== 'm.login.dummy') {
        fail(400, 'M_UNRECOGNIZED', 'Only m.login.dummy (or no auth) is supported.');
      }
      const username = optString(body, 'username') ?? `user${randomBytes(6).toString('hex')}`;
      const localpart = username.toLowerCase();
      if (localpart.length === 0 || localpart.length > 200 || !LOCALPART.test(localpart)) {
        fail(400, 'M_INVALID_USERNAME', 'Username may contain only a-z, 0-9, ._=-/+ and be at most 200 characters.');
      }
      const password = optString(body, 'password');
      if (password !== undefined && password.length > MAX_PASSWORD_LENGTH) fail(400, 'M_INVALID_PARAM', 'Password too long.');
      const deviceId = optString(body, 'device_id');
      if (deviceId !== undefined && (deviceId.length === 0 || deviceId.length > 255)) fail(400, 'M_INVALID_PARAM', 'Invalid device_id.');
      if (body['inhibit_login'] !== undefined && typeof body['inhibit_login'] !== 'boolean') fail(400, 'M_BAD_JSON', "'inhibit_login' must be a boolean.");
      const userId = `@${localpart}:${this.serverName}`;
      if (this.accounts.has(userId)) fail(400, 'M_USER_IN_USE', 'User ID already taken.');
      const passwordHash = password === undefined ? undefined : await hashPassword(password);
      // Checked again: another registration of the same name may have finished while this one hashed.
      if (this.accounts.has(userId)) fail(400, 'M_USER_IN_USE', 'User ID already taken.');
      this.accounts.set(userId, { userId, passwordHash });
      if (body['inhibit_login'] === true) {
        res.json({ user_id: userId, home_server: this.serverName });
        return;
      }
      res.json(this.issue(userId, deviceId));
    }));

    router.get('/v3/register/available', route((req, res) => {
      const username = (queryString(req, 'username') ?? '').toLowerCase();
      if (!LOCALPART.test(username)) fail(400, 'M_INVALID_USERNAME', 'Invalid username.');
      if (this.accounts.has(`@${username}:${this.serverName}`)) fail(400, 'M_USER_IN_USE', 'User ID already taken.');
      res.json({ available: true });
    }));

    router.get('/v3/login', (_req, res) => {
      res.json({ flows: [{ type: 'm.login.password' }] });
    });

    router.post('/v3/login', route(async (req, res) => {
      const body = jsonBody(req);
      if (body['type'] !== 'm.login.password') fail(400, 'M_UNKNOWN', 'Only m.login.password is supported.');
      const identifier = optObject(body, 'identifier');
      let user: string | undefined;
      if (identifier !== undefined) {
        if (identifier['type'] !== 'm.id.user') fail(400, 'M_UNKNOWN', 'Only m.id.user identifiers are supported.');
        user = optString(identifier, 'user');
      } else {
        user = optString(body, 'user');
      }
      const password = optString(body, 'password');
      if (user === undefined || password === undefined) fail(400, 'M_MISSING_PARAM', 'user and password are required.');
      const userId = user.startsWith('@') ? user.toLowerCase() : `@${user.toLowerCase()}:${this.serverName}`;
      if (password.length > MAX_PASSWORD_LENGTH) fail(403, 'M_FORBIDDEN', 'Invalid username or password.');
      const stored = this.accounts.get(userId)?.passwordHash;
      // Unknown users and password-less accounts verify against a decoy, so they take as long.
      const matches = await verifyPassword(password, stored ?? (await decoyHash()));
      if (!matches || stored === undefined) fail(403, 'M_FORBIDDEN', 'Invalid username or password.');
      res.json(this.issue(userId, optString(body, 'device_id')));
    }));

    router.get('/v3/account/whoami', route((req, res) => {
      const caller = this.authenticate(req);
      res.json({ user_id: caller.userId, device_id: caller.deviceId, is_guest: false });
    }));

    router.post('/v3/logout', route((req, res) => {
      this.authenticate(req);
      const header = req.headers.authorization;
      const token = typeof header === 'string' ? header.replace(/^Bearer\s+/i, '') : queryString(req, 'access_token');
      if (token !== undefined) this.tokens.delete(token);
      res.json({});
    }));
  }
}
