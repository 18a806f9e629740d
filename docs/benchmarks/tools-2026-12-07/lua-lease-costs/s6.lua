-- old shape (85408f0), 10 leases: HMGET, SMEMBERS, 2 live ZREM, HSET, ZREM due, ZADD gone, PEXPIRE, ZADD outbox, HGETALL
local out = {}
for i = 0, 9 do
  local k = 'lease:{' .. i .. '}'
  local f = redis.call('HMGET', k, 's', 'e', 'i', 'b', 'n', 'a', 't', 'k')
  redis.call('SMEMBERS', 'children:{' .. i .. '}')
  redis.call('ZREM', 'la', tostring(i))
  redis.call('ZREM', 'lt', tostring(i))
  redis.call('HSET', k, 's', '0', 'ra', '1765100000000')
  redis.call('ZREM', 'due', tostring(i))
  redis.call('ZADD', 'gone', '1765100000000', tostring(i))
  redis.call('PEXPIRE', k, 3600000)
  redis.call('ZADD', 'unaudited', '1765100000000', tostring(i))
  if i == 0 then redis.call('SADD', 'owners', 'o') end
  out[#out + 1] = tostring(i) out[#out + 1] = redis.call('HGETALL', k)
end
return out
