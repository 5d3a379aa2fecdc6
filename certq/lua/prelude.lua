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

-- A task that reached a terminal state needs its secret params no more.
local function end_task(task_key, status, now)
  redis.call('HSET', task_key, 'status', status, 'finished_at', now, 'version', now)
  redis.call('HDEL', task_key, 'secrets')
end
