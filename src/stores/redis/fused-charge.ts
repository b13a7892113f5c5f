/**
 * The private link between the store and the rate limiter of one `createRedisDelayedEvents` pair
 * (`src/redis/delayed-events.ts`): the limiter's `guard('manage', …)` offers its point here, runs
 * its action (which starts its store call synchronously) and withdraws the point right after. A
 * `restart` called in between takes the point and charges it inside its own script; any other store
 * call in between takes it and has it charged separately first. The store knows nothing of the
 * limiter beyond this: it imports no core module but its ports.
 *
 * @internal
 * @packageDocumentation
 */

/** One pending rate-limit point. @internal */
export interface FusedCharge {
  /** The counter key as the limiter names it (ioredis adds a client `keyPrefix`, the key being in KEYS). */
  readonly key: string;
  /** Points per window. */
  readonly limit: number;
  /** Window, in whole seconds (\> 0). */
  readonly secDuration: number;
  /** Block after overuse, in ms (whole seconds; 0 for none). */
  readonly blockMs: number;
  /** The error a refused charge rejects with. */
  refused(retryAfterMs: number): Error;
  /** Takes the point through the limiter instead; rejects with {@link FusedCharge.refused} when refused. */
  chargeSeparately(): Promise<void>;
}

/** Holds at most one pending charge between an offer and its withdrawal. @internal */
export class ChargeLink {
  private pending: FusedCharge | undefined;

  /** Makes `charge` the pending one (until taken or withdrawn). */
  offer(charge: FusedCharge): void {
    this.pending = charge;
  }

  /** Takes the pending charge, if any; it is then the taker's to charge. */
  take(): FusedCharge | undefined {
    const charge = this.pending;
    this.pending = undefined;
    return charge;
  }

  /** Withdraws `charge`; true when no store call took it (the offerer must then charge it). */
  withdraw(charge: FusedCharge): boolean {
    if (this.pending !== charge) return false;
    this.pending = undefined;
    return true;
  }
}
