"""The one place that decides catch-up, resume and gap notices.

A connection's position per stream (its channels, and its user's direct stream) says what it
was last sent. Whenever that may be behind the stream (a transport attaches, a ``Subscribed``
envelope arrives after events it should have followed, the engine comes back after an
outage), the connection's streams are read back from the engine here, with one set of
rules:

- events after the position that the connection may receive are sent again, replayed
  (``catchup: true``), oldest first, each once;
- where the stream cannot say what came after the position (its epoch changed, the catch-up
  window no longer reaches back, it keeps no window but moved on, or it is gone), the
  connection is told: a ``gap`` notice before the replay when it is *announced* (the client
  named the stream in ``resume``, or the socket is live and would otherwise be left with a
  silent hole), else the first replayed event carries ``"gap": true`` (0.7 clients, which
  never asked for offsets, are not sent a message type they do not know).

The notice's format is docs/wire-extensions.md's; ``gap_notice`` is the only place it is made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from channelstream import jsonenc
from channelstream.delivery.hub import DIRECT, Hub, LocalConnection
from channelstream.engine.base import (
    Broker,
    ConnectionStore,
    Disconnected,
    Replay,
    Stream,
    Subscribed,
    channel_stream,
    direct_stream,
)
from channelstream.model.connection import Position
from channelstream.model.event import Event

log = logging.getLogger(__name__)

# Replays read during one pass, by (stream, position): connections of one channel that were
# sent the same events share one read.
ReplayCache = dict[tuple[Stream, Position], Replay]


def gap_notice(key: str | None, position: Position, reason: str) -> bytes:
    """The `gap` message: `key` is the channel (None for the direct stream); `position` the
    stream's current (epoch, latest offset)."""
    return jsonenc.dumps(
        {
            "type": "gap",
            "channel": key,
            "epoch": position[0],
            "offset": position[1],
            "reason": reason,
        }
    )


def gap_reason(after: Position, replay: Replay) -> str | None:
    """Why a replay after `after` may miss events, or None when it is exact."""
    if replay.gap is not None:
        return replay.gap
    if not replay.position[0]:
        return "epoch"  # the stream itself is gone
    if not replay.events and replay.position[1] > after[1]:
        return "window"  # the stream moved on but keeps nothing (store_frames false)
    return None


class EngineForRecovery(Broker, ConnectionStore, Protocol):
    """The parts of the engine recovery reads: streams and connection records."""


class Recovery:
    def __init__(self, engine: EngineForRecovery, hub: Hub, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.hub = hub
        # Injected: the time recorded as the connections' activity after a re-sync.
        self.clock = clock
        # Figures for channelstream.metrics: gaps met, by reason (one per connection and
        # stream), and events replayed to connections.
        self.gaps: dict[str, int] = {}
        self.catchup_events = 0

    # -- one stream of one connection --------------------------------------------------
    def stream(
        self,
        local: LocalConnection,
        key: str | None,
        *,
        announce: bool,
        cache: ReplayCache | None = None,
    ) -> list[bytes]:
        """What `local` lacks on one stream, as bodies to send: [gap notice] + replayed
        events. Advances the connection's position past them."""
        after = local.positions.get(key)
        stream = direct_stream(local.username) if key is DIRECT else channel_stream(key)
        replay = None if cache is None or after is None else cache.get((stream, after))
        if replay is None:
            replay = self.engine.replay(stream, after)
            if cache is not None and after is not None:
                cache[(stream, after)] = replay
        if after is None:
            # Never sent anything on this stream: delivery starts now.
            local.positions[key] = replay.position
            return []
        reason = gap_reason(after, replay)
        bodies: list[bytes] = []
        if reason is not None:
            self.gaps[reason] = self.gaps.get(reason, 0) + 1
            log.info("gap on %s for %s (%s)", stream, local.conn_id, reason)
            if announce:
                bodies.append(gap_notice(key, replay.position, reason))
        # Read again: reading the replay may have yielded while live events went out.
        sent = local.positions.get(key, after)
        mark = reason is not None and not announce
        epoch = replay.position[0]
        last = sent[1] if sent[0] == epoch else 0
        replayed: list[Event] = []
        for event in replay.events:
            if event.epoch == sent[0] and event.offset <= sent[1]:
                continue  # already sent (live, or by an earlier replay)
            last = max(last, event.offset)
            if not event.reaches(local.username):
                continue
            replayed.append(event)
            if mark:
                bodies.append(jsonenc.dumps({**event.payload, "catchup": True, "gap": True}))
                mark = False
            else:
                bodies.append(event.replayed())
        self.catchup_events += len(replayed)
        self.hub.count_replayed(replayed, local)
        # Not the stream's latest offset: live events past the last replayed one that are
        # still on their way (held, or gathered for the next flush) must not be dropped.
        local.positions[key] = (epoch, last)
        return bodies

    def streams(
        self,
        local: LocalConnection,
        keys: Iterable[str | None],
        *,
        announce: Callable[[str | None], bool],
        cache: ReplayCache | None = None,
    ) -> list[bytes]:
        bodies: list[bytes] = []
        for key in keys:
            bodies += self.stream(local, key, announce=announce(key), cache=cache)
        return bodies

    # -- when it is needed -------------------------------------------------------------
    def catch_up(self, local: LocalConnection, resumed: set[str | None]) -> list[bytes]:
        """A transport attaches (held by the hub until this is sent): every stream of the
        connection, channels in name order, then the direct stream. Streams the client
        named in `resume` are announced."""
        keys = [*sorted(local.channels), DIRECT]
        return self.streams(local, keys, announce=resumed.__contains__)

    def after_subscribed(self, envelope: Subscribed) -> None:
        """A node may hear a channel's events before the ``Subscribed`` envelope that adds
        a local connection to it: what the connection missed since joining is sent now."""
        local = self.hub.connections.get(envelope.conn_id)
        if local is None or local.held is not None:
            return
        names = [name for name in sorted(envelope.positions) if name in local.channels]
        bodies = self.streams(local, names, announce=_always)
        if bodies:
            local.transport.send_bodies(bodies)

    def resync(self) -> None:
        """After an engine outage: every live local connection gets what it missed, or a
        gap notice; one whose record is gone (the shared state lost it, or the cluster
        collected it meanwhile) is closed as disconnected, to connect again and resume."""
        locals_ = [local for local in list(self.hub.connections.values()) if local.held is None]
        if not locals_:
            return
        found = self.engine.get_connections([local.conn_id for local in locals_])
        known = {conn.conn_id for conn in found}
        cache: ReplayCache = {}
        sent = 0
        for local in locals_:
            if self.hub.connections.get(local.conn_id) is not local:
                continue  # replaced or gone meanwhile
            if local.conn_id not in known:
                self.hub.apply(Disconnected(local.conn_id))
                continue
            keys = [*sorted(local.channels), DIRECT]
            bodies = self.streams(local, keys, announce=_always, cache=cache)
            if bodies:
                sent += len(bodies)
                local.transport.send_bodies(bodies)
        # They are alive: no node may collect them as idle because of the outage.
        self.engine.touch_connections(sorted(known), self.clock())
        log.info("re-synced %d local connections (%d messages)", len(locals_), sent)


def _always(key: str | None) -> bool:
    return True
