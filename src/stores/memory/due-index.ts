/**
 * An ordered index of due times with O(1) "move to now + offset" for the common case.
 *
 * Node's own timers keep one list per duration: everything in a list was armed with the same duration,
 * so a list is ordered by arming time and a refresh is a move to its tail. Delayed events behave the
 * same way: scheduling and restarting put an event at `now + delayMs`, and MatrixRTC heartbeats restart
 * thousands of events that share a handful of delays. So each *lane* holds the entries inserted with
 * one offset (`dueAtMs - nowMs` at insertion), in due order, and a binary min-heap orders the lanes by
 * their head. Restart is an unlink plus an append: O(1), plus O(log lanes) when a lane's head changes.
 *
 * @internal
 */

/** What the index needs of an entry; the memory store's records carry these fields. */
export interface DueNode {
  /** Due time, Unix ms. */
  dueAtMs: number;
  /** @internal */
  lane: Lane | undefined;
  /** @internal */
  prev: DueNode | undefined;
  /** @internal */
  next: DueNode | undefined;
}

/** @internal */
export interface Lane {
  readonly offsetMs: number;
  head: DueNode | undefined;
  tail: DueNode | undefined;
  heapIndex: number;
}


/** @internal */
export class DueIndex {
  private readonly lanes = new Map<number, Lane>();
  private readonly heap: Lane[] = [];

  /** The entry due first, if any. */
  peek(): DueNode | undefined {
    return this.heap[0]?.head;
  }

  /** Inserts `node` (not currently indexed) due at `dueAtMs`, as seen at `nowMs`. */
  insert(node: DueNode, dueAtMs: number, nowMs: number): void {
    node.dueAtMs = dueAtMs;
    const offsetMs = dueAtMs - nowMs;
    let lane = this.lanes.get(offsetMs);
    if (lane === undefined) {
      lane = { offsetMs, head: undefined, tail: undefined, heapIndex: this.heap.length };
      this.lanes.set(offsetMs, lane);
      this.heap.push(lane);
      node.lane = lane;
      node.prev = node.next = undefined;
      lane.head = lane.tail = node;
      this.siftUp(lane.heapIndex);
      return;
    }
    node.lane = lane;
    // Same offset and a clock that does not go backwards means appending keeps the lane ordered
    // (equal due times stay first in, first out); walk back only when the clock stepped back.
    let after = lane.tail;
    while (after !== undefined && dueAtMs < after.dueAtMs) after = after.prev;
    node.prev = after;
    if (after === undefined) {
      node.next = lane.head;
      if (lane.head) lane.head.prev = node;
      lane.head = node;
      this.siftUp(lane.heapIndex);
    } else {
      node.next = after.next;
      if (after.next) after.next.prev = node;
      else lane.tail = node;
      after.next = node;
    }
  }

  /** Unlinks an indexed node. */
  remove(node: DueNode): void {
    const lane = node.lane;
    if (lane === undefined) return;
    const wasHead = lane.head === node;
    if (node.prev) node.prev.next = node.next;
    else lane.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else lane.tail = node.prev;
    node.lane = node.prev = node.next = undefined;
    if (lane.head === undefined) this.removeLane(lane);
    else if (wasHead) this.siftDown(lane.heapIndex);
  }

  private removeLane(lane: Lane): void {
    this.lanes.delete(lane.offsetMs);
    const last = this.heap.pop();
    if (last === undefined || last === lane) return;
    this.heap[lane.heapIndex] = last;
    last.heapIndex = lane.heapIndex;
    this.siftDown(last.heapIndex);
    this.siftUp(last.heapIndex);
  }

  private laneBefore(a: Lane, b: Lane): boolean {
    // Lanes in the heap are never empty.
    return (a.head as DueNode).dueAtMs < (b.head as DueNode).dueAtMs;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const lane = heap[index] as Lane;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Lane;
      if (!this.laneBefore(lane, parent)) break;
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
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && this.laneBefore(heap[right] as Lane, heap[left] as Lane)) child = right;
      const childLane = heap[child] as Lane;
      if (!this.laneBefore(childLane, lane)) break;
      heap[index] = childLane;
      childLane.heapIndex = index;
      index = child;
    }
    heap[index] = lane;
    lane.heapIndex = index;
  }
}
