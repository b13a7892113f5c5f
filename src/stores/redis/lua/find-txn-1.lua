--[[
  Looks up a transaction record.

  KEYS[1] transaction record <prefix>:{<tag>}:t:<txnKey>
  ARGV[1] nowMs

  Returns the delayId recorded for the key while it is remembered (expiry after nowMs), else nil.
]]
local record = redis.call('GET', KEYS[1])
if not record then return false end
local colon = string.find(record, ':', 1, true)
if tonumber(string.sub(record, 1, colon - 1)) <= tonumber(ARGV[1]) then return false end
return string.sub(record, colon + 1)
