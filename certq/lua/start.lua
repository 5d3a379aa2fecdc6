-- Claim a pending task for one run, or say why the message must be dropped.
-- KEYS: task, audit, running, semaphore, waiting, then the waiting sets of
--       every higher priority (a free slot never starts lower work while
--       higher work could start)
-- ARGV: dispatch, worker id, now ms, worker key prefix, cap, slot expiry ms,
--       worker-lost error json, run token, task key prefix, semaphore key
--       prefix, caps json
local t = KEYS[1]
if redis.call('EXISTS', t) == 0 then return {'missing'} end
local f = redis.call('HMGET', t, 'status', 'dispatch', 'worker', 'attempts',
  'free_start', 'id', 'checkpoint')
local status, id = f[1], f[6]
local now = tonumber(ARGV[3])
if f[2] ~= ARGV[1] then return {'stale', status} end
if status == 'running' then
  if redis.call('EXISTS', ARGV[4] .. f[3]) == 1 then return {'duplicate', status} end
  -- The run on the dead worker is over, whatever this message decides next.
  status = lose_run(t, KEYS[2], KEYS[3], KEYS[4], KEYS[5], f[3], now, ARGV[7])
  if status ~= 'pending' then return {status} end
end
if status ~= 'pending' then return {'skip', status} end
local caps = cjson.decode(ARGV[11])
for i = 6, #KEYS do
  if #startable_waiting(KEYS[i], now, ARGV[9], ARGV[10], caps, now) > 0 then
    return {'yield'}
  end
end
local cap = tonumber(ARGV[5])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if redis.call('ZCARD', KEYS[4]) >= cap then return {'capped'} end
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), id)
end
-- A preempted or stopped run continues in the same attempt; any run with a
-- checkpoint (a lost one's too) resumes from it.
local attempts = tonumber(redis.call('HGET', t, 'attempts'))
if f[5] ~= '1' then attempts = attempts + 1 end
local resumed = (f[7] or '') ~= ''
redis.call('HSET', t, 'status', 'running', 'worker', ARGV[2], 'run', ARGV[8],
  'started_at', now, 'attempts', attempts, 'free_start', '0', 'next_attempt_at', '')
redis.call('HINCRBY', t, 'version', 1)
redis.call('HSETNX', t, 'first_started_at', now)
redis.call('ZREM', KEYS[5], id)
redis.call('HSET', KEYS[3], id, ARGV[2])
emit(t, KEYS[2], 'started', 'running', now, {worker = ARGV[2], resumed = resumed})
return {'run', unpack(redis.call('HGETALL', t))}
