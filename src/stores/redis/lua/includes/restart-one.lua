-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

-- Reads the earliest entry of the due index into `head` ({ id, at }; at = false when empty).
local function readHead(dueKey, head)
  local entry = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
  head.id = entry[1]
  head.at = tonumber(entry[2]) or false
end

-- Restarts one pending event: sendAtMs = nowMs + delayMs. Moves one score; the record is neither
-- decoded nor rewritten. `owner` is the requester as the record stores it ("<byteLength>:<userId>",
-- built by the caller): a pending record starts "<delayMs>,<attempts>,,~" (no claim) followed by
-- the owner, so one anchored match and one comparison check both without decoding the record.
-- Anything else (claimed, another owner) is NOT_FOUND. `head` is the earliest due entry, read once
-- per batch and kept up to date here (read again only when the moved event was the earliest).
-- Returns status, nextDueAtMs, sendAtMs.
local function restartOne(eventsKey, dueKey, channel, head, id, owner, now)
  local packed = redis.call('HGET', eventsKey, id)
  if not packed then return NOT_FOUND, false, false end
  local delayMs, pos = string.match(packed, '^(%d+),%d+,,~()')
  if not delayMs or string.sub(packed, pos, pos + #owner - 1) ~= owner then return NOT_FOUND, false, false end

  local sendAt = now + tonumber(delayMs)
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
  return OK, head.at, sendAt
end
