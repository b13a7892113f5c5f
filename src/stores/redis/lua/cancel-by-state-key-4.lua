--[[
  Cancels the pending state events of one (room, type, state key), keeping those owned by
  keepUserId. Claimed events are being sent and are left alone. When nothing is pending for the key
  (the usual case for a state change) this reads a missing key and the head of the due index.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] state index bucket <prefix>:{<tag>}:s:<bucket> of the triple (see stateSlot in includes/keys.lua)
  KEYS[4] base        <prefix>:{<tag>}:

  ARGV[1] keepUserId ("" with ARGV[2] = "0" to cancel every owner's)
  ARGV[2] "1" when keepUserId applies
  ARGV[3] roomId    } the triple itself: members whose record holds another triple (a hash
  ARGV[4] type      } collision on the key) are left alone
  ARGV[5] stateKey  }

  Returns { nextDueAtMs|false, then three entries per cancelled event: delayId, sendAtMs, record }
]]
-- @include includes/codec.lua
-- @include includes/due.lua
-- @include includes/remove-event.lua

local _, field = stateSlot(KEYS[4], ARGV[3], ARGV[4], ARGV[5])
local ids = stateIndexIds(KEYS[3], field)
if #ids == 0 then return { nextDueAt(KEYS[2]) } end

local keep = ARGV[2] == '1' and ARGV[1] or nil
local cancelled = {}
for i = 1, #ids do
  local id = ids[i]
  local packed = redis.call('HGET', KEYS[1], id)
  if not packed then
    -- An index entry without a record: drop it.
    stateIndexRemove(KEYS[4], { r = ARGV[3], t = ARGV[4], k = ARGV[5] }, id)
  else
    local e = decodeEvent(packed)
    local sameTriple = e.r == ARGV[3] and e.t == ARGV[4] and e.k == ARGV[5]
    if sameTriple and not e.ct and e.u ~= keep then
      local sendAt = redis.call('ZSCORE', KEYS[2], id)
      removeEvent(KEYS[4], KEYS[1], KEYS[2], id, e)
      cancelled[#cancelled + 1] = { id, sendAt, packed }
    end
  end
end
local out = { nextDueAt(KEYS[2]) }
for i = 1, #cancelled do
  local c = cancelled[i]
  out[3 * i - 1], out[3 * i], out[3 * i + 1] = c[1], c[2], c[3]
end
return out
