-- new shape (fc435e3), 10 leases: HGETALL + table, SMEMBERS, HSET, PEXPIRE, fields rewritten; shared writes once
local out, due, gone, live = {}, {}, {}, {}
for i = 0, 9 do
  local k = 'lease:{' .. i .. '}'
  local h = redis.call('HGETALL', k)
  local m = {}
  for j = 1, #h, 2 do m[h[j]] = h[j + 1] end
  redis.call('SMEMBERS', 'children:{' .. i .. '}')
  redis.call('HSET', k, 's', '0', 'ra', '1765100000000')
  redis.call('PEXPIRE', k, 3600000)
  local o = {}
  for j = 1, #h, 2 do o[#o + 1] = h[j] o[#o + 1] = (h[j] == 's') and '2' or h[j + 1] end
  o[#o + 1] = 'ra' o[#o + 1] = '1765100000000'
  out[#out + 1] = tostring(i) out[#out + 1] = o
  due[#due + 1] = tostring(i) gone[#gone + 1] = '1765100000000' gone[#gone + 1] = tostring(i)
end
redis.call('ZREM', 'due', unpack(due))
redis.call('ZADD', 'gone', unpack(gone))
redis.call('ZREM', 'la', unpack(due))
redis.call('ZREM', 'lt', unpack(due))
redis.call('ZADD', 'unaudited', unpack(gone))
redis.call('SADD', 'owners', 'o')
return out
