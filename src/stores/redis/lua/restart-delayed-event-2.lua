--[[
  Restarts a pending event's delay: sendAtMs = nowMs + delayMs (so runningSinceMs = nowMs).
  This is the heartbeat of MatrixRTC clients, so it does as little as possible: it reads the record
  up to the owner, looks at the earliest due entry and moves one score. The record is not rewritten.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] delayId
  ARGV[2] userId (the requester; must own the event)
  ARGV[3] nowMs
  ARGV[4] wake channel

  Returns
    { OK, nextDueAtMs, sendAtMs }
    { NOT_FOUND } | { NOT_OWNER } | { CLAIMED }
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

local id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], id)
if not packed then return { NOT_FOUND } end
local e = decodeEvent(packed, 2)
if e.u ~= ARGV[2] then return { NOT_OWNER } end
if e.ct then return { CLAIMED } end

local sendAt = tonumber(ARGV[3]) + e.l
-- The earliest entry before the move: its member tells whether this event was the earliest.
local head = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local headAt = tonumber(head[2]) or sendAt
redis.call('ZADD', KEYS[2], sendAt, id)

local earliest
if head[1] == id then
  earliest = nextDueAt(KEYS[2])
else
  earliest = math.min(headAt, sendAt)
end
-- Only a time earlier than every time before can make other workers' timers late.
if sendAt < headAt then announce(ARGV[4], sendAt) end
return { OK, earliest, sendAt }
