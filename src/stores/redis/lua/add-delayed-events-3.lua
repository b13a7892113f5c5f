--[[
  Adds pending delayed events, each atomically checking its transaction key and its owner's cap.
  The store sends the adds that arrive in the same event-loop turn as one batch; they are applied in
  order, so a later add sees the earlier ones (the cap holds within a batch too).

  KEYS[1] events hash   <prefix>:{<tag>}:ev
  KEYS[2] due index     <prefix>:{<tag>}:due
  KEYS[3] base          <prefix>:{<tag>}:   (owner, state and transaction keys are this plus a suffix
                                             built by keys.ts, so they share its hash tag)

  ARGV[1] wake channel (PUBLISHed to when an event becomes the earliest due)
  then 12 arguments per event, every string built by the store (scripts/add.ts):
    delayId, nowMs, maxPerUser, owner key suffix, packed record (codec.ts), sendAtMs,
    transaction key suffix ("" when none), transaction record "<expiresAtMs>:<delayId>", txnTtlMs,
    state-index bucket suffix ("" when no state key), state-index field, state-index entry

  Returns a flat list, three entries per event, in order:
    OK, delayId, nextDueAtMs                      added
    DUPLICATE, firstDelayId, nextDueAtMs|nil      transaction key seen before, nothing added
    MAX_OUTSTANDING, nil, userNextSendAtMs|nil    owner at the cap, nothing added
]]
-- @include includes/add-one.lua

local STRIDE = 12
local batch = { earliest = nextDueAt(KEYS[2]) }
local out = {}
local n = 0
for i = 2, #ARGV, STRIDE do
  out[n + 1], out[n + 2], out[n + 3] = addOne(KEYS[1], KEYS[2], KEYS[3], ARGV[1], batch, i)
  n = n + 3
end
return out
