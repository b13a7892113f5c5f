--[[
  Restarts pending events' delays: for each, sendAtMs = nowMs + delayMs (so runningSinceMs = nowMs).
  This is the heartbeat of MatrixRTC clients, so each restart does as little as possible, and the
  store sends the heartbeats that arrive in the same event-loop turn as one batch. Each restart is
  independent: one that fails its checks does not affect the others.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1]       wake channel
  ARGV[2 + 3i]  delayId    } one triple per restart, i = 0, 1, ...
  ARGV[3 + 3i]  owner      }   (the requester, "<byteLength>:<userId>" as records store it)
  ARGV[4 + 3i]  nowMs      }

  Returns a flat list, three entries per restart, in order:
    OK, nextDueAtMs, sendAtMs
    NOT_FOUND | NOT_OWNER | CLAIMED, nil, nil
]]
-- @include includes/restart-one.lua

local head = {}
readHead(KEYS[2], head)
local out = {}
local n = 0
for i = 2, #ARGV, 3 do
  out[n + 1], out[n + 2], out[n + 3] = restartOne(KEYS[1], KEYS[2], ARGV[1], head, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]))
  n = n + 3
end
return out
