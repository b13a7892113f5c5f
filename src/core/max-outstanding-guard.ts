import { ForbiddenError, MaxOutstandingError } from './errors.js';

/** The cap on outstanding delayed events per user when none is configured. */
export const DEFAULT_MAX_OUTSTANDING_PER_USER = 100;

/** Options of {@link MaxOutstandingGuard}. */
export interface MaxOutstandingGuardOptions {
  /**
   * Most outstanding (pending or being sent) delayed events per user; 0 disables scheduling. A function
   * decides per user.
   * @defaultValue 100
   */
  readonly maxPerUser?: number | ((userId: string) => number);
}

/**
 * The per-user cap on outstanding delayed events. It decides the cap; the store enforces it atomically
 * in its add (count and insert in one step), so fifty concurrent schedules against a cap of ten admit
 * exactly ten. Management actions are never refused by the cap.
 */
export class MaxOutstandingGuard {
  private readonly maxPerUser: number | ((userId: string) => number);

  /** @param options - The cap. */
  constructor(options: MaxOutstandingGuardOptions = {}) {
    this.maxPerUser = options.maxPerUser ?? DEFAULT_MAX_OUTSTANDING_PER_USER;
  }

  /**
   * The cap for `userId`, to pass to the store's add.
   *
   * @throws {@link ForbiddenError} (`M_FORBIDDEN`) when scheduling is disabled for the user (cap 0).
   */
  capFor(userId: string): number {
    const cap = typeof this.maxPerUser === 'function' ? this.maxPerUser(userId) : this.maxPerUser;
    if (!Number.isSafeInteger(cap) || cap < 0) {
      throw new TypeError(`maxOutstandingPerUser returned ${String(cap)} for ${userId}; expected an integer >= 0`);
    }
    if (cap === 0) throw new ForbiddenError('Scheduling delayed events is disabled.');
    return cap;
  }

  /** The error for a refused add. */
  exceeded(cap: number, userNextSendAtMs: number | undefined, nowMs: number): MaxOutstandingError {
    return new MaxOutstandingError(cap, userNextSendAtMs, nowMs);
  }
}
