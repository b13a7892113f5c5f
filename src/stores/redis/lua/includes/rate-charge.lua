-- A rate-limit charge taken inside a store script (RateLimitCharge in src/stores/store.ts), so that a
-- restart with the Redis-backed `manage` limit is one script call instead of two round trips. It
-- applies rate-limiter-flexible's RateLimiterRedis consume to the very key that library uses, with the
-- same commands, so counters charged here and by the limiter itself are one counter:
--   secDuration > 0: SET key 0 EX secDuration NX, INCRBY, PTTL (EXPIRE again if the TTL is lost)
--   secDuration = 0: INCRBY, PTTL (what the library does for windows under a second)
-- and on the first overuse with a block configured: SET key consumed [EX blockSec], retry after blockMs.
-- The key comes from ARGV (the limiter's keys do not share the store's hash tag), which is why the
-- store only takes charges on a non-Cluster client.
-- Returns true, or false and the ms until a point is available (the key's PTTL, or the block).
local function rateCharge(key, points, limit, secDuration, blockMs)
  local consumed, ttl
  if secDuration > 0 then
    redis.call('SET', key, 0, 'EX', secDuration, 'NX')
    consumed = redis.call('INCRBY', key, points)
    ttl = redis.call('PTTL', key)
    if ttl == -1 then
      redis.call('EXPIRE', key, secDuration)
      ttl = 1000 * secDuration
    end
  else
    consumed = redis.call('INCRBY', key, points)
    ttl = redis.call('PTTL', key)
  end
  if consumed <= limit then return true end
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
