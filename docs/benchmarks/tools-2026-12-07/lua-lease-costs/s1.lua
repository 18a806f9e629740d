-- 10 x HGETALL, the hashes returned as they are
local out = {}
for i = 0, 9 do out[#out + 1] = redis.call('HGETALL', 'lease:{' .. i .. '}') end
return out
