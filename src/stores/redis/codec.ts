/**
 * Builds the packed record of a new pending event in Node, byte for byte what `encodeEvent()` in
 * `lua/includes/codec.lua` writes (see there for the layout), so the add script only stores it:
 * building strings in Lua cost most of an add's Redis time. The integration tests compare both.
 *
 * @internal
 * @packageDocumentation
 */
import type { NewDelayedEvent } from '../store.js';

/** A string field: `<byteLength>:<bytes>`, or `~` when absent. */
function encodeString(value: string | undefined): string {
  return value === undefined ? '~' : `${Buffer.byteLength(value)}:${value}`;
}

/** The template markers (bytes 1 and 2): strings holding them are never templated. */
const MARKER_1 = '\u0001';
const MARKER_2 = '\u0002';
/** A lone surrogate, which UTF-8 encoding replaces, so a search in UTF-16 would not match Lua's by bytes. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function templatable(value: string): boolean {
  return !value.includes(MARKER_1) && !value.includes(MARKER_2) && !LONE_SURROGATE.test(value);
}

/** Replaces the first occurrence of `part` by `marker`, or `undefined` when there is none. */
function replaceOnce(s: string, part: string, marker: string): string | undefined {
  const at = s.indexOf(part);
  return at < 0 ? undefined : s.slice(0, at) + marker + s.slice(at + part.length);
}

/**
 * The state key, stored as a template (`<byteLength>;<template>`) when it contains the owner's user
 * ID, as `encodeStateKey()` in codec.lua does. On well-formed strings a search by UTF-16 code units
 * finds the same first occurrence as Lua's search by UTF-8 bytes; anything else is stored plainly,
 * which decodes to the same bytes.
 */
function encodeStateKey(k: string | undefined, u: string, d: string | undefined): string {
  if (k !== undefined && u !== '' && templatable(k) && templatable(u)) {
    let template = replaceOnce(k, u, MARKER_1);
    if (template !== undefined) {
      if (d !== undefined && d !== '' && templatable(d)) template = replaceOnce(template, d, MARKER_2) ?? template;
      return `${Buffer.byteLength(template)};${template}`;
    }
  }
  return encodeString(k);
}

/**
 * The packed record of a new pending event: no attempts, no claim.
 * @internal
 */
export function encodeNewEvent(event: NewDelayedEvent): string {
  return (
    `${event.delayMs},0,,~` +
    encodeString(event.userId) +
    encodeString(event.deviceId) +
    encodeString(event.roomId) +
    encodeString(event.type) +
    encodeStateKey(event.stateKey, event.userId, event.deviceId) +
    event.contentJson
  );
}
