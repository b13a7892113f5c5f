/**
 * An open-addressing hash table from a key to one slot number, stored in a single `Int32Array`
 * (linear probing, backward-shift deletion, load factor at most one half). About 8 bytes per entry,
 * against 40 to 50 for a `Map`, which matters at a million events. The table never stores keys: the
 * caller says how to hash a slot's key and whether a slot holds a given key.
 *
 * @internal
 */
import { NONE } from './event-slots.js';

/** @internal */
export class SlotHashTable<K> {
  private table = new Int32Array(1024).fill(NONE);
  private mask = 1023;
  private size = 0;

  /**
   * @param hashKey - 32-bit hash of a key.
   * @param hashOfSlot - 32-bit hash of the key a slot holds (equal to `hashKey` of that key).
   * @param slotHolds - Whether `slot` holds `key`.
   */
  constructor(
    private readonly hashKey: (key: K) => number,
    private readonly hashOfSlot: (slot: number) => number,
    private readonly slotHolds: (slot: number, key: K) => boolean,
  ) {}

  /** The slot holding `key`, or {@link NONE}. */
  get(key: K): number {
    const table = this.table;
    for (let i = this.hashKey(key) & this.mask; ; i = (i + 1) & this.mask) {
      const slot = table[i] as number;
      if (slot === NONE || this.slotHolds(slot, key)) return slot;
    }
  }

  /** Maps `key` to `slot`, replacing the slot that held the key before, if any. */
  set(key: K, slot: number): void {
    if ((this.size + 1) * 2 > this.table.length) this.resize(this.table.length * 2);
    const table = this.table;
    let i = this.hashKey(key) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const current = table[i] as number;
      if (current === NONE) {
        this.size++;
        break;
      }
      if (this.slotHolds(current, key)) break;
    }
    table[i] = slot;
  }

  /** Removes the entry for `key`, if any. */
  delete(key: K): void {
    const table = this.table;
    const mask = this.mask;
    let i = this.hashKey(key) & mask;
    for (; ; i = (i + 1) & mask) {
      const slot = table[i] as number;
      if (slot === NONE) return;
      if (this.slotHolds(slot, key)) break;
    }
    // Backward shift: pull later members of the probe run into the hole so lookups never stop early.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const slot = table[j] as number;
      if (slot === NONE) break;
      const home = this.hashOfSlot(slot) & mask;
      // Move `slot` into the hole unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        table[i] = slot;
        i = j;
      }
    }
    table[i] = NONE;
    this.size--;
  }

  private resize(length: number): void {
    const old = this.table;
    this.table = new Int32Array(length).fill(NONE);
    this.mask = length - 1;
    for (const slot of old) {
      if (slot === NONE) continue;
      let i = this.hashOfSlot(slot) & this.mask;
      while (this.table[i] !== NONE) i = (i + 1) & this.mask;
      this.table[i] = slot;
    }
  }
}

/** A 32-bit FNV-1a hash of a string. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash | 0;
}
