"""The Lua scripts of the Redis engine: each one is a single atomic step of the contract.

``channels`` holds the channels' and streams' scripts, ``connections`` the users', the
connections' and the nodes', ``lifeline`` those that notice and repair a Redis that lost its
data, ``outbox`` the recording of presence transitions (included by the scripts that decide
them) and the sender's lease.

Every script takes the key prefix as ARGV[1] and builds its keys from it (the layout is in
``channelstream.engine.redis``'s docstring); KEYS[1] is the bus (the pub/sub channel the
publish script publishes on), which also lets a cluster-aware client route the call (all
keys share one hash tag, see docs/cluster.md). Nothing here decodes JSON: payloads are
handled as strings so that numbers and empty arrays pass through byte for byte.
"""

from channelstream.engine.redis.scripts.channels import (
    COLLECT_CHANNELS,
    ENSURE_CHANNEL,
    JOIN,
    LEAVE,
    PUBLISH,
    REPLAY,
    REWRITE,
    SET_CONFIG,
)
from channelstream.engine.redis.scripts.connections import (
    ADD_CONNECTION,
    COLLECT_USERS,
    COLLECTABLE,
    GET_CONNECTION,
    GET_CONNECTIONS,
    MARK_DISCONNECTED,
    NODE_HEARTBEAT,
    REMOVE_CONNECTION,
    RETIRE_CONNECTION,
    SAVE_POSITIONS,
    TOUCH,
    USER_CHANNELS,
)
from channelstream.engine.redis.scripts.lifeline import LIFE, RESTORE_LOST
from channelstream.engine.redis.scripts.outbox import OUTBOX_DROP, OUTBOX_RELEASE, OUTBOX_TAKE

__all__ = [
    "ADD_CONNECTION",
    "COLLECTABLE",
    "COLLECT_CHANNELS",
    "COLLECT_USERS",
    "ENSURE_CHANNEL",
    "GET_CONNECTION",
    "GET_CONNECTIONS",
    "JOIN",
    "LEAVE",
    "LIFE",
    "MARK_DISCONNECTED",
    "NODE_HEARTBEAT",
    "OUTBOX_DROP",
    "OUTBOX_RELEASE",
    "OUTBOX_TAKE",
    "PUBLISH",
    "REMOVE_CONNECTION",
    "REPLAY",
    "RESTORE_LOST",
    "RETIRE_CONNECTION",
    "REWRITE",
    "SAVE_POSITIONS",
    "SET_CONFIG",
    "TOUCH",
    "USER_CHANNELS",
]
