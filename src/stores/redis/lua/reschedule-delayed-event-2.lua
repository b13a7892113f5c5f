--[[
  Returns a claimed event to pending, due at sendAtMs (runningSinceMs = sendAtMs - delayMs), with
  its attempt count. Only the holder of the current claim may do so.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] delayId
  ARGV[2] claimToken
  ARGV[3] sendAtMs
  ARGV[4] attempts
  ARGV[5] wake channel

  Returns
    { OK, nextDueAtMs }
    { NOT_FOUND }                 no such event, or the claim was lost
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/claimed-event.lua
-- @include includes/due.lua

local id = ARGV[1]
local e, refusal = claimedEvent(KEYS[1], id, ARGV[2])
if not e then return { refusal } end

local sendAt = tonumber(ARGV[3])
local leaseUntil = tonumber(redis.call('ZSCORE', KEYS[2], id)) or sendAt
e.ct = nil
e.q = nil
e.a = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], id, encodeEvent(e))
redis.call('ZADD', KEYS[2], sendAt, id)

local earliest = nextDueAt(KEYS[2])
if sendAt < leaseUntil and earliest == sendAt then announce(ARGV[5], sendAt) end
return { OK, earliest }
