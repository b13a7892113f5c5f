--[[
  Removes claimed events for good (sent or failed), a batch at a time: one script call per storm batch
  instead of one per event. Only the holder of each event's current claim may remove it; an item that
  fails its check does not affect the others.

  The caller passes each event's owner and state-index slot as it claimed them (they never change after
  the add, and the claim token proves it is the same event), so the record is decoded only up to its
  claim token, and the slot (SHA-1 of room, type and state key, by stateSlotFromBase in keys.ts, the
  mirror of stateSlot in includes/keys.lua; its key starts with KEYS[3]) is not hashed again here. The
  records are read with one HMGET, and the events hash, the due index and each owner's set lose the
  batch's events with one command each.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] base <prefix>:{<tag>}:

  ARGV[1 + 5i]  delayId        } one quintuple per event, i = 0, 1, ...
  ARGV[2 + 5i]  claimToken     }
  ARGV[3 + 5i]  userId         }
  ARGV[4 + 5i]  state-index bucket key, '' for an event without a state key
  ARGV[5 + 5i]  state-index field

  Returns a flat list: one status per event (OK | NOT_FOUND: no such event, or the claim was lost), in order, then
  nextDueAtMs|false.
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/keys.lua
-- @include includes/state-index.lua
-- @include includes/spread.lua

local ids = {}
for i = 1, #ARGV, 5 do ids[#ids + 1] = ARGV[i] end
local records = hmgetSpread(KEYS[1], ids)
local out, removed, seen, owners, byOwner = {}, {}, {}, {}, {}
for n = 1, #ids do
  local i, id, packed = 5 * n - 4, ids[n], records[n]
  -- The same event twice in one batch: only the first finalises it.
  if not packed or seen[id] then
    out[n] = NOT_FOUND
  elseif decodeEvent(packed, 1).ct ~= ARGV[i + 1] then
    out[n] = NOT_FOUND
  else
    removed[#removed + 1] = id
    seen[id] = true
    local owner = ARGV[i + 2]
    local owned = byOwner[owner]
    if not owned then
      owned = {}
      byOwner[owner] = owned
      owners[#owners + 1] = owner
    end
    owned[#owned + 1] = id
    if ARGV[i + 3] ~= '' then stateIndexRemoveAt(ARGV[i + 3], ARGV[i + 4], id) end
    out[n] = OK
  end
end
-- The indexes lose the batch's events with one command each (one per owner for the owners' sets).
callSpread('HDEL', KEYS[1], removed)
callSpread('ZREM', KEYS[2], removed)
for _, owner in ipairs(owners) do callSpread('ZREM', userKey(KEYS[3], owner), byOwner[owner]) end
out[#ids + 1] = nextDueAt(KEYS[2])
return out
