--[[
  How many events are outstanding (pending or claimed: every one is in the due index) and the
  earliest due time; O(1) and O(log N), read on every metrics scrape.

  KEYS[1] due index

  Returns { outstanding, nextDueAtMs|false }.
]]
-- @include includes/due.lua

return { redis.call('ZCARD', KEYS[1]), nextDueAt(KEYS[1]) }
