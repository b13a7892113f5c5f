/**
 * EXAMPLE HOMESERVER — configuration from environment variables (documented in README.md).
 * Every invalid value is reported by name; `main.ts` prints the messages and exits with status 1.
 */
import { RATE_LIMIT_BUCKETS, SPEC_PROFILES, type BucketLimit, type CancelOnNewerStatePolicy, type RateLimitBucket, type SpecProfile } from 'matrix-delayed-events';
import { z } from 'zod';

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

const POLICIES = ['other-senders', 'any-sender', 'never'] as const satisfies readonly CancelOnNewerStatePolicy[];

/*
 * The schema, in zod: one library for the flat variables and for the JSON inside
 * DELAYED_EVENTS_RATE_LIMITS, and every issue comes back with its path, so one run reports every bad
 * value by name. zod over envalid: envalid validates flat strings only, and its `json()` would leave
 * the nested limits to hand-written checks, which is where the seconds-vs-ms mix-up lived.
 */

/** An empty variable counts as unset, as shells make `VAR=` easy to leave behind. */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema.optional());
}

/** A decimal integer in [min, max], as a string (no signs, fractions or exponents). */
function integer(min: number, max: number) {
  return z.string().transform((raw, ctx) => {
    const value = Number(raw.trim());
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})` });
      return z.NEVER;
    }
    return value;
  });
}

/** Milliseconds, like every duration the library takes. */
const positiveMs = z.number({ error: 'must be a number of milliseconds' }).int('must be an integer number of milliseconds').positive('must be > 0');

const bucketLimit = z.strictObject(
  {
    points: z.number({ error: 'is required: an integer > 0' }).int('must be an integer').positive('must be > 0'),
    durationMs: positiveMs.optional(),
    blockDurationMs: z.number({ error: 'must be a number of milliseconds' }).int('must be an integer number of milliseconds').nonnegative('must be >= 0').optional(),
    // Recognised only to say what replaces it: a seconds field beside millisecond ones was a trap.
    duration: z.unknown().optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')} (known: points, durationMs, blockDurationMs)` : 'must be an object, or false') },
).transform((limit, ctx): BucketLimit => {
  if (limit.duration !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['duration'], message: '"duration" (seconds) is not accepted: give the window as "durationMs", in milliseconds' });
  } else if (limit.durationMs === undefined) {
    ctx.addIssue({ code: 'custom', path: ['durationMs'], message: 'is required: the window, in milliseconds' });
  }
  const { points, durationMs = 0, blockDurationMs } = limit;
  return blockDurationMs === undefined ? { points, durationMs } : { points, durationMs, blockDurationMs };
});

/**
 * Parses `value` with `schema` inside another schema's transform, keeping its issues (with their paths)
 * instead of one opaque "Invalid input", which is all a union of the alternatives would report.
 */
function within<T extends z.ZodType>(schema: T, value: unknown, ctx: z.RefinementCtx): z.output<T> | typeof z.NEVER {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  return z.NEVER;
}

/** One bucket: its limit, or `false` / `"off"` to turn it off. */
const bucketSetting = z.unknown().transform((value, ctx): BucketLimit | false =>
  value === false || value === 'off' ? false : within(bucketLimit, value, ctx),
);

const rateLimitRecord = z.partialRecord(
  z.enum(RATE_LIMIT_BUCKETS),
  bucketSetting,
  {
    // zod 4.6 reports a partial record's unknown keys as `unrecognized_keys`, which its declared issue
    // type for records does not list; hence the widening.
    error: (issue: { code: string; keys?: readonly string[] }) =>
      issue.code === 'unrecognized_keys'
        ? `unknown bucket(s) ${(issue.keys ?? []).join(', ')} (known: ${RATE_LIMIT_BUCKETS.join(', ')})`
        : 'must be a JSON object mapping bucket names to limits, or off',
  },
);

const rateLimits = z.string().transform((raw, ctx): RateLimitsConfig => {
  if (raw.trim() === 'off') return 'off';
  let json: unknown;
  try {
    json = JSON.parse(raw) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON (e.g. {"manage":{"points":10,"durationMs":5000}}) or the string off' });
    return z.NEVER;
  }
  // A JSON array is an object to zod's record check; say what is wanted instead.
  if (Array.isArray(json)) {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object mapping bucket names to limits, or off' });
    return z.NEVER;
  }
  return within(rateLimitRecord, json, ctx);
});

const envSchema = z
  .object({
    HOST: optional(z.string()),
    PORT: optional(integer(0, 65_535)),
    SERVER_NAME: optional(z.string().regex(/^[A-Za-z0-9.\-[\]:]+$/, 'must be a host name, optionally with a port')),
    DELAYED_EVENTS_MAX_DELAY_MS: optional(integer(1, Number.MAX_SAFE_INTEGER)),
    DELAYED_EVENTS_MAX_PER_USER: optional(integer(0, 1_000_000_000)),
    DELAYED_EVENTS_RATE_LIMITS: optional(rateLimits),
    DELAYED_EVENTS_CANCEL_ON_NEWER_STATE: optional(z.enum(POLICIES, { error: `must be one of ${POLICIES.join(', ')}` })),
    DELAYED_EVENTS_PROFILE: optional(z.enum(SPEC_PROFILES, { error: `must be one of ${SPEC_PROFILES.join(', ')}` })),
    DELAYED_EVENTS_STORE: optional(z.enum(['memory', 'redis'], { error: 'must be memory or redis' })),
    REDIS_URL: optional(z.string()),
  })
  .superRefine((env, ctx) => {
    if (env.DELAYED_EVENTS_STORE === 'redis' && env.REDIS_URL !== undefined && !/^rediss?:\/\//.test(env.REDIS_URL)) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'must start with redis:// or rediss://' });
    }
  });

/** `NAME: message` or `NAME.bucket.field: message`, with the offending value where it helps. */
function describeIssue(issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv): string {
  const path = issue.path.map(String).join('.');
  const name = String(issue.path[0] ?? '');
  const raw = env[name];
  // Values of the flat variables are short; the JSON one is named by its path instead.
  const got = issue.path.length === 1 && issue.code !== 'custom' && raw !== undefined ? ` (got ${JSON.stringify(raw)})` : '';
  return `${path} ${issue.message}${got}`;
}

/** Reads the configuration from `env`. @throws {@link EnvConfigError} listing every invalid value. */
export function readEnvConfig(env: NodeJS.ProcessEnv): EnvConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new EnvConfigError(parsed.error.issues.map((issue) => describeIssue(issue, env)));
  const e = parsed.data;
  return {
    host: e.HOST ?? '127.0.0.1',
    port: e.PORT ?? 8008,
    serverName: e.SERVER_NAME ?? 'localhost',
    maxDelayMs: e.DELAYED_EVENTS_MAX_DELAY_MS,
    maxPerUser: e.DELAYED_EVENTS_MAX_PER_USER,
    rateLimits: e.DELAYED_EVENTS_RATE_LIMITS,
    cancelOnNewerState: e.DELAYED_EVENTS_CANCEL_ON_NEWER_STATE,
    profile: e.DELAYED_EVENTS_PROFILE ?? 'msc4140-2024',
    store: e.DELAYED_EVENTS_STORE ?? 'memory',
    redisUrl: e.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}
