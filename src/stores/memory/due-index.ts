/**
 * An ordered index of due times with O(1) "move to now + offset" for the common case.
 *
 * Node's own timers keep one list per duration: everything in a list was armed with the same duration,
 * so a list is ordered by arming time and a refresh is a move to its tail. Delayed events behave the
 * same way: scheduling and restarting put an event at `now + delayMs`, and MatrixRTC heartbeats restart
 * thousands of events that share a handful of delays. So each *lane* holds the slots inserted with one
 * offset (`dueAtMs - nowMs` at insertion), in due order (first in, first out among equal times), and a
 * binary min-heap orders the lanes by their head. Restart is an unlink plus an append: O(1), plus
 * O(log lanes) when a lane's head changes.
 *
 * @internal
 */
import { NONE, type EventSlots } from './event-slots.js';

interface Lane {
  readonly id: number;
  readonly offsetMs: number;
  head: number;
  tail: number;
  heapIndex: number;
}

/** @internal */
export class DueIndex {
  private readonly byOffset = new Map<number, Lane>();
  private readonly lanes: (Lane | undefined)[] = [];
  private readonly freeLaneIds: number[] = [];
  private readonly heap: Lane[] = [];

  constructor(private readonly slots: EventSlots) {}

  /** The slot due first, or {@link NONE}. */
  peek(): number {
    return this.heap[0]?.head ?? NONE;
  }

  /** Due time of the slot due first, or `undefined`. */
  peekDueAtMs(): number | undefined {
    const head = this.peek();
    return head === NONE ? undefined : this.slots.due[head];
  }

  /** Inserts `slot` (not currently indexed) due at `dueAtMs`, as seen at `nowMs`. */
  insert(slot: number, dueAtMs: number, nowMs: number): void {
    const s = this.slots;
    s.due[slot] = dueAtMs;
    const offsetMs = dueAtMs - nowMs;
    let lane = this.byOffset.get(offsetMs);
    if (lane === undefined) {
      const id = this.freeLaneIds.pop() ?? this.lanes.length;
      lane = { id, offsetMs, head: slot, tail: slot, heapIndex: this.heap.length };
      this.lanes[id] = lane;
      this.byOffset.set(offsetMs, lane);
      this.heap.push(lane);
      s.lane[slot] = id;
      s.prev[slot] = s.next[slot] = NONE;
      this.siftUp(lane.heapIndex);
      return;
    }
    s.lane[slot] = lane.id;
    // Same offset and a clock that does not go backwards means appending keeps the lane ordered;
    // walk back only when the clock stepped back.
    let after = lane.tail;
    while (after !== NONE && dueAtMs < (s.due[after] as number)) after = s.prev[after] as number;
    s.prev[slot] = after;
    if (after === NONE) {
      s.next[slot] = lane.head;
      s.prev[lane.head] = slot;
      lane.head = slot;
      this.siftUp(lane.heapIndex);
    } else {
      const following = s.next[after] as number;
      s.next[slot] = following;
      if (following !== NONE) s.prev[following] = slot;
      else lane.tail = slot;
      s.next[after] = slot;
    }
  }

  /** Unlinks an indexed slot. */
  remove(slot: number): void {
    const s = this.slots;
    const lane = this.lanes[s.lane[slot] as number];
    if (lane === undefined) return;
    const before = s.prev[slot] as number;
    const after = s.next[slot] as number;
    const wasHead = lane.head === slot;
    if (before !== NONE) s.next[before] = after;
    else lane.head = after;
    if (after !== NONE) s.prev[after] = before;
    else lane.tail = before;
    s.lane[slot] = s.prev[slot] = s.next[slot] = NONE;
    if (lane.head === NONE) this.removeLane(lane);
    else if (wasHead) this.siftDown(lane.heapIndex);
  }

  private removeLane(lane: Lane): void {
    this.byOffset.delete(lane.offsetMs);
    this.lanes[lane.id] = undefined;
    this.freeLaneIds.push(lane.id);
    const last = this.heap.pop();
    if (last === undefined || last === lane) return;
    this.heap[lane.heapIndex] = last;
    last.heapIndex = lane.heapIndex;
    this.siftDown(last.heapIndex);
    this.siftUp(last.heapIndex);
  }

  private headDue(lane: Lane): number {
    return this.slots.due[lane.head] as number;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const lane = heap[index] as Lane;
    const due = this.headDue(lane);
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Lane;
      if (due >= this.headDue(parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = lane;
    lane.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const lane = heap[index] as Lane;
    const due = this.headDue(lane);
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && this.headDue(heap[right] as Lane) < this.headDue(heap[left] as Lane)) child = right;
      const childLane = heap[child] as Lane;
      if (this.headDue(childLane) >= due) break;
      heap[index] = childLane;
      childLane.heapIndex = index;
      index = child;
    }
    heap[index] = lane;
    lane.heapIndex = index;
  }
}
