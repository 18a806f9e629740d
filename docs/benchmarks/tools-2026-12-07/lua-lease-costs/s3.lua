-- 10 x HGETALL turned into a Lua table by name, one value returned per lease
local out = {}
for i = 0, 9 do
  local h = redis.call('HGETALL', 'lease:{' .. i .. '}')
  local m = {}
  for j = 1, #h, 2 do m[h[j]] = h[j + 1] end
  out[#out + 1] = m.s
end
return out
