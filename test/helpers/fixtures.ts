/**
 * The shared fixtures of the unit, HTTP and end-to-end tests: users, rooms, a rate limiter with every
 * bucket off, and builders of the requests tests schedule most. Defined once here so that a test
 * which needs a *different* user, device or room says so visibly, by not using these.
 */
import { RateLimiter } from '../../src/core/rate-limiter.js';
import type { BucketLimit, RateLimitBucket } from '../../src/core/rate-limiter.js';
import type { JsonObject, Requester, ScheduleRequest } from '../../src/core/types.js';

/** The usual requester: one user on one device. */
export const ALICE = { userId: '@alice:example.org', deviceId: 'ALICEPHONE' } as const satisfies Requester;
/** Alice on a second device: same user, so same cap and same events; another rate-limit counter. */
export const ALICE_LAPTOP = { userId: '@alice:example.org', deviceId: 'ALICELAPTOP' } as const satisfies Requester;
/** Another user, whose events Alice must not see or touch. */
export const BOB = { userId: '@bob:example.org', deviceId: 'BOBPHONE' } as const satisfies Requester;
/** A third user, for tests that need one nobody else knows (e.g. authenticated by host middleware). */
export const CAROL = { userId: '@carol:example.org', deviceId: 'CAROLTABLET' } as const satisfies Requester;

/** The room everything is scheduled into unless a test needs a second one. */
export const ROOM = '!room:example.org';

/** The MatrixRTC membership event type (MSC3401), the main user of delayed state events. */
export const CALL_MEMBER = 'org.matrix.msc3401.call.member';

/** Every rate-limit bucket off. Spread and override one bucket to test that bucket alone. */
export const NO_LIMITS: Readonly<Record<RateLimitBucket, false>> = Object.freeze({
  schedule: false,
  manage: false,
  send: false,
  delivery: false,
});

/**
 * A rate limiter with every bucket off, so tests of other behaviour are not throttled; `overrides`
 * turns chosen buckets back on (e.g. `noLimits({ delivery: { points: 2, durationMs: 10_000 } })`).
 */
export function noLimits(overrides: Partial<Record<RateLimitBucket, BucketLimit | false>> = {}): RateLimiter {
  return new RateLimiter({ buckets: { ...NO_LIMITS, ...overrides } });
}

/**
 * A delayed `m.room.message` from Alice in {@link ROOM}; `extra` overrides any field (loosely typed, so
 * validation tests can pass wrong types through it).
 */
export function message(delayMs: number, extra: Record<string, unknown> = {}) {
  return { ...ALICE, roomId: ROOM, type: 'm.room.message', content: { body: `after ${delayMs}` }, delayMs, ...extra };
}

/** A delayed MatrixRTC membership state event in {@link ROOM} under `stateKey`, from `who` (Alice). */
export function callMember(stateKey: string, delayMs: number, who: Requester = ALICE, content: JsonObject = {}): ScheduleRequest {
  return { ...who, roomId: ROOM, type: CALL_MEMBER, stateKey, content, delayMs };
}
