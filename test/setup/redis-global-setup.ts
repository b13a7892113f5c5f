// Placeholder until the Redis store lands: the Redis issue replaces this with a setup that starts a
// private redis-server (or uses REDIS_URL) and provides its URL to tests.
export default function setup(): void {}
