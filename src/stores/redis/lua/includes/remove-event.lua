-- @include includes/keys.lua
-- @include includes/state-index.lua

-- Removes an event from every index: events hash, due index, owner index, state index.
local function removeEvent(base, eventsKey, dueKey, id, e)
  redis.call('HDEL', eventsKey, id)
  redis.call('ZREM', dueKey, id)
  redis.call('ZREM', userKey(base, e.u), id)
  if e.k then stateIndexRemove(base, e, id) end
end
