--[[
  Adds a pending delayed event, atomically checking the transaction key and the owner's cap.

  KEYS[1] events hash            <prefix>:{<tag>}:ev
  KEYS[2] due index              <prefix>:{<tag>}:due
  KEYS[3] owner's index          <prefix>:{<tag>}:u:<userId>   (membership: score 0)
  KEYS[4] transaction record     <prefix>:{<tag>}:t:<txnKey>   (untouched unless ARGV[13] has "t")
  KEYS[5] state index            <prefix>:{<tag>}:s:...        (untouched unless ARGV[13] has "k")

  ARGV[1]  delayId
  ARGV[2]  nowMs
  ARGV[3]  maxPerUser (cap on pending + claimed events of the owner)
  ARGV[4]  txnTtlMs
  ARGV[5]  wake channel (PUBLISHed to when this event becomes the earliest due)
  ARGV[6]  userId
  ARGV[7]  deviceId ("" when absent)
  ARGV[8]  roomId
  ARGV[9]  type
  ARGV[10] stateKey ("" when absent)
  ARGV[11] content JSON (stored byte-exact)
  ARGV[12] delayMs
  ARGV[13] flags: "d" deviceId present, "k" stateKey present, "t" transaction key present

  Returns
    { OK, delayId, nextDueAtMs }                 added
    { DUPLICATE, firstDelayId, nextDueAtMs|nil } transaction key seen before, nothing added
    { MAX_OUTSTANDING, nil, userNextSendAtMs|nil } owner at the cap, nothing added
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua

-- Transaction records outlive their logical expiry a little on the server, so that expiry is decided
-- by nowMs (the caller's clock) and not by Redis's clock.
local TXN_GRACE_MS = 60000

local id = ARGV[1]
local now = tonumber(ARGV[2])
local flags = ARGV[13]
local hasTxn = string.find(flags, 't', 1, true) ~= nil

if hasTxn then
  local record = redis.call('GET', KEYS[4])
  if record then
    local colon = string.find(record, ':', 1, true)
    if tonumber(string.sub(record, 1, colon - 1)) > now then
      return { DUPLICATE, string.sub(record, colon + 1), nextDueAt(KEYS[2]) }
    end
  end
end

if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  -- At the cap: the owner's earliest send time, for Retry-After. O(cap), only when refusing.
  local earliestOwn = false
  local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
  for i = 1, #ids do
    local packed = redis.call('HGET', KEYS[1], ids[i])
    if packed then
      local at = sendAtOf(KEYS[2], decodeEvent(packed, 1), ids[i])
      if at and (not earliestOwn or at < earliestOwn) then earliestOwn = at end
    end
  end
  return { MAX_OUTSTANDING, false, earliestOwn }
end

local delayMs = tonumber(ARGV[12])
local sendAt = now + delayMs
local e = { l = delayMs, a = 0, u = ARGV[6], r = ARGV[8], t = ARGV[9], c = ARGV[11] }
if string.find(flags, 'd', 1, true) then e.d = ARGV[7] end
if string.find(flags, 'k', 1, true) then e.k = ARGV[10] end

local earliest = nextDueAt(KEYS[2])
redis.call('HSET', KEYS[1], id, encodeEvent(e))
redis.call('ZADD', KEYS[2], sendAt, id)
redis.call('ZADD', KEYS[3], 0, id)
if e.k then redis.call('ZADD', KEYS[5], 0, id) end
if hasTxn then
  local ttl = tonumber(ARGV[4])
  redis.call('SET', KEYS[4], string.format('%.0f:', now + ttl) .. id, 'PX', ttl + TXN_GRACE_MS)
end

if not earliest or sendAt < earliest then
  announce(ARGV[5], sendAt)
  earliest = sendAt
end
return { OK, id, earliest }
