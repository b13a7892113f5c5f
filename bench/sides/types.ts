/**
 * One side of a comparison (ours or a baseline), run inside its own child process so that every side
 * has its own heap, garbage collector and event loop. The parent calls these methods over IPC.
 */

/** Settings every side receives when created. */
export interface SideSettings {
  /** Redis URL of the private benchmark server (Redis sides only). */
  readonly redisUrl: string | undefined;
  /** Operations kept in flight. */
  readonly inFlight: number;
}

/** Result of one timed throughput run. */
export interface Timed {
  /** Operations completed. */
  readonly ops: number;
  /** Elapsed wall-clock time, ms. */
  readonly elapsedMs: number;
  /** Operations that failed (should be 0). */
  readonly failed: number;
}

/** Result of one storm run. */
export interface StormResult {
  readonly delivered: number;
  /** Deliveries of an already delivered event. */
  readonly duplicates: number;
  readonly latenessP50Ms: number;
  readonly latenessP99Ms: number;
  readonly latenessMaxMs: number;
  /** From the instant all events were due to the last delivery, ms. */
  readonly drainMs: number;
  /** Largest event-loop delay seen from just before the instant to the end of the drain, ms. */
  readonly maxStallMs: number;
  /** True when not every event was delivered within the time limit. */
  readonly timedOut: boolean;
}

/** Result of one memory measurement. */
export interface MemoryResult {
  readonly events: number;
  /** V8 heap growth per outstanding event after a full GC, bytes. */
  readonly heapBytesPerEvent: number;
  /** Total heap growth, bytes. */
  readonly heapBytes: number;
}

/** What a side can do; a method is absent when the side has no such operation. */
export interface Side {
  /** Fills the side with `n` outstanding events (untimed) for the heartbeat. */
  heartbeatSetup?(n: number): Promise<void>;
  /** Restarts `ops` events drawn at random (seeded) from the `n` outstanding. */
  heartbeat?(ops: number, seed: number): Promise<Timed>;
  /** Schedules `n` new events (cap check and transaction record on). */
  schedule?(n: number, run: number): Promise<Timed>;
  /** Fills the side with `n` outstanding events (untimed) for a cancel run. */
  cancelSetup?(n: number, run: number): Promise<void>;
  /** Cancels every event of the last cancelSetup, in a seeded random order. */
  cancel?(seed: number): Promise<Timed>;
  /** Schedules `n` events due at one instant and measures their delivery. */
  storm?(n: number, run: number): Promise<StormResult>;
  /** Adds `n` outstanding events and reports heap growth (needs `--expose-gc`). */
  memory?(n: number): Promise<MemoryResult>;
  /** Adds `n` outstanding events (for the parent's Redis `used_memory` measurement). */
  fill?(n: number): Promise<{ readonly added: number }>;
  /** Drops every event the side holds (the process is reused by the next scenario). */
  release(): Promise<void>;
  /** Releases everything. */
  close(): Promise<void>;
}

/** Builds a side. */
export type SideFactory = (settings: SideSettings) => Promise<Side>;

/** Time, in ms, given to each storm's setup before the instant everything falls due. */
export const STORM_LONG_DELAY_MS = 3_600_000;
