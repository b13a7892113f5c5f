/**
 * Test data shared by every side of a comparison: the same users, rooms, delay IDs and ~200-byte
 * contents, so each side stores the same bytes.
 */
import { randomBytes } from 'node:crypto';

/** One delayed event as every side stores it. */
export interface BenchEvent {
  readonly delayId: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly roomId: string;
  readonly type: string;
  readonly stateKey: string;
  /** Content as an object (for APIs taking objects). */
  readonly content: Record<string, unknown>;
  /** The same content serialised (what the library's stores keep). */
  readonly contentJson: string;
}

/** Target size of the serialised content, in bytes. */
export const CONTENT_BYTES = 200;

/** A MatrixRTC-like `m.call.member` content of about {@link CONTENT_BYTES} bytes, unique per event. */
export function makeContent(deviceId: string, i: number): Record<string, unknown> {
  const base = {
    application: 'm.call',
    call_id: '',
    scope: 'm.room',
    device_id: deviceId,
    expires: 14_400_000,
    focus_active: { type: 'livekit', focus_selection: 'oldest_membership' },
    'm.call.intent': 'audio',
    seq: i,
    pad: '',
  };
  const size = Buffer.byteLength(JSON.stringify(base));
  base.pad = 'x'.repeat(Math.max(0, CONTENT_BYTES - size));
  return base;
}

/** URL-safe 144-bit random IDs (the same shape the scheduler generates), made in one batch. */
export function makeIds(count: number): string[] {
  const bytes = randomBytes(18 * count);
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i++) ids[i] = bytes.subarray(18 * i, 18 * i + 18).toString('base64url');
  return ids;
}

/** Events per user in generated data (MatrixRTC users hold a handful of delayed events each). */
export const EVENTS_PER_USER = 10;

/**
 * `count` events spread over `count / EVENTS_PER_USER` users, each user in its own room, each event
 * with its own state key (`_{user}_{device}`-style) and content.
 */
export function makeEvents(count: number, label = 'b'): BenchEvent[] {
  const ids = makeIds(count);
  const events = new Array<BenchEvent>(count);
  let userId = '';
  let roomId = '';
  for (let i = 0; i < count; i++) {
    if (i % EVENTS_PER_USER === 0) {
      const u = i / EVENTS_PER_USER;
      userId = `@user${u}-${label}:bench.example.org`;
      roomId = `!room${u}-${label}:bench.example.org`;
    }
    const deviceId = `DEV${i.toString(36).toUpperCase().padStart(7, '0')}`;
    const content = makeContent(deviceId, i);
    events[i] = {
      delayId: ids[i]!,
      userId,
      deviceId,
      roomId,
      type: 'org.matrix.msc3401.call.member',
      stateKey: `_${userId}_${deviceId}_m.call`,
      content,
      contentJson: JSON.stringify(content),
    };
  }
  return events;
}
