--[[
  Restarts pending events' delays: for each, sendAtMs = nowMs + delayMs (so runningSinceMs = nowMs).
  This is the heartbeat of MatrixRTC clients, so each restart does as little as possible, and the
  store sends the heartbeats that arrive in the same event-loop turn as one batch. Each restart is
  independent: one that fails its checks does not affect the others.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1]       wake channel
  then 8 arguments per restart:
    delayId, owner (the requester, "<byteLength>:<userId>" as records store it), nowMs,
    rate-limit charge (includes/rate-charge.lua): key ("" for none), points, limit, secDuration, blockMs

  Returns a flat list, three entries per restart, in order:
    OK, nextDueAtMs, sendAtMs
    NOT_FOUND | NOT_OWNER | CLAIMED, nil, nil
    RATE_LIMITED, retryAfterMs, nil           the charge was refused; the event was not touched
]]
-- @include includes/restart-one.lua
-- @include includes/rate-charge.lua

local STRIDE = 8
local head = {}
readHead(KEYS[2], head)
local out = {}
local n = 0
for i = 2, #ARGV, STRIDE do
  local allowed, retryAfterMs = true, nil
  if ARGV[i + 3] ~= '' then
    allowed, retryAfterMs = rateCharge(ARGV[i + 3], tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]))
  end
  if allowed then
    out[n + 1], out[n + 2], out[n + 3] = restartOne(KEYS[1], KEYS[2], ARGV[1], head, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]))
  else
    out[n + 1], out[n + 2], out[n + 3] = RATE_LIMITED, retryAfterMs, false
  end
  n = n + 3
end
return out
