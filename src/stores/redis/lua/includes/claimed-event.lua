-- The decoded record of an event still claimed under `token`, or nil and NOT_FOUND (no such event,
-- or the claim was lost to another). Needs status.lua and codec.lua.
local function claimedEvent(eventsKey, id, token)
  local packed = redis.call('HGET', eventsKey, id)
  if not packed then return nil, NOT_FOUND end
  local e = decodeEvent(packed)
  if e.ct ~= token then return nil, NOT_FOUND end
  return e
end
