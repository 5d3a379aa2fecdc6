-- Claim a pending task for one run, or say why the message must be dropped.
-- KEYS: task, audit, running, semaphore, waiting, then the waiting sets of
--       every higher priority (a free slot never starts lower work while
--       higher work is runnable)
-- ARGV: dispatch, worker id, now ms, worker key prefix, cap, slot expiry ms,
--       worker-lost error json
local t = KEYS[1]
if redis.call('EXISTS', t) == 0 then return {'missing'} end
local f = redis.call('HMGET', t, 'status', 'dispatch', 'worker', 'attempts',
  'max_attempts', 'free_start', 'id', 'checkpoint')
local status, id = f[1], f[7]
local attempts, max_attempts = tonumber(f[4]), tonumber(f[5])
local now = tonumber(ARGV[3])
if f[2] ~= ARGV[1] then return {'stale', status} end
if status == 'running' then
  if redis.call('EXISTS', ARGV[4] .. f[3]) == 1 then return {'duplicate', status} end
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
  if attempts >= max_attempts then
    append_error(t, ARGV[7])
    end_task(t, 'failed', now)
    redis.call('EXPIRE', t, redis.call('HGET', t, 'result_ttl'))
    emit(t, KEYS[2], 'worker_lost', 'failed', now, {worker = f[3]})
    emit(t, KEYS[2], 'failed', 'failed', now, cjson.decode(ARGV[7]))
    return {'failed'}
  end
  -- The run on the dead worker is over: the task is pending again, whatever
  -- this message decides next.
  redis.call('HSET', t, 'status', 'pending', 'worker', '', 'version', now)
  redis.call('ZADD', KEYS[5], now, id)
  emit(t, KEYS[2], 'worker_lost', 'pending', now, {worker = f[3]})
  status = 'pending'
end
if status ~= 'pending' then return {'skip', status} end
for i = 6, #KEYS do
  if redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now, 'LIMIT', 0, 1)[1] then
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
if f[6] ~= '1' then attempts = attempts + 1 end
local resumed = (f[8] or '') ~= ''
redis.call('HSET', t, 'status', 'running', 'worker', ARGV[2], 'started_at', now,
  'attempts', attempts, 'free_start', '0', 'next_attempt_at', '', 'version', now)
redis.call('HSETNX', t, 'first_started_at', now)
redis.call('ZREM', KEYS[5], id)
redis.call('HSET', KEYS[3], id, ARGV[2])
emit(t, KEYS[2], 'started', 'running', now, {worker = ARGV[2], resumed = resumed})
return {'run', unpack(redis.call('HGETALL', t))}
