--[[
  One page of a user's pending events, ordered by (sendAtMs, delayId); claimed events are skipped.

  KEYS[1] events hash
  KEYS[2] owner's index <prefix>:{<tag>}:u:<userId>

  ARGV[1] sendAtMs of the cursor ("" for the first page)
  ARGV[2] delayId of the cursor
  ARGV[3] limit (>= 1)

  Returns a list of event replies (see eventReply in includes/codec.lua).
]]
-- @include includes/codec.lua

local BATCH = 64

-- True when a sorts after b in byte order, as ZSET ties do. Lua's own `>` on strings uses the
-- server's collation locale, which may differ.
local function bytesAfter(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local hasCursor = ARGV[1] ~= ''
local afterScore = hasCursor and tonumber(ARGV[1]) or nil
local afterId = ARGV[2]
local limit = tonumber(ARGV[3])
local min = hasCursor and ARGV[1] or '-inf'

local out = {}
local offset = 0
while #out < limit do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[2], min, '+inf', 'WITHSCORES', 'LIMIT', offset, BATCH)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local id = batch[i]
    local score = tonumber(batch[i + 1])
    -- Members with equal scores come in byte order of the ID, as the cursor expects.
    if not hasCursor or score > afterScore or bytesAfter(id, afterId) then
      local packed = redis.call('HGET', KEYS[1], id)
      if packed then
        local e = decodeEvent(packed)
        if not e.ct then
          out[#out + 1] = eventReply(id, e)
          if #out >= limit then break end
        end
      end
    end
  end
  offset = offset + BATCH
end
return out
