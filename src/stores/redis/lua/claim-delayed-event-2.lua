--[[
  Claims one pending event owned by the requester, due or not (the "send" action).

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] delayId
  ARGV[2] userId (the requester; must own the event)
  ARGV[3] nowMs
  ARGV[4] leaseMs
  ARGV[5] claimToken

  Returns
    { OK, nextDueAtMs, claimed record }
    { NOT_FOUND }                         unknown, someone else's, or already being sent
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

local id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], id)
if not packed then return { NOT_FOUND } end
local e = decodeEvent(packed)
if e.u ~= ARGV[2] or e.ct then return { NOT_FOUND } end

e.q = tonumber(redis.call('ZSCORE', KEYS[2], id))
e.ct = ARGV[5]
local claimed = encodeEvent(e)
redis.call('HSET', KEYS[1], id, claimed)
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[4]), id)
return { OK, nextDueAt(KEYS[2]), claimed }
