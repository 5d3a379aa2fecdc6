-- The scheduler found a running task whose worker stopped beating: its run is
-- over (see lose_run); its message is redelivered if it goes back to pending.
-- KEYS: task, audit, running, waiting, semaphore
-- ARGV: dead worker id, now ms, worker-lost error json
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'worker')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then
  return 'ignored'
end
return lose_run(t, KEYS[2], KEYS[3], KEYS[5], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
