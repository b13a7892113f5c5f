--[[
  Reads one event, pending or claimed.

  KEYS[1] events hash
  KEYS[2] due index

  ARGV[1] delayId

  Returns { record, due score } (the record as stored; a claimed one holds its own send time), or nil.
]]
local packed = redis.call('HGET', KEYS[1], ARGV[1])
if not packed then return false end
return { packed, redis.call('ZSCORE', KEYS[2], ARGV[1]) }
