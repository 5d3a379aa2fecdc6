-- The scheduler found a running task whose worker stopped beating: return it
-- to pending (its message is redelivered) or fail it when attempts are spent.
-- KEYS: task, audit, running, waiting, semaphore
-- ARGV: dead worker id, now ms, worker-lost error json
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'worker', 'attempts', 'max_attempts', 'id')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then
  return 'ignored'
end
redis.call('HDEL', KEYS[3], f[5])
redis.call('ZREM', KEYS[5], f[5])
emit(t, KEYS[2], 'worker_lost', 'pending', ARGV[2], {worker = ARGV[1]})
if tonumber(f[3]) >= tonumber(f[4]) then
  append_error(t, ARGV[3])
  end_task(t, 'failed', ARGV[2])
  redis.call('EXPIRE', t, redis.call('HGET', t, 'result_ttl'))
  emit(t, KEYS[2], 'failed', 'failed', ARGV[2], cjson.decode(ARGV[3]))
  return 'failed'
end
redis.call('HSET', t, 'status', 'pending', 'worker', '', 'version', ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[2], f[5])
return 'pending'
