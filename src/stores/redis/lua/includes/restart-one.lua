-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

-- Reads the earliest entry of the due index into `head` ({ id, at }; at = false when empty).
local function readHead(dueKey, head)
  local entry = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
  head.id = entry[1]
  head.at = tonumber(entry[2]) or false
end

-- Restarts one pending event: sendAtMs = nowMs + delayMs. Reads the record up to the owner and
-- moves one score; the record is not rewritten. `head` is the earliest due entry, read once per
-- batch and kept up to date here (read again only when the moved event was the earliest).
-- Returns { status, nextDueAtMs, sendAtMs }.
local function restartOne(eventsKey, dueKey, channel, head, id, userId, now)
  local packed = redis.call('HGET', eventsKey, id)
  if not packed then return { NOT_FOUND, false, false } end
  local e = decodeEvent(packed, 2)
  if e.u ~= userId then return { NOT_OWNER, false, false } end
  if e.ct then return { CLAIMED, false, false } end

  local sendAt = now + e.l
  local headAt = head.at or sendAt
  local wasHead = head.id == id
  redis.call('ZADD', dueKey, sendAt, id)

  if wasHead then
    readHead(dueKey, head)
  elseif sendAt < headAt or not head.at then
    head.id, head.at = id, sendAt
  end
  -- Only a time earlier than every time before can make other workers' timers late.
  if sendAt < headAt then announce(channel, sendAt) end
  return { OK, head.at, sendAt }
end
