/** Parts a host brings or meets: its own rate limiter object, and recognising a ConfigError from any copy. */
import { describe, expect, it } from 'vitest';
import { ConfigError, isConfigError } from '../../../src/core/config-error.js';
import { DelayedEventScheduler } from '../../../src/core/delayed-event-scheduler.js';
import { RateLimitedError } from '../../../src/core/errors.js';
import type { ConsumeResult, RateLimitBucket, RateLimiterLike } from '../../../src/core/rate-limiter.js';
import type { Requester } from '../../../src/core/types.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { ALICE, message } from '../../helpers/fixtures.js';

/** A host's own limiter: a plain object, not the library's class (e.g. over its own limits service). */
function hostLimiter(allowed: Partial<Record<RateLimitBucket, number>>): RateLimiterLike & { calls: string[] } {
  const left = { ...allowed };
  const calls: string[] = [];
  const tryConsume = async (bucket: RateLimitBucket, who: Requester): Promise<ConsumeResult> => {
    calls.push(`${bucket}:${who.userId}`);
    if (left[bucket] === undefined) return { ok: true };
    if (left[bucket] === 0) return { ok: false, retryAfterMs: 1500 };
    left[bucket] = (left[bucket] as number) - 1;
    return { ok: true };
  };
  return {
    calls,
    isEnabled: (bucket) => left[bucket] !== undefined,
    tryConsume,
    async guard(bucket, who, action) {
      const result = await tryConsume(bucket, who);
      if (!result.ok) throw new RateLimitedError(bucket, result.retryAfterMs);
      return action();
    },
  };
}

describe('a host-provided rate limiter', () => {
  it('is taken as it is and guards scheduling and management', async () => {
    const limiter = hostLimiter({ schedule: 1, manage: 1 });
    const scheduler = new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined, rateLimiter: limiter });
    const { delayId } = await scheduler.schedule(message(60_000));
    await expect(scheduler.schedule(message(60_000))).rejects.toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retryAfterMs: 1500 });
    await scheduler.restart(ALICE, delayId);
    await expect(scheduler.cancel(ALICE, delayId)).rejects.toBeInstanceOf(RateLimitedError);
    expect(limiter.calls).toEqual(['schedule:@alice:example.org', 'schedule:@alice:example.org', 'manage:@alice:example.org', 'manage:@alice:example.org']);
    expect(scheduler.rateLimiter).toBe(limiter);
  });
});

describe('isConfigError', () => {
  it('recognises a ConfigError, and one from another copy of the package by its brand', () => {
    expect(isConfigError(new ConfigError('ERR_DE_OPTION_INVALID', 'x'))).toBe(true);
    const fromAnotherCopy = Object.defineProperty(new Error('ERR_DE_OPTION_INVALID: x'), Symbol.for('matrix-delayed-events.config-error'), { value: true });
    expect(isConfigError(fromAnotherCopy)).toBe(true);
  });

  it('rejects look-alikes and non-errors', () => {
    expect(isConfigError(new Error('ERR_DE_OPTION_INVALID: x'))).toBe(false);
    expect(isConfigError({ name: 'ConfigError', code: 'ERR_DE_OPTION_INVALID' })).toBe(false);
    expect(isConfigError(null)).toBe(false);
    expect(isConfigError('ConfigError')).toBe(false);
  });

  it('catches what the scheduler throws for a bad option', () => {
    const attempt = (): unknown => {
      try {
        return new DelayedEventScheduler({ store: createMemoryStore(), sendEvent: () => undefined, maxDelayMs: -1 });
      } catch (error) {
        return error;
      }
    };
    expect(isConfigError(attempt())).toBe(true);
  });
});
