-- Keys derived inside scripts from stored data; always built from the `base` key (`<prefix>:{<tag>}:`)
-- the script received in KEYS, so they share its hash tag. Mirrors keys.ts (userKeyFromBase,
-- stateKeyFromBase); the integration tests check that both sides agree.
local function userKey(base, userId)
  return base .. 'u:' .. userId
end

local function stateKey(base, roomId, eventType, stateKeyValue)
  return base .. 's:' .. string.format('%d:', #roomId) .. roomId .. string.format('%d:', #eventType) .. eventType .. stateKeyValue
end
