-- A rate-limit counter, the one Lua implementation of it: the Redis rate limiter's consume script
-- (consume-rate-limits-n.lua, createRedisRateLimiter) and the fused `manage` charge of a heartbeat
-- (restart-delayed-events-n.lua, createRedisDelayedEvents) both call it, so a counter charged either
-- way is one counter. It is rate-limiter-flexible's RateLimiterRedis consume, on the very key that
-- library uses (`<keyPrefix>:<bucket>:<user>|<device>`). That library runs
--   SET key 0 EX secDuration NX, INCRBY, PTTL, and EXPIRE if the key has no TTL
-- and on the first overuse with a block configured: SET key consumed EX blockSec, retry after blockMs.
-- Here the SET NX is left out, and so is the PTTL of a charge that is allowed: INCRBY answering
-- `points` means it created the key, which then gets its window; every key these scripts write has a
-- TTL (windows are whole seconds, assertWholeSeconds in src/redis/rate-limit-backend.ts). So an
-- allowed charge costs one INCRBY, and a refused one also reads the PTTL for its retry-after. A key
-- without a TTL (written by something else) is given one at its first refusal instead of at once, so
-- it cannot lock anyone out.
-- The key is always one of the script's KEYS, so ioredis applies a client `keyPrefix` to it as it
-- does to rate-limiter-flexible's own keys.
-- Returns the points consumed in the window, and false (allowed) or the ms until a point is
-- available (refused: the key's PTTL, or the block).
local function rateCharge(key, points, limit, secDuration, blockMs)
  local consumed = redis.call('INCRBY', key, points)
  if consumed == points then redis.call('EXPIRE', key, secDuration) end
  if consumed <= limit then return consumed, false end
  local ttl = redis.call('PTTL', key)
  if ttl == -1 then
    redis.call('EXPIRE', key, secDuration)
    ttl = 1000 * secDuration
  end
  if blockMs > 0 and consumed <= limit + points then
    redis.call('SET', key, consumed, 'EX', math.floor(blockMs / 1000))
    ttl = blockMs
  end
  return consumed, ttl
end
