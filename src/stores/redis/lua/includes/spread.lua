-- One command for many items (one HSET, ZADD, ZREM... per batch instead of one per item), in
-- chunks: unpack() of more values than Lua's C stack holds (~8000) fails, and a caller may
-- configure large batches. Chunks hold an even number of values, so pairs stay together.
local SPREAD_CHUNK = 1000

local function callSpread(command, key, values)
  for from = 1, #values, SPREAD_CHUNK do
    redis.call(command, key, unpack(values, from, math.min(from + SPREAD_CHUNK - 1, #values)))
  end
end

-- HMGET of many fields, in the same chunks; the values in order (false for a missing field).
local function hmgetSpread(key, fields)
  local values = {}
  for from = 1, #fields, SPREAD_CHUNK do
    local chunk = redis.call('HMGET', key, unpack(fields, from, math.min(from + SPREAD_CHUNK - 1, #fields)))
    for i = 1, #chunk do values[#values + 1] = chunk[i] end
  end
  return values
end
