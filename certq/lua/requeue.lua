-- Send a task back to pending with a fresh message (retry, preemption,
-- shutdown, concurrency cap, ageing); the old message becomes stale.
-- KEYS: task, audit, running, waiting, queue list, queue msgs, semaphore,
--       waiting set it leaves (the same as waiting unless its priority changes)
-- A running task with a cancel waiting ends cancelled here instead.
-- ARGV: expected token (the run's while running, else the message's
--       dispatch), expected status, new dispatch, message id,
--       message data, waiting score, event kind or '', now ms, error json or '',
--       '1' if its next start is no new attempt (else the flag is kept),
--       count preemption '1'/'0', detail json,
--       next attempt ms or '', extra fields json, '1' to go to the queue's front,
--       '1' to keep the time it has waited so far
local t = KEYS[1]
local token = ARGV[2] == 'running' and 'run' or 'dispatch'
local f = redis.call('HMGET', t, 'status', token, 'id', 'cancel')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[1] then return {'ignored', f[1] or ''} end
if ARGV[9] ~= '' then append_error(t, ARGV[9]) end
release_run(t, KEYS[3], KEYS[7])
if f[1] == 'running' and f[4] == '1' then
  end_task(t, 'cancelled', ARGV[8])
  emit(t, KEYS[2], 'cancelled', 'cancelled', ARGV[8], {})
  return {'cancelled'}
end
if ARGV[11] == '1' then redis.call('HINCRBY', t, 'preemptions', 1) end
redis.call('HSET', t, 'status', 'pending', 'dispatch', ARGV[3], 'message_id', ARGV[4],
  'message_queue', KEYS[5], 'next_attempt_at', ARGV[13])
if ARGV[10] == '1' then redis.call('HSET', t, 'free_start', '1') end
redis.call('HINCRBY', t, 'version', 1)
for name, value in pairs(cjson.decode(ARGV[14])) do
  redis.call('HSET', t, name, tostring(value))
end
if KEYS[8] ~= KEYS[4] then redis.call('ZREM', KEYS[8], f[3]) end
if ARGV[16] == '1' then
  redis.call('ZADD', KEYS[4], 'NX', ARGV[6], f[3])
else
  redis.call('ZADD', KEYS[4], ARGV[6], f[3])
end
redis.call('HSET', KEYS[6], ARGV[4], ARGV[5])
if ARGV[15] == '1' then
  redis.call('LPUSH', KEYS[5], ARGV[4])
else
  redis.call('RPUSH', KEYS[5], ARGV[4])
end
if ARGV[7] ~= '' then emit(t, KEYS[2], ARGV[7], 'pending', ARGV[8], cjson.decode(ARGV[12])) end
return {'requeued'}
