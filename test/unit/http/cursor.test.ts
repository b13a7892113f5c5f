import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../src/core/errors.js';
import { decodeCursor, encodeCursor } from '../../../src/http/cursor.js';

describe('next_batch tokens', () => {
  it('round-trips a list position, including IDs with dots', () => {
    for (const cursor of [{ sendAtMs: 1_700_000_001_000, delayId: 'abc' }, { sendAtMs: 0, delayId: 'a.b.c' }]) {
      const token = encodeCursor(cursor);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(token)).toEqual(cursor);
    }
  });

  it('rejects a forged or damaged token with M_INVALID_PARAM', () => {
    const forged = ['garbage', Buffer.from('12.').toString('base64url'), Buffer.from('x.id').toString('base64url'), '%%%', 'A'.repeat(600)];
    for (const token of forged) {
      const error = (() => {
        try {
          return decodeCursor(token);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    }
  });
});
