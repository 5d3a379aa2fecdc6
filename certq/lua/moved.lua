-- A delayed message became due and dramatiq moved it to the main queue under
-- a new id: remember that id, so the orphan sweep finds the message.
-- KEYS: task
-- ARGV: dispatch, message id, queue key
local f = redis.call('HMGET', KEYS[1], 'status', 'dispatch')
if f[1] ~= 'pending' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'message_id', ARGV[2], 'message_queue', ARGV[3])
return 1
