--[[
  Takes points from rate-limit counters (createRedisRateLimiter): the consumes that arrive while an
  earlier call is on its way go as one call, each applied in turn exactly as rate-limiter-flexible's
  RateLimiterRedis applies one (includes/rate-charge.lua).

  KEYS[i]          counter <keyPrefix>:<bucket>:<user>|<device>, one per consume (a key may repeat)
  ARGV[4i - 3..4i] points, limit, secDuration (> 0), blockMs (0 for none), for KEYS[i]

  Returns a flat list, two entries per consume, in order:
    consumed, false            allowed
    consumed, retryAfterMs     refused
]]
-- @include includes/rate-charge.lua

local out = {}
for i = 1, #KEYS do
  local a = 4 * i - 3
  out[2 * i - 1], out[2 * i] = rateCharge(KEYS[i], tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
end
return out
