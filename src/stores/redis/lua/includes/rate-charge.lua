-- A rate-limit charge taken inside a store script (RateLimitCharge in src/stores/store.ts), so that a
-- restart with the Redis-backed `manage` limit is one script call instead of two round trips. It
-- applies rate-limiter-flexible's RateLimiterRedis consume to the very key that library uses, so
-- counters charged here and by the limiter itself are one counter. The library runs
--   secDuration > 0: SET key 0 EX secDuration NX, INCRBY, PTTL, and EXPIRE if the key has no TTL
--   secDuration = 0: INCRBY, PTTL (what it does for windows under a second)
-- and on the first overuse with a block configured: SET key consumed [EX blockSec], retry after blockMs.
-- Here the SET NX is left out, and so is the PTTL of a charge that is allowed: INCRBY answering
-- `points` means it created the key, which then gets its window; every key the limiter writes has a
-- TTL (createRedisRateLimiter allows whole-second windows only). So an allowed heartbeat costs one
-- INCRBY, and a refused one also reads the PTTL for its retry-after. A key without a TTL (written by
-- something else) is given one at its first refusal instead of at once, so it cannot lock anyone out.
-- The key comes from ARGV (the limiter's keys do not share the store's hash tag), which is why the
-- store only takes charges on a non-Cluster client.
-- Returns true, or false and the ms until a point is available (the key's PTTL, or the block).
local function rateCharge(key, points, limit, secDuration, blockMs)
  local consumed = redis.call('INCRBY', key, points)
  if consumed == points and secDuration > 0 then redis.call('EXPIRE', key, secDuration) end
  if consumed <= limit then return true end
  local ttl = redis.call('PTTL', key)
  if ttl == -1 and secDuration > 0 then
    redis.call('EXPIRE', key, secDuration)
    ttl = 1000 * secDuration
  end
  if blockMs > 0 and consumed <= limit + points then
    local blockSec = math.floor(blockMs / 1000)
    if blockSec > 0 then
      redis.call('SET', key, consumed, 'EX', blockSec)
    else
      redis.call('SET', key, consumed)
    end
    ttl = blockMs
  end
  return false, ttl
end
