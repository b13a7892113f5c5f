--[[
  Restarts pending events' delays: for each, sendAtMs = nowMs + delayMs (so runningSinceMs = nowMs).
  This is the heartbeat of MatrixRTC clients, so each restart does as little as possible, and the
  store sends the heartbeats that arrive in the same event-loop turn as one batch. Each restart is
  independent: one that fails its checks does not affect the others.

  A restart may carry its requester's `manage` rate-limit point (createRedisDelayedEvents), taken
  first (includes/rate-charge.lua): a refused charge leaves the event untouched.

  KEYS[1]  events hash
  KEYS[2]  due index
  KEYS[3..] rate-limit counters of the charges in this batch (none without charges)

  ARGV[1]  wake channel
  then 7 arguments per restart:
    delayId, owner (the requester, "<byteLength>:<userId>" as records store it), nowMs,
    charge: index of its counter in KEYS (0 for none), limit, secDuration, blockMs

  Returns a flat list, three entries per restart, in order:
    OK, nextDueAtMs, sendAtMs
    NOT_FOUND, false, false                   unknown, someone else's, or being sent
    RATE_LIMITED, retryAfterMs, false         the charge was refused; the event was not touched
]]
-- @include includes/restart-one.lua
-- @include includes/rate-charge.lua

local STRIDE = 7
local head = {}
readHead(KEYS[2], head)
local out = {}
local n = 0
for i = 2, #ARGV, STRIDE do
  local counter = tonumber(ARGV[i + 3])
  local retryAfterMs = false
  if counter > 0 then
    local _
    _, retryAfterMs = rateCharge(KEYS[counter], 1, tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]))
  end
  if retryAfterMs then
    out[n + 1], out[n + 2], out[n + 3] = RATE_LIMITED, retryAfterMs, false
  else
    out[n + 1], out[n + 2], out[n + 3] = restartOne(KEYS[1], KEYS[2], ARGV[1], head, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]))
  end
  n = n + 3
end
return out
