-- 10 x HMGET of 8 fields, one value returned per lease
local out = {}
for i = 0, 9 do out[#out + 1] = redis.call('HMGET', 'lease:{' .. i .. '}', 's', 'e', 'i', 'b', 'n', 'a', 't', 'k')[1] end
return out
