"""The outbox: presence transitions recorded by the scripts that decide them, and the lease
of the one sender that takes them (see ``channelstream.engine.redis.outbox``)."""

from __future__ import annotations

# Included by the scripts that decide a transition. `keep` is ",name,name," (the names the
# node was told to keep; '' keeps none, and the scripts then skip even the counting), `cap`
# how many may wait, `ms` the caller's time in milliseconds (text, so that no float
# formatting is involved). An entry is its seq, a line feed, then [name, ms, channel, user]
# as JSON ('' for a field the transition has not): cjson encodes the names, which may hold
# any character.
RECORD = """
local function record(P, keep, cap, ms, name, channel, user)
  if keep == '' or not string.find(keep, ',' .. name .. ',', 1, true) then return end
  local seq = redis.call('HINCRBY', P .. 'wo', 'seq', 1)
  redis.call('ZADD', P .. 'wq', seq, seq .. '\\n' .. cjson.encode({name, ms, channel, user}))
  local extra = redis.call('ZCARD', P .. 'wq') - tonumber(cap)
  if extra > 0 then
    redis.call('ZPOPMIN', P .. 'wq', extra)
    redis.call('HINCRBY', P .. 'wo', 'dropped', extra)
    redis.call('HINCRBY', P .. 'wo', 'dropped_new', extra)
  end
end
"""


# Take or renew the lease (ARGV[2] the holder, ARGV[3] its length in ms) and answer the
# ARGV[4] oldest entries; false while another holder has it. ARGV[5] is a fresh epoch, kept
# if the outbox has none yet (first use, or after Redis lost its data). Answers {epoch,
# dropped since the last take (then reset), entries}.
OUTBOX_TAKE = """
local P, holder, lease, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local current = redis.call('GET', P .. 'wl')
if current and current ~= holder then return false end
redis.call('SET', P .. 'wl', holder, 'PX', lease)
redis.call('HSETNX', P .. 'wo', 'epoch', ARGV[5])
local epoch = redis.call('HGET', P .. 'wo', 'epoch')
local dropped = tonumber(redis.call('HGET', P .. 'wo', 'dropped_new') or '0')
if dropped > 0 then redis.call('HSET', P .. 'wo', 'dropped_new', 0) end
local entries = {}
if limit > 0 then entries = redis.call('ZRANGE', P .. 'wq', 0, limit - 1) end
return {epoch, dropped, entries}
"""


# Remove the entries up to seq ARGV[3] of the outbox's life ARGV[2] (none for another life:
# after a data loss, the seqs of the old life name other entries).
OUTBOX_DROP = """
local P, epoch, upto = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', P .. 'wo', 'epoch') ~= epoch then return 0 end
return redis.call('ZREMRANGEBYSCORE', P .. 'wq', '-inf', upto)
"""


OUTBOX_RELEASE = """
local P, holder = ARGV[1], ARGV[2]
if redis.call('GET', P .. 'wl') == holder then redis.call('DEL', P .. 'wl') end
return 1
"""
