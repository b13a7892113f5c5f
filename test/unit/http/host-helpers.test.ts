import { describe, expect, it } from 'vitest';
import { delayedEventsCapabilities } from '../../../src/http/capabilities.js';
import { delayIdUnsigned } from '../../../src/http/unsigned.js';

describe('delayedEventsCapabilities', () => {
  it('advertises both limits under the stable and the unstable name', () => {
    expect(delayedEventsCapabilities({ maxDelayMs: 86_400_000, maxOutstandingPerUser: 10 })).toEqual({
      'm.delayed_events': { max_delay_ms: 86_400_000, max_scheduled: 10 },
      'org.matrix.msc4140.delayed_events': { max_delay_ms: 86_400_000, max_scheduled: 10 },
    });
  });

  it('leaves out a limit that is not enforced, and gives a per-user cap only for a known user', () => {
    const perUser = (userId: string) => (userId.startsWith('@bridge') ? 1000 : 5);
    expect(delayedEventsCapabilities({ maxOutstandingPerUser: perUser })['m.delayed_events']).toEqual({});
    expect(delayedEventsCapabilities({ maxOutstandingPerUser: perUser }, '@bridge:example.org')['m.delayed_events']).toEqual({ max_scheduled: 1000 });
    expect(delayedEventsCapabilities({ maxDelayMs: 5000 })['m.delayed_events']).toEqual({ max_delay_ms: 5000 });
  });

  it('advertises a cap of 0 (scheduling disabled) as max_scheduled 0', () => {
    expect(delayedEventsCapabilities({ maxOutstandingPerUser: 0 })['m.delayed_events']).toEqual({ max_scheduled: 0 });
  });
});

describe('delayIdUnsigned', () => {
  it('shows the delay ID to the sender only, under both names', () => {
    const event = { sender: '@alice:example.org', delayId: 'abc' };
    expect(delayIdUnsigned(event, '@alice:example.org')).toEqual({ delay_id: 'abc', 'org.matrix.msc4140.delay_id': 'abc' });
    expect(delayIdUnsigned(event, '@bob:example.org')).toEqual({});
    expect(delayIdUnsigned({ sender: '@alice:example.org' }, '@alice:example.org')).toEqual({});
  });
});
