-- Record progress of a running task; step and percent never go back.
-- KEYS: task
-- ARGV: run token, step, total steps, message json, messages kept
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'run', 'step', 'percent', 'messages',
  'cancel', 'total_steps')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then return 'ignored' end
local step = math.max(tonumber(ARGV[2]), tonumber(f[3] or '0'))
local total = tonumber(ARGV[3])
if total <= 0 then total = tonumber(f[7] or '0') end
local percent = tonumber(f[4] or '0')
if total > 0 then
  percent = math.max(percent, math.min(100, math.floor(step * 100 / total)))
end
local messages = cjson.decode(f[5] or '[]')
if ARGV[4] ~= '' then
  table.insert(messages, cjson.decode(ARGV[4]))
  while #messages > tonumber(ARGV[5]) do table.remove(messages, 1) end
end
redis.call('HSET', t, 'step', step, 'total_steps', total, 'percent', percent,
  'messages', cjson.encode(messages))
redis.call('HINCRBY', t, 'version', 1)
return f[6] or '0'
