-- Keys derived inside scripts from stored data; always built from the `base` key
-- (`<prefix>:{<tag>}:`) the script received in KEYS, so they share its hash tag. Mirrors keys.ts
-- (userKeyFromBase, stateSlotFromBase); the integration tests check that both sides agree. (Adds get
-- their keys as suffixes built by keys.ts, appended to the same base.)
local function userKey(base, userId)
  return base .. 'u:' .. userId
end

-- Where the state index lists the pending events of one (room, type, state key): field `field` of
-- the small hash `key`, one of STATE_BUCKETS buckets (so the index costs a hash entry per triple,
-- not a Redis key, and buckets stay listpack-encoded up to ~128 × STATE_BUCKETS triples). Both come
-- from SHA-1 of the triple (byte lengths make it unambiguous); callers compare the stored triple
-- before acting on a member, so a hash collision cannot cancel the wrong event.
local STATE_BUCKETS = 1024
local function stateSlot(base, roomId, eventType, stateKeyValue)
  local triple = string.format('%d:', #roomId) .. roomId .. string.format('%d:', #eventType) .. eventType .. stateKeyValue
  local h = redis.sha1hex(triple)
  return base .. 's:' .. string.format('%x', tonumber(string.sub(h, 1, 3), 16) % STATE_BUCKETS), string.sub(h, 4, 15)
end
