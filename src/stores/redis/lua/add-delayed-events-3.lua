--[[
  Adds pending delayed events, each atomically checking its transaction key and its owner's cap.
  The store sends the adds that arrive in the same event-loop turn as one batch; they are applied in
  order, so a later add sees the earlier ones (the cap holds within a batch too).

  KEYS[1] events hash   <prefix>:{<tag>}:ev
  KEYS[2] due index     <prefix>:{<tag>}:due
  KEYS[3] base          <prefix>:{<tag>}:   (owner, state and transaction keys are built from it:
                                             includes/keys.lua, mirrored by keys.ts)

  ARGV[1] wake channel (PUBLISHed to when an event becomes the earliest due)
  then 13 arguments per event:
    delayId, nowMs, maxPerUser, txnTtlMs, userId, deviceId ("" when absent), roomId, type,
    stateKey ("" when absent), content JSON (stored byte-exact), delayMs,
    flags ("d" deviceId present, "k" stateKey present, "t" transaction key present),
    txnKey ("" when absent)

  Returns a flat list, three entries per event, in order:
    OK, delayId, nextDueAtMs                      added
    DUPLICATE, firstDelayId, nextDueAtMs|nil      transaction key seen before, nothing added
    MAX_OUTSTANDING, nil, userNextSendAtMs|nil    owner at the cap, nothing added
]]
-- @include includes/add-one.lua

local STRIDE = 13
local batch = { earliest = nextDueAt(KEYS[2]) }
local out = {}
for i = 2, #ARGV, STRIDE do
  local result = addOne(KEYS[1], KEYS[2], KEYS[3], ARGV[1], batch, {
    id = ARGV[i],
    now = tonumber(ARGV[i + 1]),
    maxPerUser = tonumber(ARGV[i + 2]),
    txnTtlMs = tonumber(ARGV[i + 3]),
    userId = ARGV[i + 4],
    deviceId = ARGV[i + 5],
    roomId = ARGV[i + 6],
    type = ARGV[i + 7],
    stateKey = ARGV[i + 8],
    content = ARGV[i + 9],
    delayMs = tonumber(ARGV[i + 10]),
    flags = ARGV[i + 11],
    txnKey = ARGV[i + 12],
  })
  out[#out + 1] = result[1]
  out[#out + 1] = result[2]
  out[#out + 1] = result[3]
end
return out
