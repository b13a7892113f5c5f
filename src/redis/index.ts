/**
 * The Redis store (`matrix-delayed-events/redis`): one schedule shared by every worker process, and
 * rate limits shared the same way. Needs `ioredis` (an optional peer dependency); nothing here creates
 * or closes a client.
 *
 * `createRedisDelayedEvents` gives both as a pair whose heartbeat (a restart with the `manage`
 * limit) is one script call; `createRedisStore` and `createRedisRateLimiter` give each on its own.
 *
 * @packageDocumentation
 */
export { createRedisDelayedEvents } from './delayed-events.js';
export type { RedisDelayedEvents, RedisDelayedEventsOptions } from './delayed-events.js';
export { createRedisStore } from '../stores/redis/redis-store.js';
export type { RedisStore, RedisStoreOptions } from '../stores/redis/redis-store.js';
export type { RedisClient } from '../stores/redis/redis-connection.js';
export { createRedisRateLimiter } from './rate-limiter.js';
export type { RedisRateLimiterOptions } from './rate-limiter.js';
