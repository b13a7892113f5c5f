--[[
  Removes pending events, each owned by its requester. The store sends the cancels that arrive in the
  same event-loop turn as one batch, saving a call per cancel; each cancel is independent: one that
  fails its checks does not affect the others.

  Each removed event's record is returned as stored, with its send time, and decoded in Node
  (src/stores/redis/scripts/cancel.ts), sparing redis-server, which every worker shares, a reply
  built field by field. Here only the four fields after the owner are decoded (device, room, type,
  state key: the state-index slot needs them); the owner is already known.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] base <prefix>:{<tag>}:

  ARGV[1 + 2i]  delayId                                               } one pair per cancel
  ARGV[2 + 2i]  owner (the requester, "<byteLength>:<userId>" as records store it) }

  Returns a flat list, three entries per cancel, in order, then nextDueAtMs|false (after the batch):
    OK, sendAtMs, record
    NOT_FOUND, false, false        unknown, someone else's, or being sent
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/remove-event.lua

local out = {}
local n = 0
for i = 1, #ARGV, 2 do
  local id, owner = ARGV[i], ARGV[i + 1]
  local packed = redis.call('HGET', KEYS[1], id)
  -- A pending record starts "<delayMs>,<attempts>,,~" (no claim) followed by its owner.
  local pos = packed and string.match(packed, '^%d+,%d+,,~()')
  if not packed then
    out[n + 1], out[n + 2], out[n + 3] = NOT_FOUND, false, false
  elseif not pos or string.sub(packed, pos, pos + #owner - 1) ~= owner then
    -- Claimed (being sent) or another user's.
    out[n + 1], out[n + 2], out[n + 3] = NOT_FOUND, false, false
  else
    local sendAt = redis.call('ZSCORE', KEYS[2], id)
    -- The owner is known, so only the fields after it are decoded (device, room, type, state key),
    -- never the counts, the claim or the content.
    local e = { u = string.sub(owner, string.find(owner, ':', 1, true) + 1) }
    decodeFields(packed, pos + #owner, e, 3, #STRING_FIELDS)
    removeEvent(KEYS[3], KEYS[1], KEYS[2], id, e)
    out[n + 1], out[n + 2], out[n + 3] = OK, sendAt, packed
  end
  n = n + 3
end
out[n + 1] = nextDueAt(KEYS[2])
return out
