"""Re-syncing this node's local connections from the shared catch-up windows.

Pub/sub forgets what a node missed while its subscriber was away (a Redis restart, a network
cut, a slow subscriber dropped by Redis). After every (re)subscription the Redis engine asks
each local connection's streams for what came after the connection's last position, and
offers it through the hub, whose offsets drop what was already sent. Where the window no
longer reaches back (or the stream's epoch changed), the connection first gets a ``gap``
notice (see docs/wire-extensions.md): a client is never left with a silent hole. A local
connection whose record is gone (Redis lost its data, or the cluster collected it) is closed
as "disconnected": it must get a new conn_id and resume.

The same replay covers a race that one process does not have: a node may receive a
channel's event before the ``Subscribed`` envelope that adds a local connection to that
channel; after each ``Subscribed``, what the connection missed since joining is offered.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from channelstream import jsonenc
from channelstream.engine.base import (
    Deliver,
    Disconnected,
    Replay,
    Stream,
    Subscribed,
    channel_stream,
    direct_stream,
)
from channelstream.hub import DIRECT, Hub, LocalConnection
from channelstream.model.connection import Position

if TYPE_CHECKING:
    from channelstream.engine.redis import RedisEngine

log = logging.getLogger(__name__)


def is_hub(value: Any) -> bool:
    return isinstance(value, Hub)


def gap_notice(key: str | None, replay: Replay, reason: str) -> bytes:
    return jsonenc.dumps(
        {
            "type": "gap",
            "channel": key,
            "epoch": replay.position[0],
            "offset": replay.position[1],
            "reason": reason,
        }
    )


def catch_up(
    hub: Hub,
    engine: RedisEngine,
    local: LocalConnection,
    key: str | None,
    cache: dict[tuple[Stream, Position], Replay] | None = None,
) -> int:
    """Offer one local connection what it missed on one stream; answers events offered."""
    after = local.positions.get(key)
    if after is None:
        return 0
    stream = direct_stream(local.username) if key is DIRECT else channel_stream(key)
    replay = cache.get((stream, after)) if cache is not None else None
    if replay is None:
        replay = engine.replay(stream, after)
        if cache is not None:
            cache[(stream, after)] = replay
    reason = replay.gap
    if reason is None and not replay.position[0]:
        reason = "epoch"  # the stream itself is gone
    elif reason is None and not replay.events and replay.position[1] > after[1]:
        reason = "window"  # the stream moved on but keeps nothing (store_frames false)
    if reason is not None:
        log.info("gap on %s for %s (%s)", stream, local.conn_id, reason)
        local.transport.send_bodies([gap_notice(key, replay, reason)])
        first = replay.events[0].offset - 1 if replay.events else replay.position[1]
        local.positions[key] = (replay.position[0], first)
    # The hub sends what the connection's offsets say it lacks, as its delivery rules allow.
    hub.offer(local, replay.events)
    return len(replay.events)


def resync_hub(hub: Hub, engine: RedisEngine, deliver: Deliver) -> None:
    """After a (re)subscription: every local connection gets what it missed, or a gap."""
    locals_ = [local for local in list(hub.connections.values()) if local.held is None]
    if not locals_:
        return
    known = {conn.conn_id for conn in engine.get_connections([c.conn_id for c in locals_])}
    cache: dict[tuple[Stream, Position], Replay] = {}
    offered = 0
    for local in locals_:
        if hub.connections.get(local.conn_id) is not local:
            continue
        if local.conn_id not in known:
            deliver(Disconnected(local.conn_id))
            continue
        for key in [*sorted(local.channels), DIRECT]:
            offered += catch_up(hub, engine, local, key, cache)
    # They are alive: no node may collect them as idle because of the outage.
    engine.touch_connections(sorted(known), _now())
    log.info("re-synced %d local connections (%d events)", len(locals_), offered)


def after_subscribed(hub: Hub, engine: RedisEngine, envelope: Subscribed) -> None:
    local = hub.connections.get(envelope.conn_id)
    if local is None or local.held is not None:
        return
    for name in sorted(envelope.positions):
        if name in local.channels:
            catch_up(hub, engine, local, name)


def _now() -> float:
    import time

    return time.time()
