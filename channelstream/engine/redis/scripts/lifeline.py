"""Noticing that Redis lost its data (a restart without persistence, a flush) and mending
what can be mended (see ``channelstream.engine.redis.lifeline``)."""

from __future__ import annotations

# Which life of the shared state this is: ``life`` holds an id that only a data loss
# removes. ARGV[2] is the life this node knew ('' at its start), ARGV[3] a new id, ARGV[4]
# the recovery window in seconds. Answers {life, lost}: lost is 1 when this node knew
# another life. The first node to see a loss starts the window (``recovering``) during
# which a publish to an unknown channel is refused: nodes may still have listeners for it.
LIFE = """
local P, known, new, window = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local life = redis.call('GET', P .. 'life')
if not life then
  redis.call('SET', P .. 'life', new)
  life = new
end
if known ~= '' and life ~= known then
  redis.call('SET', P .. 'recovering', life, 'EX', window)
  return {life, 1}
end
return {life, 0}
"""

# Users who were in presence channels before the loss and have not come back: each gets a
# connection record marked disconnected, in those channels, so that the next collection
# pass (any node's) sends their `parted` once, as for any connection that went away.
# ARGV[2] the life, ARGV[3] how long to remember what was restored, then (channel, user)
# pairs. The `restored` set makes every node's attempt after the first a no-op.
RESTORE_LOST = """
local P, life = ARGV[1], ARGV[2]
local done = P .. 'restored:' .. life
local made = 0
for i = 4, #ARGV, 2 do
  local name, user = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', P .. 'c:' .. name) == 1
     and redis.call('HEXISTS', P .. 'cu:' .. name, user) == 0
     and redis.call('SADD', done, name .. '\\n' .. user) == 1 then
    local conn = 'lost:' .. life .. ':' .. user
    local kk = P .. 'k:' .. conn
    if redis.call('EXISTS', kk) == 0 then
      redis.call('HSET', kk, 'user', user, 'disc', 1, 'node', '')
      redis.call('SADD', P .. 'uc:' .. user, conn)
      redis.call('SADD', P .. 'disc', conn)
      redis.call('ZADD', P .. 'conns', 0, conn)
    end
    redis.call('SADD', P .. 'kc:' .. conn, name)
    redis.call('HSET', P .. 'cm:' .. name, conn, user)
    redis.call('HINCRBY', P .. 'cu:' .. name, user, 1)
    made = made + 1
  end
end
redis.call('EXPIRE', done, ARGV[3])
return made
"""
