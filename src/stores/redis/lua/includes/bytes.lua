-- True when a sorts after b in byte order, as sorted-set ties do. Lua's own `>` on strings uses
-- the server's collation locale, which may differ.
local function bytesAfter(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
