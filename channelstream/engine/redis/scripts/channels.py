"""Channels and their streams: create, join, leave, collect, publish, replay, rewrite."""

from __future__ import annotations

from channelstream.engine.redis.scripts.outbox import RECORD

ENSURE_CHANNEL = """
local P, name = ARGV[1], ARGV[2]
local ck = P .. 'c:' .. name
local cfg = redis.call('HGET', ck, 'cfg')
if cfg then return {cfg, 0} end
redis.call('HSET', ck, 'cfg', ARGV[3], 'sf', ARGV[4], 'sh', ARGV[5], 'hs', ARGV[6],
           'created', ARGV[7], 'uuid', ARGV[8], 'epoch', ARGV[9], 'off', 0, 'floor', 0)
redis.call('ZADD', P .. 'channels', ARGV[7], name)
if ARGV[10] == '1' then redis.call('SADD', P .. 'pc', name) end
return {ARGV[3], 1}
"""


# ARGV[6..8]: what to record in the outbox (keep, cap, ms; see ``outbox.RECORD``).
JOIN = (
    RECORD
    + """
local P, name, conn, user, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local keep, cap, ms = ARGV[6], ARGV[7], ARGV[8]
local ck = P .. 'c:' .. name
if redis.call('EXISTS', ck) == 0 then return redis.error_reply('unknown channel') end
redis.call('ZADD', P .. 'channels', now, name)
local epoch = redis.call('HGET', ck, 'epoch')
local off = redis.call('HGET', ck, 'off')
local joined = redis.call('HSETNX', P .. 'cm:' .. name, conn, user)
local first = 0
if joined == 1 then
  if keep ~= '' and redis.call('HLEN', P .. 'cm:' .. name) == 1 then
    record(P, keep, cap, ms, 'channel_occupied', name, '')
  end
  if redis.call('HINCRBY', P .. 'cu:' .. name, user, 1) == 1 then
    first = 1
    record(P, keep, cap, ms, 'user_joined', name, user)
  end
  if redis.call('EXISTS', P .. 'k:' .. conn) == 1 then
    redis.call('SADD', P .. 'kc:' .. conn, name)
    redis.call('HSET', P .. 'kp:' .. conn, 'c:' .. name, '["' .. epoch .. '",' .. off .. ']')
  end
end
return {joined, first, epoch, tonumber(off)}
"""
)


# ARGV[6..8]: what to record in the outbox, as for JOIN.
LEAVE = (
    RECORD
    + """
local P, name, conn, user, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local keep, cap, ms = ARGV[6], ARGV[7], ARGV[8]
redis.call('SREM', P .. 'kc:' .. conn, name)
if redis.call('EXISTS', P .. 'c:' .. name) == 0 then return {0, 0} end
local member = redis.call('HGET', P .. 'cm:' .. name, conn)
if member ~= user then return {0, 0} end
redis.call('HDEL', P .. 'cm:' .. name, conn)
redis.call('ZADD', P .. 'channels', now, name)
if redis.call('HINCRBY', P .. 'cu:' .. name, user, -1) <= 0 then
  redis.call('HDEL', P .. 'cu:' .. name, user)
  record(P, keep, cap, ms, 'user_parted', name, user)
  if keep ~= '' and redis.call('HLEN', P .. 'cm:' .. name) == 0 then
    record(P, keep, cap, ms, 'channel_vacated', name, '')
  end
  return {1, 1}
end
return {1, 0}
"""
)


COLLECT_CHANNELS = """
local P = ARGV[1]
local gone = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', P .. 'channels', '-inf', '(' .. ARGV[2])) do
  if redis.call('HLEN', P .. 'cm:' .. name) == 0 then
    redis.call('DEL', P .. 'c:' .. name, P .. 'cm:' .. name, P .. 'cu:' .. name,
               P .. 'ch:' .. name, P .. 'cl:' .. name)
    redis.call('ZREM', P .. 'channels', name)
    redis.call('SREM', P .. 'pc', name)
    table.insert(gone, name)
  end
end
return gone
"""


# Stamp, keep and fan out in one step: the PUBLISH happens inside the script, so every node
# receives a stream's events in offset order. The payload gets its offset and epoch appended
# as text (it always ends with "}"), so the kept and published bytes are exactly what a
# client receives.
#
# A message's uuid (ARGV[11], empty for other events or with no idempotency_window) is
# published once per stream within the window (ARGV[12] seconds, ARGV[13] the same in ms):
# the key ``i:<uuid>:<kind>:<name>`` holds until when it counts (by the callers' clock,
# ARGV[6], as the memory engine's) and the stamped payload; a publish that finds it in
# time changes nothing and answers {0, '', payload}. The key expires with the window, so
# Redis holds what the last window's messages published, no more.
PUBLISH = """
local P, kind, name = ARGV[1], ARGV[2], ARGV[3]
local once = ''
if ARGV[11] ~= '' then
  once = P .. 'i:' .. ARGV[11] .. ':' .. kind .. ':' .. name
  local seen = redis.call('GET', once)
  if seen then
    local cut = string.find(seen, '\\n', 1, true)
    if tonumber(string.sub(seen, 1, cut - 1)) > tonumber(ARGV[6]) then
      return {0, '', string.sub(seen, cut + 1)}
    end
  end
end
local meta, logk
if kind == 'c' then
  meta = P .. 'c:' .. name
  if redis.call('EXISTS', meta) == 0 then
    -- Unknown, or lost with everything else while nodes still have listeners for it.
    if redis.call('EXISTS', P .. 'life') == 0 or redis.call('EXISTS', P .. 'recovering') == 1 then
      return redis.error_reply('CSLOST the shared state was lost; retry')
    end
    return false
  end
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
if once ~= '' then
  local until_ = string.format('%.6f', tonumber(ARGV[6]) + tonumber(ARGV[12]))
  redis.call('SET', once, until_ .. '\\n' .. p, 'PX', ARGV[13])
end
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


# Change a channel's config if it is still the one the caller read (compare and set on the
# ``cfg`` field only, so that concurrent publishes to the channel never force a retry).
SET_CONFIG = """
local P, name = ARGV[1], ARGV[2]
local ck = P .. 'c:' .. name
local current = redis.call('HGET', ck, 'cfg')
if not current then return -1 end
if current ~= ARGV[3] then return 0 end
redis.call('HSET', ck, 'cfg', ARGV[4], 'sf', ARGV[5], 'sh', ARGV[6], 'hs', ARGV[7])
if ARGV[8] == '1' then
  redis.call('SADD', P .. 'pc', name)
else
  redis.call('SREM', P .. 'pc', name)
end
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
