/**
 * Logging helpers of the core: the log-safe form of a delay ID, and an adapter that prints the
 * library's structured records on a `console`-like object with the message first.
 */
import type { DelayId, Logger, LogFn } from './types.js';

/** How many leading characters of a delay ID a log record shows. */
const SHOWN_ID_CHARS = 6;

/**
 * The form of a delay ID that log records carry: its first 6 characters and `…`.
 *
 * @remarks
 * A delay ID is a capability (whoever knows it may send, cancel or restart the event through a
 * leaked token's owner); 6 base64url characters are 36 of its at least 128 random bits, enough to
 * correlate log lines with a listing, far too few to guess the rest.
 */
export function logId(delayId: DelayId): string {
  return delayId.length <= SHOWN_ID_CHARS ? '…' : `${delayId.slice(0, SHOWN_ID_CHARS)}…`;
}

/** The methods of `console` that {@link consoleLogger} uses. */
export interface ConsoleLike {
  /** Debug output. */
  debug(...data: unknown[]): void;
  /** Informational output. */
  info(...data: unknown[]): void;
  /** Warnings. */
  warn(...data: unknown[]): void;
  /** Errors. */
  error(...data: unknown[]): void;
}

function toConsole(write: (...data: unknown[]) => void): LogFn {
  return (objOrMessage, message) => {
    if (typeof objOrMessage === 'string') write(objOrMessage);
    else if (message === undefined) write(objOrMessage);
    else write(message, objOrMessage);
  };
}

/**
 * A {@link Logger} that writes to `console` (or anything of its shape), message first:
 * `delayed event failed { delayId: 'k3J9xQ…', attempts: 5, err: Error … }`.
 *
 * @remarks
 * The library calls its logger the way pino is called, `logger.warn({ delayId, err }, 'message')`, so a
 * pino (or bunyan-style) logger fits as it is. `console` fits too, but prints the record before the
 * message; this adapter puts the message first.
 *
 * @param target - Where to write. Defaults to the global `console`.
 * @param level - The lowest level written. Defaults to `"info"`.
 */
export function consoleLogger(target: ConsoleLike = console, level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const levels = ['debug', 'info', 'warn', 'error'] as const;
  const from = levels.indexOf(level);
  const logger: { -readonly [K in keyof Logger]: LogFn } = {};
  for (const name of levels.slice(from)) logger[name] = toConsole((...data) => target[name](...data));
  return logger;
}
