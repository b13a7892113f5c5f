/** The example homeserver's password hashing (scrypt from node:crypto). */
import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, SCRYPT_COST, verifyPassword } from '../../examples/express-homeserver/passwords.js';

describe('example homeserver passwords', () => {
  it('stores scrypt$N$r$p$salt$hash with N=2^14, r=8, p=1, a 16-byte salt and a 32-byte key', async () => {
    const stored = await hashPassword('correct horse');
    const [scheme, N, r, p, salt, key] = stored.split('$');
    expect([scheme, N, r, p]).toEqual(['scrypt', '16384', '8', '1']);
    expect(SCRYPT_COST).toEqual({ N: 16384, r: 8, p: 1 });
    expect(Buffer.from(salt ?? '', 'base64url')).toHaveLength(16);
    expect(Buffer.from(key ?? '', 'base64url')).toHaveLength(32);
    // The stored key is scrypt itself, not something merely shaped like it.
    expect(scryptSync('correct horse', Buffer.from(salt ?? '', 'base64url'), 32, { N: 16384, r: 8, p: 1 }).toString('base64url')).toBe(key);
  });

  it('salts every hash afresh', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('verifies the right password only', async () => {
    const stored = await hashPassword('pässword');
    expect(await verifyPassword('pässword', stored)).toBe(true);
    expect(await verifyPassword('password', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('verifies with the parameters stored in the hash, so older costs keep working', async () => {
    const salt = Buffer.alloc(16, 7);
    const key = scryptSync('old', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifyPassword('old', stored)).toBe(true);
    expect(await verifyPassword('new', stored)).toBe(false);
  });

  it('refuses malformed or hostile records instead of throwing', async () => {
    const good = await hashPassword('x');
    const parts = good.split('$');
    for (const stored of [
      '',
      'x',
      good.replace(/^scrypt/, 'bcrypt'),
      [...parts.slice(0, 1), '1000', ...parts.slice(2)].join('$'), // N not a power of two
      [...parts.slice(0, 1), String(2 ** 30), ...parts.slice(2)].join('$'), // gigabytes of memory
      [...parts.slice(0, 5), ''].join('$'),
      `${good}$extra`,
    ]) {
      expect(await verifyPassword('x', stored), stored).toBe(false);
    }
  });
});
