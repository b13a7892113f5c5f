--[[
  Reads one event, pending or claimed.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] delayId

  Returns { event reply (see eventReply in includes/codec.lua), claimToken|nil } or nil.
]]
-- @include includes/codec.lua

local packed = redis.call('HGET', KEYS[1], ARGV[1])
if not packed then return false end
local e = decodeEvent(packed)
return { eventReply(ARGV[1], e, sendAtOf(KEYS[2], e, ARGV[1])), e.ct or false }
