--[[
  Claims up to `max` due events in due order: pending ones with sendAtMs <= nowMs and claimed ones
  whose lease has lapsed (their worker is presumed dead). Each gets the new claim token and a lease.
  The records are spliced, not decoded (see claimRecord in includes/codec.lua), and written back with
  one HSET and one ZADD for the whole batch.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] nowMs
  ARGV[2] leaseMs
  ARGV[3] claimToken
  ARGV[4] max

  Returns a flat list, two entries per claimed event: delayId, claimed record (read by
  src/stores/redis/scripts/claim-due.ts).
]]
-- @include includes/codec.lua
-- @include includes/spread.lua

local now = tonumber(ARGV[1])
local leaseUntil = now + tonumber(ARGV[2])
local tokenField = string.format('%d:', #ARGV[3]) .. ARGV[3]
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
if #due == 0 then return {} end
local ids = {}
for i = 1, #due, 2 do ids[#ids + 1] = due[i] end
local records = hmgetSpread(KEYS[1], ids)
local out, writes, leases, orphans = {}, {}, {}, {}
for i = 1, #ids do
  local id, packed = ids[i], records[i]
  if packed then
    local claimed = claimRecord(packed, tonumber(due[2 * i]), tokenField)
    writes[#writes + 1] = id
    writes[#writes + 1] = claimed
    leases[#leases + 1] = leaseUntil
    leases[#leases + 1] = id
    out[#out + 1] = id
    out[#out + 1] = claimed
  else
    -- An index entry without a record cannot be sent; drop it so it is not due forever.
    orphans[#orphans + 1] = id
  end
end
callSpread('HSET', KEYS[1], writes)
callSpread('ZADD', KEYS[2], leases)
callSpread('ZREM', KEYS[2], orphans)
return out
