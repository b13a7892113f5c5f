-- Packed event record: one string per event in the events hash (no field names, so a 200-byte
-- content costs little more than 200 bytes):
--   <delayMs>,<attempts>,<claimedSendAtMs>,<claimToken><userId><deviceId><roomId><type><stateKey><content>
-- Numbers are decimal; claimedSendAtMs is empty while the event is pending. Each string field is
-- <byteLength>:<bytes>, or "~" when absent; an absent claimToken means the event is pending. The
-- content is the rest of the string, byte-exact.
-- A state key that contains the owner's user ID (MatrixRTC's `_<userId>_<deviceId>_m.call`) is
-- stored as <byteLength>;<template> instead: the first occurrence of the user ID replaced by byte 1
-- and then the first occurrence of the device ID by byte 2, so those are not stored twice. Only
-- used when none of the three strings holds byte 1 or 2, so the template is unambiguous.
-- A pending event's send time is not in the record but is its score in the due index, so a restart
-- (the MatrixRTC heartbeat) moves one score and never rewrites the record. A claim moves the due
-- score to the lease end and keeps the send time in the record (claimedSendAtMs).
-- Decoded form: { l = delayMs, a = attempts, q = claimedSendAtMs|nil, ct, u, d, r, t, k, c }.
-- Scripts return records as stored (with the due score where the record lacks its send time), and
-- src/stores/redis/codec.ts decodes them: redis-server, which every worker shares, never builds a
-- reply field by field.
local STRING_FIELDS = { 'ct', 'u', 'd', 'r', 't', 'k' }

local function encodeString(value)
  if not value then return '~' end
  return string.format('%d:', #value) .. value
end

-- Replaces the first plain occurrence of `part` in `s` by `marker` (nil when there is none).
local function replaceOnce(s, part, marker)
  local from, to = string.find(s, part, 1, true)
  if not from then return nil end
  return string.sub(s, 1, from - 1) .. marker .. string.sub(s, to + 1)
end

local MARKERS = '[\1\2]'

local function encodeStateKey(k, u, d)
  if k and u ~= '' and not string.find(k, MARKERS) and not string.find(u, MARKERS) then
    local template = replaceOnce(k, u, '\1')
    if template then
      if d and d ~= '' and not string.find(d, MARKERS) then template = replaceOnce(template, d, '\2') or template end
      return string.format('%d;', #template) .. template
    end
  end
  return encodeString(k)
end

local function expandStateKey(template, u, d)
  local k = template
  if d then k = replaceOnce(k, '\2', d) or k end
  return replaceOnce(k, '\1', u) or k
end

local function encodeEvent(e)
  local out = { string.format('%.0f,%.0f,', e.l, e.a), e.q and string.format('%.0f,', e.q) or ',' }
  for i = 1, #STRING_FIELDS - 1 do
    out[#out + 1] = encodeString(e[STRING_FIELDS[i]])
  end
  out[#out + 1] = encodeStateKey(e.k, e.u, e.d)
  out[#out + 1] = e.c
  return table.concat(out)
end

-- Decodes string fields `first` to `last` of STRING_FIELDS into `e`, the first at `pos`; returns
-- the position after the last.
local function decodeFields(packed, pos, e, first, last)
  for i = first, last do
    if string.byte(packed, pos) == 126 then -- '~': absent
      pos = pos + 1
    else
      local colon = string.find(packed, '[:;]', pos)
      local length = tonumber(string.sub(packed, pos, colon - 1))
      local value = string.sub(packed, colon + 1, colon + length)
      if string.byte(packed, colon) == 59 then value = expandStateKey(value, e.u, e.d) end -- ';'
      e[STRING_FIELDS[i]] = value
      pos = colon + length + 1
    end
  end
  return pos
end

-- Decodes the record; with `fields` = 2 only up to the owner (claimToken, userId), which is all
-- that ownership checks need.
local function decodeEvent(packed, fields)
  local l, a, q, pos = string.match(packed, '^(%d+),(%d+),(%-?%d*),()')
  local e = { l = tonumber(l), a = tonumber(a), q = tonumber(q) }
  local last = fields or #STRING_FIELDS
  pos = decodeFields(packed, pos, e, 1, last)
  if last == #STRING_FIELDS then e.c = string.sub(packed, pos) end
  return e
end

-- An event's send time: kept in the record while claimed, else its score in the due index.
local function sendAtOf(dueKey, e, id)
  if e.ct then return e.q end
  return tonumber(redis.call('ZSCORE', dueKey, id))
end

-- True for a pending record ("<delayMs>,<attempts>,,~": no claim), told without decoding it.
local function isPending(packed)
  return string.find(packed, '^%d+,%d+,,~') ~= nil
end

-- The record as claimed under `tokenField` ("<byteLength>:<claimToken>"): a splice of its prefix,
-- so the rest (owner, device, room, type, state key, content) is copied, never decoded or encoded
-- again, which keeps a storm's claim short for redis-server. A pending
-- record records its due score `sendAt` as claimedSendAtMs; a lapsed claim keeps the send time it
-- recorded and gets the new token.
local function claimRecord(packed, sendAt, tokenField)
  local counts, q, pos = string.match(packed, '^(%d+,%d+,)(%-?%d*),()')
  local rest
  if string.byte(packed, pos) == 126 then -- '~': pending
    q = string.format('%.0f', sendAt)
    rest = pos + 1
  else
    local colon = string.find(packed, ':', pos, true)
    rest = colon + tonumber(string.sub(packed, pos, colon - 1)) + 1
  end
  return counts .. q .. ',' .. tokenField .. string.sub(packed, rest)
end

-- The pending record of a claimed one, and the send time the claim recorded (claimedSendAtMs): a
-- splice that drops the claim, the reverse of claimRecord, so the rest is copied and never decoded.
local function unclaimRecord(packed)
  local counts, q, pos = string.match(packed, '^(%d+,%d+,)(%-?%d*),()')
  local colon = string.find(packed, ':', pos, true)
  local rest = colon + tonumber(string.sub(packed, pos, colon - 1)) + 1
  return counts .. ',~' .. string.sub(packed, rest), tonumber(q)
end
