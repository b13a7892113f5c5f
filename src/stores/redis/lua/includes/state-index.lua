-- @include includes/keys.lua

-- The state index: for each (room, type, state key) with pending state events, their delay IDs,
-- packed as "<byteLength>:<id>" one after another in one field of a bucket hash (see stateSlot).
-- Nearly always one ID per triple.

local function stateIndexIds(key, field)
  local packed = redis.call('HGET', key, field)
  local ids = {}
  if not packed then return ids end
  local pos = 1
  while pos <= #packed do
    local colon = string.find(packed, ':', pos, true)
    local length = tonumber(string.sub(packed, pos, colon - 1))
    ids[#ids + 1] = string.sub(packed, colon + 1, colon + length)
    pos = colon + length + 1
  end
  return ids
end

-- Adds `entry` ("<byteLength>:<id>") to field `field` of bucket `key` (both from stateSlot, or
-- stateSlotFromBase in keys.ts).
local function stateIndexAdd(key, field, entry)
  -- Nearly always the first pending event of its triple: one command.
  if redis.call('HSETNX', key, field, entry) == 0 then
    redis.call('HSET', key, field, redis.call('HGET', key, field) .. entry)
  end
end

-- Removes `id` from the field `field` of bucket `key` (see stateSlot).
local function stateIndexRemoveAt(key, field, id)
  local packed = redis.call('HGET', key, field)
  if not packed then return end
  -- Nearly always the only pending event of its triple: one comparison, no parsing.
  if packed == string.format('%d:', #id) .. id then
    redis.call('HDEL', key, field)
    return
  end
  local ids = stateIndexIds(key, field)
  local kept = {}
  for i = 1, #ids do
    if ids[i] ~= id then kept[#kept + 1] = string.format('%d:', #ids[i]) .. ids[i] end
  end
  if #kept == 0 then
    redis.call('HDEL', key, field)
  elseif #kept < #ids then
    redis.call('HSET', key, field, table.concat(kept))
  end
end

local function stateIndexRemove(base, e, id)
  local key, field = stateSlot(base, e.r, e.t, e.k)
  stateIndexRemoveAt(key, field, id)
end
