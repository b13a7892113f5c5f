/**
 * Column storage for the memory store's events: one slot number per event, its fields in typed arrays
 * (times, links) and plain arrays (strings). A million outstanding events then cost a handful of large
 * arrays instead of a million objects with boxed numbers, which keeps the heap small and the garbage
 * collector quiet during storms.
 *
 * @internal
 */

/** "No slot". */
export const NONE = -1;

const INITIAL_CAPACITY = 1024;

/** @internal */
export class EventSlots {
  /** Due time: `sendAtMs` while pending, the lease end while claimed. */
  due = new Float64Array(INITIAL_CAPACITY);
  /** Scheduled send time (kept while claimed, for delivery and reschedule). */
  send = new Float64Array(INITIAL_CAPACITY);
  delay = new Float64Array(INITIAL_CAPACITY);
  attempts = new Int32Array(INITIAL_CAPACITY);
  /** Links of the due index (lane lists); `next` also chains free slots. */
  prev = new Int32Array(INITIAL_CAPACITY);
  next = new Int32Array(INITIAL_CAPACITY);
  lane = new Int32Array(INITIAL_CAPACITY);
  /** Links of the per-user lists. */
  userPrev = new Int32Array(INITIAL_CAPACITY);
  userNext = new Int32Array(INITIAL_CAPACITY);
  /** Links of the per-state-key chains, and each state event's (room, type, state key) hash. */
  statePrev = new Int32Array(INITIAL_CAPACITY);
  stateNext = new Int32Array(INITIAL_CAPACITY);
  stateHash = new Int32Array(INITIAL_CAPACITY);
  readonly delayId: (string | undefined)[] = [];
  readonly userId: (string | undefined)[] = [];
  readonly deviceId: (string | undefined)[] = [];
  readonly roomId: (string | undefined)[] = [];
  readonly type: (string | undefined)[] = [];
  readonly stateKey: (string | undefined)[] = [];
  readonly content: (string | undefined)[] = [];
  /** Claim token while claimed, else `undefined`. */
  readonly claim: (string | undefined)[] = [];
  private capacity = INITIAL_CAPACITY;
  private used = 0;
  private freeHead = NONE;

  /** A free slot, growing the columns when full. */
  allocate(): number {
    if (this.freeHead !== NONE) {
      const slot = this.freeHead;
      this.freeHead = this.next[slot] as number;
      return slot;
    }
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  /** Returns a slot, dropping its strings so they can be collected. */
  free(slot: number): void {
    this.delayId[slot] = this.userId[slot] = this.deviceId[slot] = undefined;
    this.roomId[slot] = this.type[slot] = this.stateKey[slot] = this.content[slot] = this.claim[slot] = undefined;
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
  }

  private grow(): void {
    // 1.5x keeps the unused tail of the typed arrays at a third of the live part on average.
    const capacity = Math.ceil(this.capacity * 1.5);
    const widen = <T extends Float64Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const wider = make(capacity);
      wider.set(old);
      return wider;
    };
    const f64 = (n: number) => new Float64Array(n);
    const i32 = (n: number) => new Int32Array(n);
    this.due = widen(this.due, f64);
    this.send = widen(this.send, f64);
    this.delay = widen(this.delay, f64);
    this.attempts = widen(this.attempts, i32);
    this.prev = widen(this.prev, i32);
    this.next = widen(this.next, i32);
    this.lane = widen(this.lane, i32);
    this.userPrev = widen(this.userPrev, i32);
    this.userNext = widen(this.userNext, i32);
    this.statePrev = widen(this.statePrev, i32);
    this.stateNext = widen(this.stateNext, i32);
    this.stateHash = widen(this.stateHash, i32);
    this.capacity = capacity;
  }
}
