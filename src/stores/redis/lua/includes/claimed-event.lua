-- The decoded record of an event still claimed under `token`, or nil and the status saying why not
-- (NOT_FOUND, CLAIM_LOST). Needs status.lua and codec.lua.
local function claimedEvent(eventsKey, id, token)
  local packed = redis.call('HGET', eventsKey, id)
  if not packed then return nil, NOT_FOUND end
  local e = decodeEvent(packed)
  if e.ct ~= token then return nil, CLAIM_LOST end
  return e
end
