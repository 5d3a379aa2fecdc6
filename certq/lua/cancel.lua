-- Cancel a pending task at once, or ask a running one to stop at its next
-- checkpoint. Terminal tasks are left alone.
-- KEYS: task, audit, the waiting sets of every priority (the task's priority
--       may change, by ageing, between the caller's read and this script)
-- ARGV: now ms
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'cancel', 'id')
if not f[1] then return 'missing' end
if f[1] == 'pending' then
  end_task(t, 'cancelled', ARGV[1])
  redis.call('HSET', t, 'cancel', '1')
  for i = 3, #KEYS do redis.call('ZREM', KEYS[i], f[3]) end
  emit(t, KEYS[2], 'cancel_requested', 'pending', ARGV[1], {})
  emit(t, KEYS[2], 'cancelled', 'cancelled', ARGV[1], {})
  return 'cancelled_now'
end
if f[1] == 'running' then
  if f[2] ~= '1' then
    redis.call('HSET', t, 'cancel', '1')
    redis.call('HINCRBY', t, 'version', 1)
    emit(t, KEYS[2], 'cancel_requested', 'running', ARGV[1], {})
  end
  return 'requested'
end
return f[1]
