-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/keys.lua
-- @include includes/state-index.lua

-- Transaction records outlive their logical expiry a little on the server, so that expiry is decided
-- by nowMs (the caller's clock) and not by Redis's clock.
local TXN_GRACE_MS = 60000

-- Adds one pending event after checking its transaction key and its owner's cap.
-- `a` holds the item's arguments: id, now, maxPerUser, txnTtlMs, userId, deviceId, roomId, type,
-- stateKey, content, delayMs, flags ("d" deviceId, "k" stateKey, "t" txnKey present), txnKey.
-- `batch.earliest` is the earliest due time so far (false when empty); adds only ever lower it, so a
-- batch reads it from Redis once.
-- Returns { status, delayId|nil, number|nil }: { OK, id, nextDueAtMs },
-- { DUPLICATE, firstId, nextDueAtMs } or { MAX_OUTSTANDING, nil, userNextSendAtMs|nil }.
local function addOne(eventsKey, dueKey, base, channel, batch, a)
  local id, now, flags = a.id, a.now, a.flags
  local txn = string.find(flags, 't', 1, true) and txnKey(base, a.txnKey) or nil

  -- The transaction record is written first when the key is new (one command on the usual path),
  -- and removed again if the cap refuses the event.
  local txnWritten = false
  if txn then
    local value = string.format('%.0f:', now + a.txnTtlMs) .. id
    txnWritten = redis.call('SET', txn, value, 'PX', a.txnTtlMs + TXN_GRACE_MS, 'NX')
    if not txnWritten then
      local record = redis.call('GET', txn)
      local colon = string.find(record, ':', 1, true)
      if tonumber(string.sub(record, 1, colon - 1)) > now then
        return { DUPLICATE, string.sub(record, colon + 1), batch.earliest }
      end
    end
  end

  local ownerKey = userKey(base, a.userId)
  if redis.call('ZCARD', ownerKey) >= a.maxPerUser then
    if txnWritten then redis.call('DEL', txn) end
    -- At the cap: the owner's earliest send time, for Retry-After. O(cap), only when refusing.
    local earliestOwn = false
    local ids = redis.call('ZRANGE', ownerKey, 0, -1)
    for i = 1, #ids do
      local packed = redis.call('HGET', eventsKey, ids[i])
      if packed then
        local at = sendAtOf(dueKey, decodeEvent(packed, 1), ids[i])
        if at and (not earliestOwn or at < earliestOwn) then earliestOwn = at end
      end
    end
    return { MAX_OUTSTANDING, false, earliestOwn }
  end

  local sendAt = now + a.delayMs
  local e = { l = a.delayMs, a = 0, u = a.userId, r = a.roomId, t = a.type, c = a.content }
  if string.find(flags, 'd', 1, true) then e.d = a.deviceId end
  if string.find(flags, 'k', 1, true) then e.k = a.stateKey end

  redis.call('HSET', eventsKey, id, encodeEvent(e))
  redis.call('ZADD', dueKey, sendAt, id)
  redis.call('ZADD', ownerKey, 0, id)
  if e.k then stateIndexAdd(base, e, id) end
  if txn and not txnWritten then
    -- Replaces a record whose logical expiry (by nowMs) has passed.
    redis.call('SET', txn, string.format('%.0f:', now + a.txnTtlMs) .. id, 'PX', a.txnTtlMs + TXN_GRACE_MS)
  end

  if not batch.earliest or sendAt < batch.earliest then
    announce(channel, sendAt)
    batch.earliest = sendAt
  end
  return { OK, id, batch.earliest }
end
