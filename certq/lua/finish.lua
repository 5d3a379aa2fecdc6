-- Move a running task to a terminal state, once; late calls change nothing.
-- KEYS: task, audit, running, result, semaphore
-- ARGV: run token, outcome, now ms, result payload or '', result ttl seconds,
--       error json or '', result size bytes
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'run')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then return {'ignored', f[1] or ''} end
local detail = {}
if ARGV[6] ~= '' then
  append_error(t, ARGV[6])
  detail = cjson.decode(ARGV[6])
end
release_run(t, KEYS[3], KEYS[5])
end_task(t, ARGV[2], ARGV[3])
if ARGV[2] == 'completed' then
  redis.call('HSET', t, 'percent', 100, 'result_bytes', ARGV[7])
  redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[5])
  detail = {result_bytes = tonumber(ARGV[7])}
end
emit(t, KEYS[2], ARGV[2], ARGV[2], ARGV[3], detail)
return {'done', ARGV[2]}
