/**
 * Reads a claimed packed record (the layout of `lua/includes/codec.lua`) in Node. The storm's claim
 * script returns each record as it stored it instead of decoding it into ten reply fields: decoding
 * in Lua held up redis-server, which every worker shares, while the delivering process has time to spare.
 *
 * @internal
 * @packageDocumentation
 */
import type { ClaimedDelayedEvent } from '../store.js';

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

/** Replaces the first plain occurrence of `marker` (as `replaceOnce` in codec.lua). */
function replaceOnce(s: string, marker: string, value: string): string {
  const at = s.indexOf(marker);
  return at < 0 ? s : s.slice(0, at) + value + s.slice(at + marker.length);
}

/**
 * Decodes `<delayMs>,<attempts>,<claimedSendAtMs>,<claimToken><userId><deviceId><roomId><type><stateKey><content>`
 * as the claim script wrote it (claimedSendAtMs and the token always present).
 *
 * @param leaseUntilMs - The lease end the caller asked for (the record does not hold it).
 * @internal
 */
export function decodeClaimedRecord(delayId: string, record: string, leaseUntilMs: number): ClaimedDelayedEvent {
  const c1 = record.indexOf(',');
  const c2 = record.indexOf(',', c1 + 1);
  const c3 = record.indexOf(',', c2 + 1);
  if (c1 < 0 || c2 < 0 || c3 < 0) throw new Error(`malformed delayed event record for ${delayId}`);
  const delayMs = Number(record.slice(0, c1));
  const attempts = Number(record.slice(c1 + 1, c2));
  const sendAtMs = Number(record.slice(c2 + 1, c3));
  // The string fields, each "~" or <byteLength>:<bytes> (the state key <byteLength>;<template>).
  const fields: (string | undefined)[] = [];
  let templated = false;
  let pos = c3 + 1;
  for (let i = 0; i < 6; i++) {
    if (record.charCodeAt(pos) === TILDE) {
      fields.push(undefined);
      pos++;
      continue;
    }
    let sep = pos;
    while (sep < record.length && record.charCodeAt(sep) !== COLON && record.charCodeAt(sep) !== SEMICOLON) sep++;
    const byteLength = Number(record.slice(pos, sep));
    if (sep === pos || !Number.isSafeInteger(byteLength)) throw new Error(`malformed delayed event record for ${delayId}`);
    if (i === 5) templated = record.charCodeAt(sep) === SEMICOLON;
    const end = skipBytes(record, sep + 1, byteLength);
    fields.push(record.slice(sep + 1, end));
    pos = end;
  }
  const [claimToken, userId, deviceId, roomId, type, stored] = fields as [string, string, string | undefined, string, string, string | undefined];
  let stateKey = stored;
  if (templated && stored !== undefined) {
    // A state key holding the owner's IDs is stored as a template (see encodeStateKey in codec.lua).
    stateKey = replaceOnce(deviceId === undefined ? stored : replaceOnce(stored, '\u0002', deviceId), '\u0001', userId);
  }
  return {
    delayId,
    userId,
    deviceId,
    roomId,
    type,
    stateKey,
    contentJson: record.slice(pos),
    delayMs,
    runningSinceMs: sendAtMs - delayMs,
    sendAtMs,
    attempts,
    claimToken,
    leaseUntilMs,
  };
}
