-- Shared by every certq script: append one audit event to the outbox list.
local function emit(task_key, audit_key, kind, status, now, detail)
  local seq = redis.call('HINCRBY', task_key, 'seq', 1)
  local f = redis.call('HMGET', task_key, 'id', 'attempts')
  local event = {
    task_id = f[1], seq = seq, kind = kind, status = status,
    at = tonumber(now), attempt = tonumber(f[2] or '0'), detail = detail,
  }
  redis.call('RPUSH', audit_key, cjson.encode(event))
end

local function append_error(task_key, error_json)
  local errors = cjson.decode(redis.call('HGET', task_key, 'errors') or '[]')
  table.insert(errors, cjson.decode(error_json))
  redis.call('HSET', task_key, 'errors', cjson.encode(errors), 'error', error_json)
end

-- A run is over, whatever comes next: the task leaves the running list and
-- its concurrency slot, and no run token names it any more.
local function release_run(task_key, running_key, sem_key)
  local id = redis.call('HGET', task_key, 'id')
  redis.call('HDEL', running_key, id)
  redis.call('ZREM', sem_key, id)
  redis.call('HSET', task_key, 'run', '', 'worker', '')
end

-- Put a task in its terminal state. It needs neither its checkpoint nor its
-- secret params any more, and its hash lives as long as its result.
local function end_task(task_key, status, now)
  redis.call('HSET', task_key, 'status', status, 'finished_at', now, 'checkpoint', '')
  redis.call('HINCRBY', task_key, 'version', 1)
  redis.call('HDEL', task_key, 'secrets')
  redis.call('EXPIRE', task_key, redis.call('HGET', task_key, 'result_ttl'))
end

-- Whether task `id` of a waiting set could start now: it is still pending
-- and its type is not at its cap. `caps` maps task types to their cap; a
-- type it does not name has none.
local function startable(task_prefix, sem_prefix, caps, id, now)
  local f = redis.call('HMGET', task_prefix .. id, 'type', 'status')
  local task_type = f[1]
  if not task_type or f[2] ~= 'pending' then return false end
  local cap = tonumber(caps[task_type] or 0)
  if cap <= 0 then return true end
  return redis.call('ZCOUNT', sem_prefix .. task_type, '(' .. now, '+inf') < cap
end

-- Due tasks of one waiting set that could start now, oldest first. Only the
-- first 20 due are looked at: past that many capped ones, the set counts as
-- blocked, which costs at most a late preemption.
local function startable_waiting(waiting_key, due, task_prefix, sem_prefix, caps, now)
  local found = {}
  local ids = redis.call('ZRANGEBYSCORE', waiting_key, '-inf', due, 'LIMIT', 0, 20)
  for _, id in ipairs(ids) do
    if startable(task_prefix, sem_prefix, caps, id, now) then table.insert(found, id) end
  end
  return found
end

-- The run on a dead worker is over. Its attempt's error is kept; then the
-- task is cancelled if a cancel waits, failed if its attempts are spent, or
-- pending again. Returns which.
local function lose_run(t, audit_key, running_key, sem_key, waiting_key, worker, now,
                        error_json)
  local f = redis.call('HMGET', t, 'id', 'attempts', 'max_attempts', 'cancel')
  release_run(t, running_key, sem_key)
  local lost = cjson.decode(error_json)
  lost.attempt = tonumber(f[2])
  lost.at = tonumber(now)
  append_error(t, cjson.encode(lost))
  local ending = nil
  if f[4] == '1' then
    ending = 'cancelled'
  elseif tonumber(f[2]) >= tonumber(f[3]) then
    ending = 'failed'
  end
  if ending then
    end_task(t, ending, now)
    emit(t, audit_key, 'worker_lost', ending, now, {worker = worker})
    emit(t, audit_key, ending, ending, now, ending == 'failed' and lost or {})
    return ending
  end
  redis.call('HSET', t, 'status', 'pending')
  redis.call('HINCRBY', t, 'version', 1)
  redis.call('ZADD', waiting_key, now, f[1])
  emit(t, audit_key, 'worker_lost', 'pending', now, {worker = worker})
  return 'pending'
end
