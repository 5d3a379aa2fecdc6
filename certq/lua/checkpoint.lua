-- Store resumable state; say whether the run must stop here: 'cancel',
-- 'preempt' (higher work could start and no slot is free), 'lost' (this run
-- is no longer the task's), or 'ok'.
-- KEYS: task, then the waiting sets of every higher priority
-- ARGV: run token, state json or '', preempt for work waiting since before
--       (ms), max preemptions, id of higher work prefetched in this process
--       or '', its dispatch, claim ttl ms, claim key prefix, task key prefix,
--       semaphore key prefix, caps json, now ms
local t = KEYS[1]
local f = redis.call('HMGET', t, 'status', 'run', 'cancel', 'preemptions')
if f[1] ~= 'running' or f[2] ~= ARGV[1] then return 'lost' end
if ARGV[2] ~= '' then redis.call('HSET', t, 'checkpoint', ARGV[2]) end
if f[3] == '1' then return 'cancel' end
if tonumber(f[4] or '0') >= tonumber(ARGV[4]) then return 'ok' end
local caps = cjson.decode(ARGV[11])
local now = tonumber(ARGV[12])

-- One waiting task makes one run yield, wherever that run is: the claim key.
local function claim(id)
  return redis.call('SET', ARGV[8] .. id, '1', 'NX', 'PX', ARGV[7])
end

-- Higher work this process prefetched: yield at once if it can really start
-- (not a stale message, not at its cap).
if ARGV[5] ~= '' then
  local w = redis.call('HMGET', ARGV[9] .. ARGV[5], 'status', 'dispatch')
  if w[1] == 'pending' and w[2] == ARGV[6]
      and startable(ARGV[9], ARGV[10], caps, ARGV[5], now) and claim(ARGV[5]) then
    return 'preempt'
  end
end
-- Higher work elsewhere: yield once it has waited a while.
for i = 2, #KEYS do
  for _, id in ipairs(startable_waiting(KEYS[i], ARGV[3], ARGV[9], ARGV[10], caps, now)) do
    if claim(id) then return 'preempt' end
  end
end
return 'ok'
