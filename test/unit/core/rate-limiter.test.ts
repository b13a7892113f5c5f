import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/core/config-error.js';
import { RateLimitedError } from '../../../src/core/errors.js';
import { DEFAULT_RATE_LIMITS, RateLimiter } from '../../../src/core/rate-limiter.js';
import { ALICE, BOB, message, NO_LIMITS } from '../../helpers/fixtures.js';
import { createHarness } from '../../helpers/scheduler-harness.js';

/** A guarded action that does nothing: what is tested is the charge. */
const done = async (): Promise<void> => undefined;

describe('RateLimiter', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('limits each user and device separately, and reports the wait', async () => {
    const limiter = new RateLimiter({ buckets: { manage: { points: 2, durationMs: 1000 } } });
    await limiter.guard('manage', ALICE, done);
    await limiter.guard('manage', ALICE, done);
    const error = await limiter.guard('manage', ALICE, done).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', httpStatus: 429, bucket: 'manage' });
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(1000);
    await expect(limiter.guard('manage', { ...ALICE, deviceId: 'OTHERDEVICE' }, done)).resolves.toBeUndefined();
    await expect(limiter.guard('manage', BOB, done)).resolves.toBeUndefined();
    vi.advanceTimersByTime(1001);
    await expect(limiter.guard('manage', ALICE, done)).resolves.toBeUndefined();
  });

  it('blocks for blockDurationMs once exhausted', async () => {
    const limiter = new RateLimiter({ buckets: { send: { points: 1, durationMs: 1000, blockDurationMs: 5000 } } });
    await limiter.guard('send', ALICE, done);
    await expect(limiter.guard('send', ALICE, done)).rejects.toBeInstanceOf(RateLimitedError);
    vi.advanceTimersByTime(2000);
    const result = await limiter.tryConsume('send', ALICE);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.retryAfterMs).toBeGreaterThan(2000);
  });

  it('applies defaults to unnamed buckets and turns a bucket off with false', async () => {
    const limiter = new RateLimiter({ buckets: { schedule: false } });
    expect(limiter.isEnabled('schedule')).toBe(false);
    expect(limiter.isEnabled('manage')).toBe(true);
    for (let i = 0; i < 1000; i++) await limiter.guard('schedule', ALICE, done);
    for (let i = 0; i < DEFAULT_RATE_LIMITS.manage.points; i++) await limiter.guard('manage', ALICE, done);
    await expect(limiter.guard('manage', ALICE, done)).rejects.toBeInstanceOf(RateLimitedError);
  });

  it('rejects malformed limits and unknown buckets with ERR_DE_RATE_LIMIT_INVALID', () => {
    for (const buckets of [
      { manage: { points: 0, durationMs: 1000 } },
      { manage: { points: 1, durationMs: -1 } },
      { manage: { points: 1.5, durationMs: 1000 } },
      { manage: { points: 1, durationMs: 1000, blockDurationMs: -5 } },
      { manage: 'lots' },
      { typo: { points: 1, durationMs: 1000 } },
    ]) {
      expect(() => new RateLimiter({ buckets } as never)).toThrow(ConfigError);
      expect(() => new RateLimiter({ buckets } as never)).toThrow(/ERR_DE_RATE_LIMIT_INVALID/);
    }
  });

  it('lets requests through (and logs) when its backend fails, rather than refusing everyone', async () => {
    const warn = vi.fn();
    const limiter = new RateLimiter({
      logger: { warn },
      createBackend: () => ({ consume: () => Promise.reject(new Error('backend down')) }) as never,
    });
    await expect(limiter.guard('manage', ALICE, done)).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalled();
  });

  it('guard runs the action only when the point was taken, and passes its result and errors through', async () => {
    const limiter = new RateLimiter({ buckets: { manage: { points: 1, durationMs: 60_000 } } });
    const action = vi.fn(async () => 'ran');
    await expect(limiter.guard('manage', ALICE, action)).resolves.toBe('ran');
    await expect(limiter.guard('manage', ALICE, action)).rejects.toBeInstanceOf(RateLimitedError);
    expect(action).toHaveBeenCalledTimes(1);
    await expect(limiter.guard('manage', BOB, () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
  });

  it('guard on a bucket that is off runs the action at once', async () => {
    const limiter = new RateLimiter({ buckets: { send: false } });
    const consume = vi.spyOn(limiter, 'tryConsume');
    await expect(limiter.guard('send', ALICE, async () => 1)).resolves.toBe(1);
    expect(consume).not.toHaveBeenCalled();
  });

  describe('in the scheduler', () => {
    const bucketsOnly = (bucket: 'schedule' | 'manage' | 'send') =>
      new RateLimiter({ buckets: { ...NO_LIMITS, [bucket]: { points: 1, durationMs: 60_000 } } });

    it('"schedule" limits scheduling', async () => {
      const { scheduler } = await createHarness({ rateLimiter: bucketsOnly('schedule') });
      await scheduler.schedule(message(1000));
      await expect(scheduler.schedule(message(1000))).rejects.toBeInstanceOf(RateLimitedError);
    });

    it('"manage" covers restart, cancel, send and list alike', async () => {
      for (const action of ['restart', 'cancel', 'send', 'list'] as const) {
        const { scheduler } = await createHarness({ rateLimiter: bucketsOnly('manage') });
        const { delayId } = await scheduler.schedule(message(100_000));
        await scheduler.list(ALICE);
        const attempt = action === 'list' ? scheduler.list(ALICE) : scheduler[action](ALICE, delayId);
        await expect(attempt).rejects.toMatchObject({ bucket: 'manage' });
      }
    });

    it('"send" limits the send action on top of "manage"', async () => {
      const { scheduler, sent } = await createHarness({ rateLimiter: bucketsOnly('send') });
      const a = await scheduler.schedule(message(100_000));
      const b = await scheduler.schedule(message(100_000));
      await scheduler.send(ALICE, a.delayId);
      await expect(scheduler.send(ALICE, b.delayId)).rejects.toMatchObject({ bucket: 'send' });
      await scheduler.restart(ALICE, b.delayId);
      expect(sent).toHaveLength(1);
      expect((await scheduler.list(ALICE)).events).toHaveLength(1);
    });
  });
});
