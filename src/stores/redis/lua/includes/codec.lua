-- Packed event record: one string per event in the events hash (no field names, so a 200-byte
-- content costs little more than 200 bytes):
--   <runningSinceMs>,<delayMs>,<attempts>,<claimToken><userId><deviceId><roomId><type><stateKey><content>
-- Numbers are decimal. Each string field is <byteLength>:<bytes>, or "~" when absent; an absent
-- claimToken means the event is pending. The content is the rest of the string, byte-exact.
-- Decoded form: { s = runningSinceMs, l = delayMs, a = attempts, ct, u, d, r, t, k, c }.
local STRING_FIELDS = { 'ct', 'u', 'd', 'r', 't', 'k' }

local function encodeString(value)
  if not value then return '~' end
  return string.format('%d:', #value) .. value
end

local function encodeEvent(e)
  local out = { string.format('%.0f,%.0f,%.0f,', e.s, e.l, e.a) }
  for i = 1, #STRING_FIELDS do
    out[#out + 1] = encodeString(e[STRING_FIELDS[i]])
  end
  out[#out + 1] = e.c
  return table.concat(out)
end

local function decodeEvent(packed)
  local s, l, a, pos = string.match(packed, '^(%-?%d+),(%d+),(%d+),()')
  local e = { s = tonumber(s), l = tonumber(l), a = tonumber(a) }
  for i = 1, #STRING_FIELDS do
    if string.byte(packed, pos) == 126 then -- '~': absent
      pos = pos + 1
    else
      local colon = string.find(packed, ':', pos, true)
      local length = tonumber(string.sub(packed, pos, colon - 1))
      e[STRING_FIELDS[i]] = string.sub(packed, colon + 1, colon + length)
      pos = colon + length + 1
    end
  end
  e.c = string.sub(packed, pos)
  return e
end

-- Reply layout of one event, read by decodeEventReply() in src/stores/redis/redis-store.ts:
--   { delayId, userId, deviceId|nil, roomId, type, stateKey|nil, content, delayMs, runningSinceMs, attempts }
local function eventReply(id, e)
  return { id, e.u, e.d or false, e.r, e.t, e.k or false, e.c, e.l, e.s, e.a }
end
