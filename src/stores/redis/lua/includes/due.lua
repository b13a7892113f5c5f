-- The due index: a ZSET of delay IDs scored by sendAtMs (pending) or leaseUntilMs (claimed).

-- Earliest due time, or false when the index is empty.
local function nextDueAt(dueKey)
  local head = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
  if head[2] then return tonumber(head[2]) end
  return false
end

-- Tells every worker (pub/sub) about a due time earlier than the one they may have armed for.
local function announce(channel, dueAtMs)
  redis.call('PUBLISH', channel, string.format('%.0f', dueAtMs))
end
