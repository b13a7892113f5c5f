--[[
  Keeps finalised events for lookup, a batch at a time, and prunes each touched owner's records:
  none finalised before nowMs - maxAgeMs, at most maxPerUser (the newest by finalisedAtMs; ties at
  the same millisecond in delay ID order). Both keys of a touched owner then expire after
  maxAgeMs + grace, so an owner who never comes back costs nothing once the window has passed: no
  timer per event, and memory bounded by maxPerUser per owner. The records are built by
  encodeFinalised in codec.ts; this script stores them and never looks inside. The same delay ID
  finalised again replaces its record (HSET and ZADD of an existing member).

  The caller groups the batch by owner (scripts/retain.ts), so every key is in KEYS, built by
  keys.ts (and prefixed by ioredis for a client keyPrefix):

  KEYS[2j - 1]  owner j's records: HASH delayId -> packed record
  KEYS[2j]      owner j's index:   ZSET delayId scored by finalisedAtMs

  ARGV[1] nowMs
  ARGV[2] maxAgeMs
  ARGV[3] maxPerUser
  ARGV[4] key TTL in ms (maxAgeMs + grace)
  then per owner j, in KEYS order: the number of its records n, then n triples
    delayId, finalisedAtMs, packed record

  Returns the number of records dropped by pruning.
]]
-- @include includes/spread.lua

local now, maxAge, maxPerUser, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local cutoff = '(' .. string.format('%.0f', now - maxAge)
local dropped = 0
local pos = 5
for j = 1, #KEYS, 2 do
  local records, ages = KEYS[j], KEYS[j + 1]
  local n = tonumber(ARGV[pos])
  local fields, scored = {}, {}
  for i = pos + 1, pos + 3 * n, 3 do
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 2]
    scored[#scored + 1] = ARGV[i + 1]
    scored[#scored + 1] = ARGV[i]
  end
  pos = pos + 1 + 3 * n
  callSpread('HSET', records, fields)
  callSpread('ZADD', ages, scored)

  local old = redis.call('ZRANGEBYSCORE', ages, '-inf', cutoff)
  if #old > 0 then
    callSpread('HDEL', records, old)
    redis.call('ZREMRANGEBYSCORE', ages, '-inf', cutoff)
    dropped = dropped + #old
  end
  local over = redis.call('ZCARD', ages) - maxPerUser
  if over > 0 then
    callSpread('HDEL', records, redis.call('ZRANGE', ages, 0, over - 1))
    redis.call('ZREMRANGEBYRANK', ages, 0, over - 1)
    dropped = dropped + over
  end
  redis.call('PEXPIRE', records, ttl)
  redis.call('PEXPIRE', ages, ttl)
end
return dropped
