/**
 * The error thrown for invalid options. Its own module because every layer (stores included)
 * validates its options with it, and stores import nothing else of the core but its ports.
 */

const CONFIG_ERROR_BRAND = Symbol.for('matrix-delayed-events.config-error');

/** Stable codes of {@link ConfigError}, each documented in `docs/guide/errors.md`. */
export type ConfigErrorCode =
  | 'ERR_DE_MAX_DELAY_INVALID'
  | 'ERR_DE_MAX_PER_USER_INVALID'
  | 'ERR_DE_RATE_LIMIT_INVALID'
  | 'ERR_DE_OPTION_INVALID'
  | 'ERR_DE_SEND_EVENT_MISSING';

/** Invalid options passed to a constructor or factory. Thrown once, at construction. */
export class ConfigError extends Error {
  /** Stable code for the problem. */
  readonly code: ConfigErrorCode;
  /**
   * @param code - Stable code for the problem.
   * @param message - What is wrong and what is expected.
   */
  constructor(code: ConfigErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ConfigError';
    this.code = code;
    Object.defineProperty(this, CONFIG_ERROR_BRAND, { value: true });
  }
}

/**
 * True for a {@link ConfigError}, including one thrown by another copy (ESM vs CJS) of the package,
 * where `instanceof` fails.
 */
export function isConfigError(value: unknown): value is ConfigError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CONFIG_ERROR_BRAND] === true;
}
