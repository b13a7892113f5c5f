--[[
  Removes claimed events for good (sent or failed), a batch at a time: one script call per storm batch
  instead of one per event. Only the holder of each event's current claim may remove it; an item that
  fails its check does not affect the others.

  The caller passes each event's owner, room, type and state key as it claimed them (they never change
  after the add, and the claim token proves it is the same event), so the record is decoded only up to
  its claim token.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] base <prefix>:{<tag>}:

  ARGV[1 + 6i]  delayId     } one sextuple per event, i = 0, 1, ...
  ARGV[2 + 6i]  claimToken  }
  ARGV[3 + 6i]  userId      }
  ARGV[4 + 6i]  roomId      }
  ARGV[5 + 6i]  type        }
  ARGV[6 + 6i]  '' for no state key, else '=' followed by the state key

  Returns a flat list: one status per event (OK | NOT_FOUND | CLAIM_LOST), in order, then
  nextDueAtMs|false.
]]
-- @include includes/status.lua
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/remove-event.lua

local out = {}
for i = 1, #ARGV, 6 do
  local id = ARGV[i]
  local packed = redis.call('HGET', KEYS[1], id)
  if not packed then
    out[#out + 1] = NOT_FOUND
  elseif decodeEvent(packed, 1).ct ~= ARGV[i + 1] then
    out[#out + 1] = CLAIM_LOST
  else
    local k = ARGV[i + 5]
    local e = { u = ARGV[i + 2], r = ARGV[i + 3], t = ARGV[i + 4], k = k ~= '' and string.sub(k, 2) or nil }
    removeEvent(KEYS[3], KEYS[1], KEYS[2], id, e)
    out[#out + 1] = OK
  end
end
out[#out + 1] = nextDueAt(KEYS[2])
return out
