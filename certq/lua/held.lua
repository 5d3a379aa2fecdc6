-- Tasks that could start and have waited past a limit: with a slot free,
-- their message is most likely held, unstarted, by a busy worker. Only the
-- highest priority that has such tasks is looked at (lower ones would give
-- way to it anyway), and a task sent out again recently is left to arrive.
-- KEYS: the waiting sets, highest priority first
-- ARGV: waited-since cutoff ms, now ms, task key prefix, semaphore key
--       prefix, caps json, at most this many ids
local caps = cjson.decode(ARGV[5])
local cutoff = tonumber(ARGV[1])
for i = 1, #KEYS do
  local ids = startable_waiting(KEYS[i], cutoff, ARGV[3], ARGV[4], caps, tonumber(ARGV[2]))
  if #ids > 0 then
    local found = {}
    for _, id in ipairs(ids) do
      local last = tonumber(redis.call('HGET', ARGV[3] .. id, 'redispatched_at') or '0')
      if last <= cutoff and #found < tonumber(ARGV[6]) then table.insert(found, id) end
    end
    return found
  end
end
return {}
