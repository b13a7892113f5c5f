import { expect, it } from 'vitest';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { describeStoreConformance } from '../../../src/testing/conformance.js';

describeStoreConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }), {
  propertyRuns: 200,
  extra: (current) => {
    it('tells apart state keys whose index hashes collide', async () => {
      // "k23945" and "k716300" hash alike in room "!r:x", type "t" (found by brute force).
      const { store, clock } = current();
      const base = { userId: '@a:x', deviceId: undefined, roomId: '!r:x', type: 't', contentJson: '{}', delayMs: 1000, txnKey: undefined };
      const options = { nowMs: clock.now(), maxPerUser: 10, txnTtlMs: 1000 };
      await store.add({ ...base, delayId: 'one', stateKey: 'k23945' }, options);
      await store.add({ ...base, delayId: 'two', stateKey: 'k716300' }, options);
      const result = await store.cancelByStateKey({ roomId: '!r:x', type: 't', stateKey: 'k23945', keepUserId: undefined });
      expect(result.cancelled.map((e) => e.delayId)).toEqual(['one']);
      expect(await store.get('two')).toBeDefined();
    });
  },
});
