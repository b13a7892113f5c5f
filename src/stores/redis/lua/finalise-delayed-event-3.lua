--[[
  Removes a claimed event for good (sent or failed). Only the holder of the current claim may do so.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] base <prefix>:{<tag>}:

  ARGV[1] delayId
  ARGV[2] claimToken

  Returns
    { OK, nextDueAtMs|nil }
    { NOT_FOUND }                 no such event, or the claim was lost
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/claimed-event.lua
-- @include includes/due.lua
-- @include includes/remove-event.lua

local id = ARGV[1]
local e, refusal = claimedEvent(KEYS[1], id, ARGV[2])
if not e then return { refusal } end

removeEvent(KEYS[3], KEYS[1], KEYS[2], id, e)
return { OK, nextDueAt(KEYS[2]) }
