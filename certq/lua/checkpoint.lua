-- Store resumable state; say whether the task must stop (cancel or preempt).
-- KEYS: task, then the waiting sets of every higher priority
-- ARGV: dispatch, state json or '', preempt if waiting since before (ms),
--       max preemptions, local preempt '1'/'0', claim ttl ms, claim key prefix
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'dispatch', 'cancel', 'preemptions')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then return 'lost' end
if ARGV[2] ~= '' then redis.call('HSET', t, 'checkpoint', ARGV[2]) end
if f[3] == '1' then return 'cancel' end
if tonumber(f[4] or '0') >= tonumber(ARGV[4]) then return 'ok' end
if ARGV[5] == '1' then return 'preempt' end
for i = 2, #KEYS do
  local waiting = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', ARGV[3], 'LIMIT', 0, 1)
  if waiting[1] and redis.call('SET', ARGV[7] .. waiting[1], '1', 'NX', 'PX', ARGV[6]) then
    return 'preempt'
  end
end
return 'ok'
