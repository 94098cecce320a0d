"""Users, connections and nodes: records, activity, positions, collection, heartbeats."""

from __future__ import annotations

from channelstream.engine.redis.scripts.outbox import RECORD

# A connection's record as one reply: user, last_active, disconnected, node, channels, then
# the position fields and values flattened ("c:<channel>" / "d" -> "[epoch, offset]").
_SNAPSHOT = """
local function snapshot(P, conn)
  local kk = P .. 'k:' .. conn
  local rec = redis.call('HMGET', kk, 'user', 'disc', 'node')
  if not rec[1] then return false end
  local seen = redis.call('ZSCORE', P .. 'conns', conn) or '0'
  return {rec[1], seen, rec[2] or '0', rec[3] or '',
          redis.call('SMEMBERS', P .. 'kc:' .. conn),
          redis.call('HGETALL', P .. 'kp:' .. conn)}
end
"""


# ARGV[7] is the most connections the user may hold (0: any number). A new one past it is
# refused with the number the user holds (an integer, where a record is a table); those
# marked disconnected do not count, nor stand-ins (RETIRE_CONNECTION). Counted and added in
# this one step: two nodes cannot both admit the last place. ARGV[8..10]: what to record in
# the outbox (keep, cap, ms; see ``outbox.RECORD``).
ADD_CONNECTION = (
    _SNAPSHOT
    + RECORD
    + """
local P, conn, user, now, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local limit = tonumber(ARGV[7])
local kk = P .. 'k:' .. conn
if redis.call('EXISTS', kk) == 1 then
  redis.call('HSET', kk, 'disc', 0)
  redis.call('SREM', P .. 'disc', conn)
else
  if limit > 0 then
    local held = redis.call('SCARD', P .. 'uc:' .. user)
    if held >= limit then
      for _, other in ipairs(redis.call('SMEMBERS', P .. 'uc:' .. user)) do
        if redis.call('SISMEMBER', P .. 'disc', other) == 1
           or redis.call('HEXISTS', P .. 'k:' .. other, 'standin') == 1 then
          held = held - 1
        end
      end
      if held >= limit then return held end
    end
  end
  redis.call('HSET', kk, 'user', user, 'disc', 0, 'node', node)
  redis.call('SADD', P .. 'uc:' .. user, conn)
  if ARGV[8] ~= '' and redis.call('SCARD', P .. 'uc:' .. user) == 1 then
    record(P, ARGV[8], ARGV[9], ARGV[10], 'user_online', '', user)
  end
  redis.call('SADD', P .. 'nc:' .. node, conn)
  local dm = P .. 'd:' .. user
  redis.call('HSETNX', dm, 'epoch', ARGV[6])
  local off = redis.call('HGET', dm, 'off') or '0'
  redis.call('HSET', P .. 'kp:' .. conn, 'd',
             '["' .. redis.call('HGET', dm, 'epoch') .. '",' .. off .. ']')
end
redis.call('ZADD', P .. 'conns', now, conn)
redis.call('HDEL', P .. 'claims', conn)
return snapshot(P, conn)
"""
)


GET_CONNECTION = (
    _SNAPSHOT
    + """
return snapshot(ARGV[1], ARGV[2])
"""
)


GET_CONNECTIONS = (
    _SNAPSHOT
    + """
local found = {}
for i = 2, #ARGV do
  local snap = snapshot(ARGV[1], ARGV[i])
  if snap then table.insert(found, ARGV[i]); table.insert(found, snap) end
end
return found
"""
)


# Activity of connections attached on this node (ARGV[3]): they and their users are busy,
# and this node now holds them (a node that dies takes them along).
TOUCH = """
local P, now, node = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local conn = ARGV[i]
  local kk = P .. 'k:' .. conn
  local user = redis.call('HGET', kk, 'user')
  if user then
    redis.call('ZADD', P .. 'conns', now, conn)
    redis.call('ZADD', P .. 'users', 'XX', now, user)
    if node ~= '' then
      local old = redis.call('HGET', kk, 'node')
      if old ~= node then
        if old then redis.call('SREM', P .. 'nc:' .. old, conn) end
        redis.call('HSET', kk, 'node', node)
        redis.call('SADD', P .. 'nc:' .. node, conn)
      end
    end
  end
end
return 1
"""


MARK_DISCONNECTED = """
local P, conn = ARGV[1], ARGV[2]
if redis.call('EXISTS', P .. 'k:' .. conn) == 0 then return 0 end
redis.call('HSET', P .. 'k:' .. conn, 'disc', 1)
redis.call('SADD', P .. 'disc', conn)
return 1
"""


SAVE_POSITIONS = """
local P, conn = ARGV[1], ARGV[2]
if redis.call('EXISTS', P .. 'k:' .. conn) == 0 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', P .. 'kp:' .. conn, ARGV[i], ARGV[i + 1]) end
return 1
"""


# Connections to collect: marked disconnected, idle since before ARGV[2], or held by a node
# whose heartbeat key expired. Each is claimed for ARGV[3] seconds (Redis' clock) so that the
# nodes' concurrent passes do not all collect the same connections.
COLLECTABLE = """
local P, cutoff, lease, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local found, seen = {}, {}
local function consider(conn)
  if seen[conn] then return end
  seen[conn] = true
  if tonumber(redis.call('HGET', P .. 'claims', conn) or '0') > now then return end
  redis.call('HSET', P .. 'claims', conn, tostring(now + lease))
  table.insert(found, conn)
end
for _, conn in ipairs(redis.call('SMEMBERS', P .. 'disc')) do consider(conn) end
for _, conn in ipairs(redis.call('ZRANGEBYSCORE', P .. 'conns', '-inf', '(' .. cutoff,
                                 'LIMIT', 0, limit)) do
  consider(conn)
end
for _, node in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
  if redis.call('EXISTS', P .. 'n:' .. node) == 0 then
    local conns = redis.call('SMEMBERS', P .. 'nc:' .. node)
    if #conns == 0 then
      redis.call('SREM', P .. 'nodes', node)
    else
      for _, conn in ipairs(conns) do consider(conn) end
    end
  end
end
return found
"""


# Drops a connection's own keys and its places in the indexes (not its memberships).
_FORGET = """
local function forget(P, conn, snap)
  redis.call('DEL', P .. 'k:' .. conn, P .. 'kc:' .. conn, P .. 'kp:' .. conn)
  redis.call('ZREM', P .. 'conns', conn)
  redis.call('SREM', P .. 'disc', conn)
  redis.call('HDEL', P .. 'claims', conn)
  redis.call('SREM', P .. 'uc:' .. snap[1], conn)
  if snap[4] ~= '' then redis.call('SREM', P .. 'nc:' .. snap[4], conn) end
end
"""


# ARGV[3..5]: what to record in the outbox (keep, cap, ms).
REMOVE_CONNECTION = (
    _SNAPSHOT
    + _FORGET
    + RECORD
    + """
local P, conn = ARGV[1], ARGV[2]
local snap = snapshot(P, conn)
if not snap then
  redis.call('HDEL', P .. 'claims', conn)
  redis.call('SREM', P .. 'disc', conn)
  redis.call('ZREM', P .. 'conns', conn)
  return false
end
forget(P, conn, snap)
if ARGV[3] ~= '' and redis.call('SCARD', P .. 'uc:' .. snap[1]) == 0 then
  record(P, ARGV[3], ARGV[4], ARGV[5], 'user_offline', '', snap[1])
end
return snap
"""
)


# The connection ARGV[2] gives way to a stand-in ARGV[3] (no socket, no node) that holds its
# memberships and its place among the user's connections, active at ARGV[4] (so that the
# idle rule collects it later): presence_grace. Records nothing; answers the connection.
RETIRE_CONNECTION = (
    _SNAPSHOT
    + _FORGET
    + """
local P, conn, held, seen = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local snap = snapshot(P, conn)
if not snap then return false end
local user = snap[1]
redis.call('HSET', P .. 'k:' .. held, 'user', user, 'disc', 0, 'node', '', 'standin', 1)
for _, name in ipairs(snap[5]) do
  if redis.call('HGET', P .. 'cm:' .. name, conn) == user then
    redis.call('HDEL', P .. 'cm:' .. name, conn)
    redis.call('HSET', P .. 'cm:' .. name, held, user)
    redis.call('SADD', P .. 'kc:' .. held, name)
  end
end
redis.call('SADD', P .. 'uc:' .. user, held)
redis.call('ZADD', P .. 'conns', seen, held)
forget(P, conn, snap)
return snap
"""
)


COLLECT_USERS = """
local P = ARGV[1]
local gone = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', P .. 'users', '-inf', '(' .. ARGV[2])) do
  if redis.call('SCARD', P .. 'uc:' .. name) == 0 then
    redis.call('DEL', P .. 'u:' .. name, P .. 'uc:' .. name, P .. 'd:' .. name, P .. 'dl:' .. name)
    redis.call('ZREM', P .. 'users', name)
    table.insert(gone, name)
  end
end
return gone
"""


# The node's heartbeat: its key lives node_ttl seconds; its value says since when the node
# has been in touch with Redis without interruption.
NODE_HEARTBEAT = """
local P, node, since, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SADD', P .. 'nodes', node)
redis.call('SET', P .. 'n:' .. node, since, 'EX', ttl)
return 1
"""


USER_CHANNELS = """
local P, user = ARGV[1], ARGV[2]
local names, found = {}, {}
for _, conn in ipairs(redis.call('SMEMBERS', P .. 'uc:' .. user)) do
  for _, name in ipairs(redis.call('SMEMBERS', P .. 'kc:' .. conn)) do
    if not found[name] then found[name] = true; table.insert(names, name) end
  end
end
return names
"""
