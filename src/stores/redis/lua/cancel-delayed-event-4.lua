--[[
  Removes a pending event owned by the requester.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] owner's index <prefix>:{<tag>}:u:<userId>
  KEYS[4] base          <prefix>:{<tag>}:

  ARGV[1] delayId
  ARGV[2] userId (the requester; must own the event)

  Returns
    { OK, nextDueAtMs|nil, event reply }
    { NOT_FOUND } | { NOT_OWNER } | { CLAIMED }
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/remove-event.lua

local id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], id)
if not packed then return { NOT_FOUND } end
local e = decodeEvent(packed)
if e.u ~= ARGV[2] then return { NOT_OWNER } end
if e.ct then return { CLAIMED } end

local sendAt = tonumber(redis.call('ZSCORE', KEYS[2], id))
removeEvent(KEYS[4], KEYS[1], KEYS[2], id, e)
return { OK, nextDueAt(KEYS[2]), eventReply(id, e, sendAt) }
