/**
 * The Redis store (`matrix-delayed-events/redis`): one schedule shared by every worker process, and
 * rate limits shared the same way. Needs `ioredis` (an optional peer dependency); the store takes a
 * ready client and never creates one.
 *
 * @packageDocumentation
 */
export { createRedisStore } from './redis-store.js';
export type { RedisStore, RedisStoreOptions } from './redis-store.js';
export type { RedisClient } from './redis-connection.js';
export { createRedisRateLimiter } from './redis-rate-limiter.js';
export type { RedisRateLimiterOptions } from './redis-rate-limiter.js';
