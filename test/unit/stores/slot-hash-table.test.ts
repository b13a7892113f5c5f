import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NONE } from '../../../src/stores/memory/event-slots.js';
import { hashString, SlotHashTable } from '../../../src/stores/memory/slot-hash-table.js';

describe('SlotHashTable', () => {
  it('agrees with a Map under random set/delete, with clustered hashes that wrap around the table end', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('set', 'delete'), key: fc.nat(60) }), { maxLength: 400 }),
        fc.constantFrom(0, 1019),
        (ops, base) => {
          const keyOfSlot: number[] = [];
          // Few distinct hashes near the end of the table: long probe runs that wrap to index 0.
          const hash = (key: number) => base + (key % 7);
          const table = new SlotHashTable<number>(hash, (slot) => hash(keyOfSlot[slot]!), (slot, key) => keyOfSlot[slot] === key);
          const model = new Map<number, number>();
          for (const { op, key } of ops) {
            if (op === 'set') {
              const slot = keyOfSlot.push(key) - 1;
              table.set(key, slot);
              model.set(key, slot);
            } else {
              table.delete(key);
              model.delete(key);
            }
            for (let k = 0; k <= 60; k++) expect(table.get(k)).toBe(model.get(k) ?? NONE);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grows past its initial size and keeps every entry', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `id-${i}`);
    const table = new SlotHashTable<string>(hashString, (slot) => hashString(ids[slot]!), (slot, id) => ids[slot] === id);
    ids.forEach((id, slot) => table.set(id, slot));
    ids.forEach((id, slot) => expect(table.get(id)).toBe(slot));
    for (let slot = 0; slot < 5000; slot += 2) table.delete(ids[slot]!);
    ids.forEach((id, slot) => expect(table.get(id)).toBe(slot % 2 === 0 ? NONE : slot));
    expect(table.get('missing')).toBe(NONE);
  });
});
