-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/state-index.lua

-- Transaction records outlive their logical expiry a little on the server, so that expiry is decided
-- by nowMs (the caller's clock) and not by Redis's clock.
local TXN_GRACE_MS = 60000

-- Adds one pending event after checking its transaction key and its owner's cap. The caller builds
-- every string (the packed record, key suffixes, state slot, transaction record: scripts/add.ts with
-- codec.ts and keys.ts), so this does the Redis commands and nothing else on the usual path.
-- The item's arguments are ARGV[i], ARGV[i + 1], ... (read in place, not copied into a table): id,
-- nowMs, maxPerUser, owner (user key suffix), packed record, sendAtMs, txn (transaction key suffix or
-- ""), txn record, txnTtlMs, state (state-index bucket suffix or ""), state field, state entry. Key
-- suffixes are appended to `base`, which carries the hash tag.
-- `batch.earliest` is the earliest due time so far (false when empty); adds only ever lower it, so a
-- batch reads it from Redis once.
-- Returns status, delayId|false, number|false: OK, id, nextDueAtMs;
-- DUPLICATE, firstId, nextDueAtMs; or MAX_OUTSTANDING, false, userNextSendAtMs|false.
local function addOne(eventsKey, dueKey, base, channel, batch, i)
  local id, now = ARGV[i], tonumber(ARGV[i + 1])
  local txn = ARGV[i + 6] ~= '' and base .. ARGV[i + 6] or nil
  local txnPx = txn and tonumber(ARGV[i + 8]) + TXN_GRACE_MS

  -- The transaction record is written first when the key is new (one command on the usual path),
  -- and removed again if the cap refuses the event.
  local txnWritten = false
  if txn then
    txnWritten = redis.call('SET', txn, ARGV[i + 7], 'PX', txnPx, 'NX')
    if not txnWritten then
      local record = redis.call('GET', txn)
      local colon = string.find(record, ':', 1, true)
      if tonumber(string.sub(record, 1, colon - 1)) > now then
        return DUPLICATE, string.sub(record, colon + 1), batch.earliest
      end
    end
  end

  local ownerKey = base .. ARGV[i + 3]
  if redis.call('ZCARD', ownerKey) >= tonumber(ARGV[i + 2]) then
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
    return MAX_OUTSTANDING, false, earliestOwn
  end

  local sendAt = tonumber(ARGV[i + 5])
  redis.call('HSET', eventsKey, id, ARGV[i + 4])
  redis.call('ZADD', dueKey, sendAt, id)
  redis.call('ZADD', ownerKey, 0, id)
  if ARGV[i + 9] ~= '' then stateIndexAdd(base .. ARGV[i + 9], ARGV[i + 10], ARGV[i + 11]) end
  if txn and not txnWritten then
    -- Replaces a record whose logical expiry (by nowMs) has passed.
    redis.call('SET', txn, ARGV[i + 7], 'PX', txnPx)
  end

  if not batch.earliest or sendAt < batch.earliest then
    announce(channel, sendAt)
    batch.earliest = sendAt
  end
  return OK, id, batch.earliest
end
