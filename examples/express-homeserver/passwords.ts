/**
 * EXAMPLE HOMESERVER — password hashing with scrypt from `node:crypto`.
 *
 * Stored as `scrypt$N$r$p$salt$hash` (salt and hash in base64url), so a hash keeps verifying after the
 * cost parameters change: verification reads them from the stored string, not from the constants here.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

/**
 * Cost: N = 2^14, r = 8, p = 1 needs 128·N·r = 16 MiB, the largest power of two under Node's default
 * `maxmem` of 32 MiB (2^15 needs exactly 32 MiB and Node refuses it without a raised `maxmem`). About
 * 100 ms per hash on the 2-core machine the test suite runs on; it runs on libuv's thread pool, not on
 * the event loop.
 */
export const SCRYPT_COST = { N: 2 ** 14, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  // maxmem with headroom over 128·N·r, so that hashes stored with a larger N than today's still verify.
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, SCRYPT_COST);
  const { N, r, p } = SCRYPT_COST;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Parses a stored hash; `undefined` when it is not one this module wrote. */
function parse(stored: string): { N: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  // Bounds keep a corrupted record from asking scrypt for gigabytes.
  if (!Number.isSafeInteger(N) || N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0) return undefined;
  if (!Number.isSafeInteger(r) || r < 1 || r > 32 || !Number.isSafeInteger(p) || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length === 0 || key.length === 0) return undefined;
  return { N, r, p, salt, key };
}

/** True when `password` matches `stored`. Compares in constant time; false for malformed records. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/**
 * A hash of no one's password, computed once: verifying against it when the user does not exist (or
 * has no password) costs what a real verification costs, so response times do not tell which
 * usernames exist.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}
