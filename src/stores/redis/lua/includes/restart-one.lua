-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

-- Restarts one pending event: sendAtMs = nowMs + delayMs. Reads the record up to the owner, looks
-- at the earliest due entry and moves one score; the record is not rewritten.
-- Returns { status, nextDueAtMs, sendAtMs }.
local function restartOne(eventsKey, dueKey, channel, id, userId, now)
  local packed = redis.call('HGET', eventsKey, id)
  if not packed then return { NOT_FOUND, false, false } end
  local e = decodeEvent(packed, 2)
  if e.u ~= userId then return { NOT_OWNER, false, false } end
  if e.ct then return { CLAIMED, false, false } end

  local sendAt = now + e.l
  -- The earliest entry before the move: its member tells whether this event was the earliest.
  local head = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
  local headAt = tonumber(head[2]) or sendAt
  redis.call('ZADD', dueKey, sendAt, id)

  local earliest
  if head[1] == id then
    earliest = nextDueAt(dueKey)
  else
    earliest = math.min(headAt, sendAt)
  end
  -- Only a time earlier than every time before can make other workers' timers late.
  if sendAt < headAt then announce(channel, sendAt) end
  return { OK, earliest, sendAt }
end
