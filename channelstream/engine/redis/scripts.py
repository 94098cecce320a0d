"""The Lua scripts of the Redis engine: each one is a single atomic step of the contract.

Every script takes the key prefix as ARGV[1] and builds its keys from it (the layout is in
``channelstream.engine.redis``'s docstring); KEYS[1] is the bus (the pub/sub channel the
publish script publishes on), which also lets a cluster-aware client route the call (all
keys share one hash tag, see docs/cluster.md). Nothing here decodes JSON: payloads are
handled as strings so that numbers and empty arrays pass through byte for byte.
"""

from __future__ import annotations

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

ENSURE_CHANNEL = """
local P, name = ARGV[1], ARGV[2]
local ck = P .. 'c:' .. name
local cfg = redis.call('HGET', ck, 'cfg')
if cfg then return {cfg, 0} end
redis.call('HSET', ck, 'cfg', ARGV[3], 'sf', ARGV[4], 'sh', ARGV[5], 'hs', ARGV[6],
           'created', ARGV[7], 'uuid', ARGV[8], 'epoch', ARGV[9], 'off', 0, 'floor', 0)
redis.call('ZADD', P .. 'channels', ARGV[7], name)
return {ARGV[3], 1}
"""

JOIN = """
local P, name, conn, user, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ck = P .. 'c:' .. name
if redis.call('EXISTS', ck) == 0 then return redis.error_reply('unknown channel') end
redis.call('ZADD', P .. 'channels', now, name)
local epoch = redis.call('HGET', ck, 'epoch')
local off = redis.call('HGET', ck, 'off')
local joined = redis.call('HSETNX', P .. 'cm:' .. name, conn, user)
local first = 0
if joined == 1 then
  if redis.call('HINCRBY', P .. 'cu:' .. name, user, 1) == 1 then first = 1 end
  if redis.call('EXISTS', P .. 'k:' .. conn) == 1 then
    redis.call('SADD', P .. 'kc:' .. conn, name)
    redis.call('HSET', P .. 'kp:' .. conn, 'c:' .. name, '["' .. epoch .. '",' .. off .. ']')
  end
end
return {joined, first, epoch, tonumber(off)}
"""

LEAVE = """
local P, name, conn, user, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('SREM', P .. 'kc:' .. conn, name)
if redis.call('EXISTS', P .. 'c:' .. name) == 0 then return {0, 0} end
local member = redis.call('HGET', P .. 'cm:' .. name, conn)
if member ~= user then return {0, 0} end
redis.call('HDEL', P .. 'cm:' .. name, conn)
redis.call('ZADD', P .. 'channels', now, name)
if redis.call('HINCRBY', P .. 'cu:' .. name, user, -1) <= 0 then
  redis.call('HDEL', P .. 'cu:' .. name, user)
  return {1, 1}
end
return {1, 0}
"""

COLLECT_CHANNELS = """
local P = ARGV[1]
local gone = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', P .. 'channels', '-inf', '(' .. ARGV[2])) do
  if redis.call('HLEN', P .. 'cm:' .. name) == 0 then
    redis.call('DEL', P .. 'c:' .. name, P .. 'cm:' .. name, P .. 'cu:' .. name,
               P .. 'ch:' .. name, P .. 'cl:' .. name)
    redis.call('ZREM', P .. 'channels', name)
    table.insert(gone, name)
  end
end
return gone
"""

# Stamp, keep and fan out in one step: the PUBLISH happens inside the script, so every node
# receives a stream's events in offset order. The payload gets its offset and epoch appended
# as text (it always ends with "}"), so the kept and published bytes are exactly what a
# client receives.
PUBLISH = """
local P, kind, name = ARGV[1], ARGV[2], ARGV[3]
local meta, logk
if kind == 'c' then
  meta = P .. 'c:' .. name
  if redis.call('EXISTS', meta) == 0 then return false end
  redis.call('ZADD', P .. 'channels', ARGV[6], name)
  logk = P .. 'cl:' .. name
else
  meta = P .. 'd:' .. name
  redis.call('HSETNX', meta, 'epoch', ARGV[10])
  logk = P .. 'dl:' .. name
end
local off = redis.call('HINCRBY', meta, 'off', 1)
local epoch = redis.call('HGET', meta, 'epoch')
local p = ARGV[5]
local tail = '"offset":' .. off .. ',"epoch":"' .. epoch .. '"}'
if p == '{}' then p = '{' .. tail else p = string.sub(p, 1, -2) .. ',' .. tail end
local entry = ARGV[4] .. '\\n' .. p
local keep = true
if kind == 'c' then keep = redis.call('HGET', meta, 'sf') == '1' end
if keep then
  redis.call('ZADD', logk, off, entry)
  local extra = redis.call('ZCARD', logk) - tonumber(ARGV[9])
  if extra > 0 then
    local popped = redis.call('ZPOPMIN', logk, extra)
    redis.call('HSET', meta, 'floor', popped[#popped])
  end
end
if kind == 'c' and ARGV[8] == '1' and redis.call('HGET', meta, 'sh') == '1' then
  local size = tonumber(redis.call('HGET', meta, 'hs') or '0')
  if size > 0 then
    redis.call('RPUSH', P .. 'ch:' .. name, p)
    redis.call('LTRIM', P .. 'ch:' .. name, -size, -1)
  end
end
if ARGV[7] == '1' then redis.call('HINCRBY', P .. 'counters', 'total_unique_messages', 1) end
redis.call('PUBLISH', KEYS[1], 'E' .. entry)
return {off, epoch}
"""

# Answers {epoch, offset, gap, entries}; a direct stream comes to life on first use.
REPLAY = """
local P, kind, name = ARGV[1], ARGV[2], ARGV[3]
local meta, logk
if kind == 'c' then
  meta = P .. 'c:' .. name
  logk = P .. 'cl:' .. name
  if redis.call('EXISTS', meta) == 0 then return {'', 0, '', {}} end
else
  meta = P .. 'd:' .. name
  logk = P .. 'dl:' .. name
  redis.call('HSETNX', meta, 'epoch', ARGV[4])
end
local epoch = redis.call('HGET', meta, 'epoch')
local off = tonumber(redis.call('HGET', meta, 'off') or '0')
if ARGV[5] == '0' then return {epoch, off, '', {}} end
if ARGV[6] ~= epoch then return {epoch, off, 'epoch', redis.call('ZRANGE', logk, 0, -1)} end
local floor = tonumber(redis.call('HGET', meta, 'floor') or '0')
local after = tonumber(ARGV[7])
if after < floor then return {epoch, off, 'window', redis.call('ZRANGE', logk, 0, -1)} end
return {epoch, off, '', redis.call('ZRANGEBYSCORE', logk, '(' .. after, '+inf')}
"""

ADD_CONNECTION = (
    _SNAPSHOT
    + """
local P, conn, user, now, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local kk = P .. 'k:' .. conn
if redis.call('EXISTS', kk) == 1 then
  redis.call('HSET', kk, 'disc', 0)
  redis.call('SREM', P .. 'disc', conn)
else
  redis.call('HSET', kk, 'user', user, 'disc', 0, 'node', node)
  redis.call('SADD', P .. 'uc:' .. user, conn)
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

REMOVE_CONNECTION = (
    _SNAPSHOT
    + """
local P, conn = ARGV[1], ARGV[2]
local snap = snapshot(P, conn)
if not snap then
  redis.call('HDEL', P .. 'claims', conn)
  redis.call('SREM', P .. 'disc', conn)
  redis.call('ZREM', P .. 'conns', conn)
  return false
end
redis.call('DEL', P .. 'k:' .. conn, P .. 'kc:' .. conn, P .. 'kp:' .. conn)
redis.call('ZREM', P .. 'conns', conn)
redis.call('SREM', P .. 'disc', conn)
redis.call('HDEL', P .. 'claims', conn)
redis.call('SREM', P .. 'uc:' .. snap[1], conn)
if snap[4] ~= '' then redis.call('SREM', P .. 'nc:' .. snap[4], conn) end
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

# Change a channel's config if it is still the one the caller read (compare and set on the
# ``cfg`` field only, so that concurrent publishes to the channel never force a retry).
SET_CONFIG = """
local P, name = ARGV[1], ARGV[2]
local ck = P .. 'c:' .. name
local current = redis.call('HGET', ck, 'cfg')
if not current then return -1 end
if current ~= ARGV[3] then return 0 end
redis.call('HSET', ck, 'cfg', ARGV[4], 'sf', ARGV[5], 'sh', ARGV[6], 'hs', ARGV[7])
local size = tonumber(ARGV[7])
if size > 0 then
  redis.call('LTRIM', P .. 'ch:' .. name, -size, -1)
else
  redis.call('DEL', P .. 'ch:' .. name)
end
return 1
"""

# Replace (or, with an empty replacement, remove) exact items of a window and of a history
# in place: ARGV[2] the window key, ARGV[3] the old member, ARGV[4] its replacement, ARGV[5]
# its score, ARGV[6] the history key, then (old item, replacement) pairs. An item that left
# meanwhile (trimmed by a publish) is simply not found. Answers how many were changed.
REWRITE = """
local logk, old, new, score, histk = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local changed = 0
if old ~= '' and redis.call('ZREM', logk, old) == 1 then
  changed = changed + 1
  if new ~= '' then redis.call('ZADD', logk, score, new) end
end
for i = 7, #ARGV, 2 do
  local at = redis.call('LPOS', histk, ARGV[i])
  if at then
    changed = changed + 1
    if ARGV[i + 1] == '' then
      redis.call('LREM', histk, 1, ARGV[i])
    else
      redis.call('LSET', histk, at, ARGV[i + 1])
    end
  end
end
return changed
"""
