--[[
  One page of a user's pending events, ordered by (sendAtMs, delayId); claimed events are skipped.
  Cost grows with the user's number of outstanding events (bounded by their cap): the owner index
  holds membership only, so that a restart moves a single score.

  KEYS[1] events hash
  KEYS[2] due index
  KEYS[3] owner's index <prefix>:{<tag>}:u:<userId>

  ARGV[1] sendAtMs of the cursor ("" for the first page)
  ARGV[2] delayId of the cursor
  ARGV[3] limit (>= 1)

  Returns a flat list, three entries per event: delayId, sendAtMs, record (as stored).
]]
-- @include includes/codec.lua
-- @include includes/bytes.lua

local hasCursor = ARGV[1] ~= ''
local afterScore = hasCursor and tonumber(ARGV[1]) or nil
local afterId = ARGV[2]
local limit = tonumber(ARGV[3])

-- Candidates by due score; a claimed event's score is its lease end, and it is skipped below.
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
local rows = {}
for i = 1, #ids do
  local score = tonumber(redis.call('ZSCORE', KEYS[2], ids[i]))
  if score and (not hasCursor or score > afterScore or (score == afterScore and bytesAfter(ids[i], afterId))) then
    rows[#rows + 1] = { ids[i], score }
  end
end
table.sort(rows, function(x, y)
  if x[2] ~= y[2] then return x[2] < y[2] end
  return bytesAfter(y[1], x[1])
end)

local out = {}
local n = 0
for i = 1, #rows do
  local packed = redis.call('HGET', KEYS[1], rows[i][1])
  if packed and isPending(packed) then
    out[3 * n + 1], out[3 * n + 2], out[3 * n + 3] = rows[i][1], rows[i][2], packed
    n = n + 1
    if n >= limit then break end
  end
end
return out
