-- Keys derived inside scripts (from stored data, or per item of a batch); always built from the
-- `base` key (`<prefix>:{<tag>}:`) the script received in KEYS, so they share its hash tag. Mirrors
-- keys.ts (userKeyFromBase, stateKeyFromBase, txnKeyFromBase); the integration tests check that both
-- sides agree.
local function userKey(base, userId)
  return base .. 'u:' .. userId
end

local function txnKey(base, key)
  return base .. 't:' .. key
end

-- Hashed so the key stays short; callers compare the stored triple before acting on a member.
local function stateKey(base, roomId, eventType, stateKeyValue)
  local triple = string.format('%d:', #roomId) .. roomId .. string.format('%d:', #eventType) .. eventType .. stateKeyValue
  return base .. 's:' .. string.sub(redis.sha1hex(triple), 1, 16)
end
