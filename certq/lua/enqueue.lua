-- Create or refresh a pending task and hand its message to the queue.
-- KEYS: task, waiting, queue list, queue msgs
-- ARGV: fields json, task id, waiting score, message id, message data
local fields = cjson.decode(ARGV[1])
for name, value in pairs(fields) do
  redis.call('HSET', KEYS[1], name, tostring(value))
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
redis.call('RPUSH', KEYS[3], ARGV[4])
return 'ok'
