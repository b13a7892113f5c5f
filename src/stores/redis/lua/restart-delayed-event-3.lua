--[[
  Restarts a pending event's delay: runningSinceMs = nowMs, sendAtMs = nowMs + delayMs.
  This is the heartbeat of MatrixRTC clients, so it does as little as possible.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] owner's index <prefix>:{<tag>}:u:<userId>

  ARGV[1] delayId
  ARGV[2] userId (the requester; must own the event)
  ARGV[3] nowMs
  ARGV[4] wake channel

  Returns
    { OK, nextDueAtMs, sendAtMs }
    { NOT_FOUND } | { NOT_OWNER } | { CLAIMED }
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

local id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], id)
if not packed then return { NOT_FOUND } end
local e = decodeEvent(packed)
if e.u ~= ARGV[2] then return { NOT_OWNER } end
if e.ct then return { CLAIMED } end

local now = tonumber(ARGV[3])
local oldSendAt = e.s + e.l
local sendAt = now + e.l
e.s = now
redis.call('HSET', KEYS[1], id, encodeEvent(e))
redis.call('ZADD', KEYS[2], sendAt, id)
redis.call('ZADD', KEYS[3], sendAt, id)

local earliest = nextDueAt(KEYS[2])
-- Only a move to an earlier time can make other workers' timers late.
if sendAt < oldSendAt and earliest == sendAt then announce(ARGV[4], sendAt) end
return { OK, earliest, sendAt }
