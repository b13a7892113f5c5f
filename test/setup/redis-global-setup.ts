/**
 * Vitest global setup: starts a private `redis-server` from PATH on a free loopback port with a temp
 * directory (or uses `REDIS_URL` when set) and provides its URL to tests as `inject('redisUrl')`.
 * Without a server the run fails with a message saying how to install one; it never skips.
 */
import type { TestProject } from 'vitest/node';
import { INSTALL_HINT, redisServerOnPath, startPrivateRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis the integration tests use (loopback only). */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env['REDIS_URL'];
  if (given !== undefined && given !== '') {
    const host = new URL(given).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
      throw new Error(`REDIS_URL must point at a loopback address; tests only talk to 127.0.0.1 (got ${host})`);
    }
    project.provide('redisUrl', given);
    return undefined;
  }
  if (!redisServerOnPath()) throw new Error(INSTALL_HINT);
  const redis = await startPrivateRedis();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
    redis.dispose();
  };
}
