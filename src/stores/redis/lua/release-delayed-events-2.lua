--[[
  Gives up claims, a batch at a time (graceful shutdown): each event still claimed under its token
  becomes pending again, due at the send time its claim recorded (claimedSendAtMs), its attempt count
  unchanged, so another worker sends it at once instead of after the lease. An item whose claim is no
  longer held (or the same event twice in one batch) is NOT_FOUND and leaves the others alone. The
  record is spliced (unclaimRecord), never decoded beyond its claim token.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1]       wake channel
  ARGV[2 + 2i]  delayId     } one pair per event, i = 0, 1, ...
  ARGV[3 + 2i]  claimToken  }

  Returns a flat list: one status per event (OK | NOT_FOUND), in order, then nextDueAtMs|false.
  Announces the new earliest due time when the batch made it earlier.
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/spread.lua

local before = nextDueAt(KEYS[2])
local ids = {}
for i = 2, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local records = hmgetSpread(KEYS[1], ids)
local out, fields, scored, seen = {}, {}, {}, {}
for n = 1, #ids do
  local id, packed = ids[n], records[n]
  if not packed or seen[id] or decodeEvent(packed, 1).ct ~= ARGV[2 * n + 1] then
    out[n] = NOT_FOUND
  else
    seen[id] = true
    local pending, sendAt = unclaimRecord(packed)
    fields[#fields + 1] = id
    fields[#fields + 1] = pending
    scored[#scored + 1] = string.format('%.0f', sendAt)
    scored[#scored + 1] = id
    out[n] = OK
  end
end
callSpread('HSET', KEYS[1], fields)
callSpread('ZADD', KEYS[2], scored)
local after = nextDueAt(KEYS[2])
if after and (not before or after < before) then announce(ARGV[1], after) end
out[#ids + 1] = after
return out
