/**
 * EXAMPLE HOMESERVER — entry point (`npm run example`): reads the environment (see README.md),
 * listens, prints its URL, and shuts down gracefully on SIGINT/SIGTERM.
 */
import { EnvConfigError, rateLimitBuckets, readEnvConfig } from './config.js';
import type { EnvConfig } from './config.js';
import type * as RedisStoreModule from './redis-store.js';
import type { OpenedRedis } from './redis-store.js';
import { createHomeserver } from './server.js';
import { consoleLogger } from '../../src/core/logging.js';

// The library logs in pino's shape (`logger.warn({ delayId, err }, 'message')`); a pino logger fits
// as it is. The example prints to the console, message first.
const logger = consoleLogger();

/** How long a SIGTERM waits for sends in flight before releasing their claims to other workers. */
const SHUTDOWN_DEADLINE_MS = 10_000;

async function openRedis(config: EnvConfig): Promise<OpenedRedis | undefined> {
  if (config.store === 'memory') return undefined;
  // Imported only when asked for, so the memory path does not need ioredis installed.
  const { openRedis: open } = (await import('./redis-store.js')) as typeof RedisStoreModule;
  return open(config.redisUrl, config.rateLimits === undefined ? undefined : rateLimitBuckets(config.rateLimits), logger);
}

async function main(): Promise<void> {
  let config: EnvConfig;
  try {
    config = readEnvConfig(process.env);
  } catch (error) {
    if (error instanceof EnvConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  let redis: OpenedRedis | undefined;
  let homeserver: ReturnType<typeof createHomeserver>;
  try {
    redis = await openRedis(config);
    homeserver = createHomeserver({
      serverName: config.serverName,
      ...(redis ? { store: redis.store, rateLimiter: redis.rateLimiter } : {}),
      maxDelayMs: config.maxDelayMs,
      maxPerUser: config.maxPerUser,
      rateLimits: config.rateLimits,
      cancelOnNewerState: config.cancelOnNewerState,
      profile: config.profile,
      logger,
    });
  } catch (error) {
    // e.g. a ConfigError from the library (an option out of range) or an unreachable Redis.
    console.error(`Cannot start: ${error instanceof Error ? error.message : String(error)}`);
    await redis?.close();
    process.exit(1);
  }
  const listening = await homeserver.listen(config.port, config.host);
  console.log(`Example homeserver (NOT for production) for ${config.serverName} listening on ${listening.url}`);
  console.log(`Delayed events: ${config.store} store; MSC4140 advertised in ${listening.url}/_matrix/client/versions`);
  console.log(`Prometheus metrics on ${listening.url}/metrics, readiness on ${listening.url}/health`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down (sends in flight get ${SHUTDOWN_DEADLINE_MS} ms, then go to other workers)`);
    listening
      .close({ deadlineMs: SHUTDOWN_DEADLINE_MS })
      .then(() => redis?.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error('Error during shutdown', error);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('Fatal:', error);
  process.exit(1);
});
