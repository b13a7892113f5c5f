/**
 * EXAMPLE HOMESERVER — configuration from environment variables (documented in README.md).
 * Every invalid value is reported by name; `main.ts` prints the messages and exits with status 1.
 */
import type { CancelOnNewerStatePolicy, SpecProfile } from '../../src/core/options.js';
import { SPEC_PROFILES } from '../../src/core/options.js';
import type { BucketLimit, RateLimitBucket } from '../../src/core/rate-limiter.js';
import { RATE_LIMIT_BUCKETS } from '../../src/core/rate-limiter.js';

/** Rate limits as configured: per bucket a limit or `false` (off), or `'off'` for all. */
export type RateLimitsConfig = Partial<Record<RateLimitBucket, BucketLimit | false>> | 'off';

/** The per-bucket form of {@link RateLimitsConfig} that `RateLimiter` takes (`'off'`: every bucket off). */
export function rateLimitBuckets(config: RateLimitsConfig): Partial<Record<RateLimitBucket, BucketLimit | false>> {
  return config === 'off' ? Object.fromEntries(RATE_LIMIT_BUCKETS.map((b) => [b, false])) : config;
}

/** Everything the environment configures. */
export interface EnvConfig {
  readonly host: string;
  readonly port: number;
  readonly serverName: string;
  readonly maxDelayMs: number | undefined;
  readonly maxPerUser: number | undefined;
  readonly rateLimits: RateLimitsConfig | undefined;
  readonly cancelOnNewerState: CancelOnNewerStatePolicy | undefined;
  readonly profile: SpecProfile;
  readonly store: 'memory' | 'redis';
  readonly redisUrl: string;
}

/** Thrown with every problem found in the environment. */
export class EnvConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvConfigError';
  }
}

const POLICIES: readonly CancelOnNewerStatePolicy[] = ['other-senders', 'any-sender', 'never'];

function parseRateLimits(raw: string, problems: string[]): RateLimitsConfig | undefined {
  if (raw.trim() === 'off') return 'off';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    problems.push('DELAYED_EVENTS_RATE_LIMITS must be JSON (e.g. {"manage":{"points":10,"duration":5}}) or the string off');
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push('DELAYED_EVENTS_RATE_LIMITS must be a JSON object mapping bucket names to limits, or off');
    return undefined;
  }
  const out: Partial<Record<RateLimitBucket, BucketLimit | false>> = {};
  for (const [bucket, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!RATE_LIMIT_BUCKETS.includes(bucket as RateLimitBucket)) {
      problems.push(`DELAYED_EVENTS_RATE_LIMITS: unknown bucket "${bucket}" (known: ${RATE_LIMIT_BUCKETS.join(', ')})`);
      continue;
    }
    if (value === false || value === 'off') {
      out[bucket as RateLimitBucket] = false;
      continue;
    }
    const v = value as Record<string, unknown> | null;
    const points = v?.['points'];
    // `duration` in seconds (the rate-limiter-flexible convention) or `durationMs` in milliseconds.
    const durationMs = typeof v?.['durationMs'] === 'number' ? v['durationMs'] : typeof v?.['duration'] === 'number' ? v['duration'] * 1000 : undefined;
    if (
      typeof v !== 'object' || v === null || typeof points !== 'number' || !Number.isSafeInteger(points) || points <= 0 ||
      durationMs === undefined || !Number.isSafeInteger(durationMs) || durationMs <= 0
    ) {
      problems.push(
        `DELAYED_EVENTS_RATE_LIMITS.${bucket} must be {"points": integer > 0, "duration": seconds > 0} (or "durationMs"), or false`,
      );
      continue;
    }
    out[bucket as RateLimitBucket] = { points, durationMs };
  }
  return out;
}

function parseInteger(name: string, raw: string | undefined, min: number, max: number, problems: string[]): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw)) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
    return undefined;
  }
  return Number(raw);
}

/** Reads the configuration from `env`. @throws {@link EnvConfigError} listing every invalid value. */
export function readEnvConfig(env: NodeJS.ProcessEnv): EnvConfig {
  const problems: string[] = [];
  const host = env['HOST'] || '127.0.0.1';
  const port = parseInteger('PORT', env['PORT'], 0, 65_535, problems) ?? 8008;
  const serverName = env['SERVER_NAME'] || 'localhost';
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(serverName)) problems.push(`SERVER_NAME must be a host name, optionally with a port (got ${JSON.stringify(serverName)})`);
  const maxDelayMs = parseInteger('DELAYED_EVENTS_MAX_DELAY_MS', env['DELAYED_EVENTS_MAX_DELAY_MS'], 1, Number.MAX_SAFE_INTEGER, problems);
  const maxPerUser = parseInteger('DELAYED_EVENTS_MAX_PER_USER', env['DELAYED_EVENTS_MAX_PER_USER'], 0, 1_000_000_000, problems);
  const rawLimits = env['DELAYED_EVENTS_RATE_LIMITS'];
  const rateLimits = rawLimits === undefined || rawLimits === '' ? undefined : parseRateLimits(rawLimits, problems);
  const rawPolicy = env['DELAYED_EVENTS_CANCEL_ON_NEWER_STATE'];
  let cancelOnNewerState: CancelOnNewerStatePolicy | undefined;
  if (rawPolicy !== undefined && rawPolicy !== '') {
    if (POLICIES.includes(rawPolicy as CancelOnNewerStatePolicy)) cancelOnNewerState = rawPolicy as CancelOnNewerStatePolicy;
    else problems.push(`DELAYED_EVENTS_CANCEL_ON_NEWER_STATE must be one of ${POLICIES.join(', ')} (got ${JSON.stringify(rawPolicy)})`);
  }
  const profile = (env['DELAYED_EVENTS_PROFILE'] || 'msc4140-2024') as SpecProfile;
  if (!SPEC_PROFILES.includes(profile)) problems.push(`DELAYED_EVENTS_PROFILE must be one of ${SPEC_PROFILES.join(', ')} (got ${JSON.stringify(profile)})`);
  const rawStore = env['DELAYED_EVENTS_STORE'] || 'memory';
  if (rawStore !== 'memory' && rawStore !== 'redis') problems.push(`DELAYED_EVENTS_STORE must be memory or redis (got ${JSON.stringify(rawStore)})`);
  const redisUrl = env['REDIS_URL'] || 'redis://127.0.0.1:6379';
  if (rawStore === 'redis' && !/^rediss?:\/\//.test(redisUrl)) problems.push(`REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(redisUrl)})`);
  if (problems.length > 0) throw new EnvConfigError(problems);
  return {
    host,
    port,
    serverName,
    maxDelayMs,
    maxPerUser,
    rateLimits,
    cancelOnNewerState,
    profile,
    store: rawStore === 'redis' ? 'redis' : 'memory',
    redisUrl,
  };
}
