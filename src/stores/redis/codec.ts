/**
 * The one place that builds and reads the `<byteLength>:<value>` strings of the store, and its
 * record layout (see `lua/includes/codec.lua`): builds the packed record of a new pending event in
 * Node, byte for byte what `encodeEvent()` in codec.lua writes, so the add script only stores it
 * (redis-server, which every worker shares, builds no strings); the integration tests compare both.
 * Also reads every record a script returns ({@link decodeStoredRecord}, {@link decodeClaimedRecord}):
 * scripts return records as stored, never event fields one by one. Finalised records (retention,
 * {@link encodeFinalised}) are built and read only here: Lua stores them and never looks inside.
 *
 * @internal
 * @packageDocumentation
 */
import type { ClaimedDelayedEvent, FinalisedDelayedEvent, FinalisedOutcome, NewDelayedEvent, StoredDelayedEvent } from '../../core/store.js';

/**
 * `<byteLength>:<value>` (UTF-8 bytes): a record's string field, an owner as scripts compare it with a
 * record, a state-index entry, and each part of the state-index triple.
 * @internal
 */
export function lengthPrefixed(value: string): string {
  return `${Buffer.byteLength(value)}:${value}`;
}

/** A string field: `<byteLength>:<bytes>`, or `~` when absent. */
function encodeString(value: string | undefined): string {
  return value === undefined ? '~' : lengthPrefixed(value);
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

const TILDE = 126; // '~': an absent string field
const COLON = 58; // ':': <byteLength>:<bytes>
const SEMICOLON = 59; // ';': <byteLength>;<template>, a templated state key

/**
 * Index in `s` after the `byteLength` UTF-8 bytes that start at `from`. Lengths in the record count
 * UTF-8 bytes, and a JS string counts UTF-16 units: one unit is 1 to 3 bytes, a surrogate pair 4.
 */
function skipBytes(s: string, from: number, byteLength: number): number {
  let i = from;
  let bytes = 0;
  while (bytes < byteLength) {
    const c = s.charCodeAt(i++);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return i;
}

/**
 * Reads `count` string fields from `pos` on, each "~" (absent) or <byteLength>:<bytes>, the last one
 * possibly <byteLength>;<template> (a templated state key).
 */
function readStrings(delayId: string, record: string, pos: number, count: number): { fields: (string | undefined)[]; templated: boolean; end: number } {
  const fields: (string | undefined)[] = [];
  let templated = false;
  for (let i = 0; i < count; i++) {
    if (record.charCodeAt(pos) === TILDE) {
      fields.push(undefined);
      pos++;
      continue;
    }
    let sep = pos;
    while (sep < record.length && record.charCodeAt(sep) !== COLON && record.charCodeAt(sep) !== SEMICOLON) sep++;
    const byteLength = Number(record.slice(pos, sep));
    if (sep === pos || !Number.isSafeInteger(byteLength)) throw new Error(`malformed delayed event record for ${delayId}`);
    if (i === count - 1) templated = record.charCodeAt(sep) === SEMICOLON;
    const end = skipBytes(record, sep + 1, byteLength);
    fields.push(record.slice(sep + 1, end));
    pos = end;
  }
  return { fields, templated, end: pos };
}

/** Expands a state key stored as a template (see encodeStateKey). */
function expandStateKey(stored: string, userId: string, deviceId: string | undefined): string {
  const withDevice = deviceId === undefined ? stored : (replaceOnce(stored, MARKER_2, deviceId) ?? stored);
  return replaceOnce(withDevice, MARKER_1, userId) ?? withDevice;
}

/**
 * Reads a record in codec.lua's layout. A claimed record holds its send time (claimedSendAtMs); a
 * pending one's is `dueScore`, its score in the due index.
 */
function readRecord(delayId: string, record: string, dueScore: number | undefined): StoredDelayedEvent & { claimToken: string | undefined } {
  const c1 = record.indexOf(',');
  const c2 = record.indexOf(',', c1 + 1);
  const c3 = record.indexOf(',', c2 + 1);
  if (c1 < 0 || c2 < 0 || c3 < 0) throw new Error(`malformed delayed event record for ${delayId}`);
  const delayMs = Number(record.slice(0, c1));
  const attempts = Number(record.slice(c1 + 1, c2));
  const claimedSendAt = record.slice(c2 + 1, c3);
  const sendAt = claimedSendAt === '' ? dueScore : Number(claimedSendAt);
  if (sendAt === undefined || !Number.isFinite(sendAt)) throw new Error(`delayed event record for ${delayId} has no send time`);
  // The string fields, each "~" or <byteLength>:<bytes> (the state key <byteLength>;<template>).
  const { fields, templated, end: pos } = readStrings(delayId, record, c3 + 1, 6);
  const [claimToken, userId, deviceId, roomId, type, stored] = fields as [
    string | undefined,
    string,
    string | undefined,
    string,
    string,
    string | undefined,
  ];
  // A state key holding the owner's IDs is stored as a template (see encodeStateKey in codec.lua).
  const stateKey = templated && stored !== undefined ? expandStateKey(stored, userId, deviceId) : stored;
  return {
    delayId,
    userId,
    deviceId,
    roomId,
    type,
    stateKey,
    contentJson: record.slice(pos),
    delayMs,
    runningSinceMs: sendAt - delayMs,
    sendAtMs: sendAt,
    attempts,
    claimToken,
  };
}

/**
 * Reads a claimed record as the claim scripts return it (claimedSendAtMs and the claim token always
 * present).
 *
 * @param leaseUntilMs - The lease end the caller asked for (the record does not hold it).
 * @internal
 */
export function decodeClaimedRecord(delayId: string, record: string, leaseUntilMs: number): ClaimedDelayedEvent {
  const event = readRecord(delayId, record, undefined);
  const { claimToken } = event;
  if (claimToken === undefined) throw new Error(`delayed event record for ${delayId} is not claimed`);
  return Object.assign(event, { claimToken, leaseUntilMs });
}

/**
 * Reads a record, pending or claimed, as a script returns it with its due score.
 *
 * @param dueScore - The event's score in the due index: the send time of a pending event (a claimed
 * record holds its own).
 * @internal
 */
export function decodeStoredRecord(delayId: string, record: string, dueScore: unknown): StoredDelayedEvent {
  const { claimToken: _claim, ...event } = readRecord(delayId, record, dueScore === null || dueScore === false ? undefined : Number(dueScore));
  return event;
}

/**
 * Reads a flat script reply of (delayId, due score, record) triples from `from` on.
 * @internal
 */
export function decodeRecordTriples(reply: readonly unknown[], from = 0): StoredDelayedEvent[] {
  const events: StoredDelayedEvent[] = [];
  for (let i = from; i + 2 < reply.length; i += 3) events.push(decodeStoredRecord(String(reply[i]), String(reply[i + 2]), reply[i + 1]));
  return events;
}

/** Outcome letters of a finalised record. */
const OUTCOME_CODES: Readonly<Record<FinalisedOutcome, string>> = { sent: 's', cancelled: 'c', failed: 'f' };
const OUTCOMES: Readonly<Record<string, FinalisedOutcome>> = { s: 'sent', c: 'cancelled', f: 'failed' };

/**
 * The packed record of a finalised event, kept for lookup (field `delayId` of the owner's hash, see
 * `finalised` in keys.ts):
 *   <outcome><delayMs>,<runningSinceMs>,<finalisedAtMs>,<roomId><type><stateKey><eventId><errcode><message><content>
 * The outcome is one letter (`s`ent, `c`ancelled, `f`ailed); string fields are as in event records
 * (`~` when absent), the state key a template when it holds the owner's user ID; the content is the
 * rest, byte-exact. Neither the delay ID nor the owner is stored: they are the field and the key.
 * @internal
 */
export function encodeFinalised(event: FinalisedDelayedEvent): string {
  return (
    `${OUTCOME_CODES[event.outcome]}${event.delayMs},${event.runningSinceMs},${event.finalisedAtMs},` +
    encodeString(event.roomId) +
    encodeString(event.type) +
    encodeStateKey(event.stateKey, event.userId, undefined) +
    encodeString(event.eventId) +
    encodeString(event.error?.errcode) +
    encodeString(event.error?.message) +
    event.contentJson
  );
}

/**
 * Reads a record {@link encodeFinalised} built.
 * @internal
 */
export function decodeFinalised(delayId: string, userId: string, record: string): FinalisedDelayedEvent {
  const outcome = OUTCOMES[record.charAt(0)];
  const c1 = record.indexOf(',');
  const c2 = record.indexOf(',', c1 + 1);
  const c3 = record.indexOf(',', c2 + 1);
  if (outcome === undefined || c1 < 0 || c2 < 0 || c3 < 0) throw new Error(`malformed finalised event record for ${delayId}`);
  // Room, type and state key (the last of the three, so readStrings tells whether it is templated).
  const { fields, templated, end } = readStrings(delayId, record, c3 + 1, 3);
  const [roomId, type, stored] = fields as [string, string, string | undefined];
  const rest = readStrings(delayId, record, end, 3);
  const [eventId, errcode, message] = rest.fields;
  return {
    delayId,
    userId,
    roomId,
    type,
    stateKey: templated && stored !== undefined ? expandStateKey(stored, userId, undefined) : stored,
    contentJson: record.slice(rest.end),
    delayMs: Number(record.slice(1, c1)),
    runningSinceMs: Number(record.slice(c1 + 1, c2)),
    outcome,
    finalisedAtMs: Number(record.slice(c2 + 1, c3)),
    eventId,
    error: errcode === undefined ? undefined : { errcode, message: message ?? '' },
  };
}
