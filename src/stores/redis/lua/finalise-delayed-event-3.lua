--[[
  Removes a claimed event for good (sent or failed). Only the holder of the current claim may do so.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] base <prefix>:{<tag>}:

  ARGV[1] delayId
  ARGV[2] claimToken

  Returns
    { OK, nextDueAtMs|nil }
    { NOT_FOUND } | { CLAIM_LOST }
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/remove-event.lua

local id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], id)
if not packed then return { NOT_FOUND } end
local e = decodeEvent(packed)
if e.ct ~= ARGV[2] then return { CLAIM_LOST } end

removeEvent(KEYS[3], KEYS[1], KEYS[2], id, e)
return { OK, nextDueAt(KEYS[2]) }
