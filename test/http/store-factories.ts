/** The stores HTTP tests run against. */
import type { DelayedEventStore } from '../../src/core/store.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';

type ClosableStore = DelayedEventStore & { close?(): Promise<void> };

export interface StoreFactories {
  /** `[name, create]` pairs for `describe.each`; each call gives a fresh, empty store. */
  readonly list: [string, () => Promise<ClosableStore>][];
  /** Releases what the factories made. */
  close(): Promise<void>;
}

export function storeFactories(): StoreFactories {
  return {
    list: [['memory', async () => createMemoryStore()]],
    async close() {},
  };
}
