-- 10 x (HSET, PEXPIRE, SMEMBERS of an absent set), nothing returned
for i = 0, 9 do
  redis.call('HSET', 'lease:{' .. i .. '}', 's', '0', 'ra', '1765100000000')
  redis.call('PEXPIRE', 'lease:{' .. i .. '}', 3600000)
  redis.call('SMEMBERS', 'children:{' .. i .. '}')
end
return 1
