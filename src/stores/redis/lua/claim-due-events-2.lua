--[[
  Claims up to `max` due events in due order: pending ones with sendAtMs <= nowMs and claimed ones
  whose lease has lapsed (their worker is presumed dead). Each gets the new claim token and a lease.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] nowMs
  ARGV[2] leaseMs
  ARGV[3] claimToken
  ARGV[4] max

  Returns a list of event replies (see eventReply in includes/codec.lua).
]]
-- @include includes/codec.lua

local now = tonumber(ARGV[1])
local leaseUntil = now + tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for i = 1, #due, 2 do
  local id = due[i]
  local packed = redis.call('HGET', KEYS[1], id)
  if packed then
    local e = decodeEvent(packed)
    -- A lapsed claim keeps the send time it recorded; a pending event's is its due score.
    if not e.ct then e.q = tonumber(due[i + 1]) end
    e.ct = ARGV[3]
    redis.call('HSET', KEYS[1], id, encodeEvent(e))
    redis.call('ZADD', KEYS[2], leaseUntil, id)
    out[#out + 1] = eventReply(id, e, e.q)
  else
    -- An index entry without a record cannot be sent; drop it so it is not due forever.
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
