"""This node's live connections and the channels they listen to.

The node hands every event to ``Hub.deliver_event`` and every membership change to
``Hub.apply``; the hub decides which local connections get what and passes the events to
their transport. It does no I/O itself and never yields:
transports take the bytes (a WebSocket writes them without blocking or queues them; a held
long-poll collects them).

Channel events are gathered per channel until the next flush, which the injected
``schedule`` decides (the server flushes at the end of the event-loop iteration, later when
the previous flush was expensive): under load, several events go out as one frame built
once for every member, so the cost per socket is paid per batch, not per message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from channelstream.engine.base import Control, Disconnected, Subscribed, Unsubscribed
from channelstream.model.connection import Position
from channelstream.model.event import Event, EventBatch
from channelstream.model.few import Few, added, few, removed

# The key of a connection's position in the user's direct stream.
DIRECT = None


Schedule = Callable[[Callable[[], None]], None]


def flush_now(flush: Callable[[], None]) -> None:
    """The default schedule: no gathering, every event goes out at once (tests, tools)."""
    flush()


class Transport(Protocol):
    # A transport may name its kind in a class attribute `kind` ("websocket", the default,
    # or "longpoll"): the label its deliveries are counted under (channelstream.metrics).

    def send_batch(self, batch: EventBatch) -> None:
        """Send live events (their shared, pre-encoded bytes) in order."""

    def send_bodies(self, bodies: list[bytes]) -> None:
        """Send JSON-encoded message objects as one batch (catch-up, gap notices)."""

    def heartbeat(self, now: float, ping_timeout: float) -> bool:
        """Keep the transport alive; False when it is dead (and closed)."""

    def close(self, code: int, reason: str) -> None: ...


class LocalConnection:
    __slots__ = ("channels", "conn_id", "held", "longpoll", "positions", "transport", "username")

    def __init__(
        self,
        conn_id: str,
        username: str,
        channels: Few,
        positions: dict[str | None, Position],
        transport: Transport,
    ) -> None:
        self.conn_id = conn_id
        self.username = username
        self.channels = channels
        self.positions = positions
        self.transport = transport
        # Read once here, so that counting by transport costs the send path one flag test.
        self.longpoll = getattr(transport, "kind", "websocket") == "longpoll"
        # While catch-up is being sent, live events wait here so that they follow it in order.
        self.held: list[Event] | None = []


class Hub:
    def __init__(self, schedule: Schedule = flush_now) -> None:
        self.connections: dict[str, LocalConnection] = {}
        self._by_channel: dict[str, dict[str, LocalConnection]] = {}
        # A user's one local connection, or (several) by conn_id: most users have one.
        self._by_user: dict[str, LocalConnection | dict[str, LocalConnection]] = {}
        # Published messages handed to local connections, live or replayed: what 0.7.1's
        # admin.json called total_messages (presence, state changes, edits and deletes are
        # not counted, as there).
        self.deliveries = 0
        # The figures channelstream.metrics reads at scrape time: plain ints, so the publish
        # path pays an addition, never a lock or a label lookup. Events handed to the hub
        # for delivery (each counted once, however many sockets get it); the part of
        # `deliveries` that went to long-poll connections; batches of live events handed
        # to a transport (one WebSocket frame each).
        self.published = 0
        self.longpoll_deliveries = 0
        self.frames_sent = 0
        # WebSocket sessions ended, by close code (the realtime layer counts into it).
        self.ws_closes: dict[int, int] = {}
        self._schedule = schedule
        # Channel events waiting for the next flush, in publish order per channel.
        self._pending: dict[str, list[Event]] = {}
        self._flush_scheduled = False

    # -- attaching transports --------------------------------------------------------
    def attach(
        self,
        conn_id: str,
        username: str,
        channels: Iterable[str],
        positions: dict[str | None, Position],
        transport: Transport,
    ) -> LocalConnection:
        """Start routing events to a transport; they are held until `release`."""
        previous = self.connections.get(conn_id)
        if previous is not None:
            # A second socket for the same connection replaces the first.
            self.detach(previous)
            previous.transport.close(1000, "replaced")
        local = LocalConnection(conn_id, username, few(channels), dict(positions), transport)
        self.connections[conn_id] = local
        mine = self._by_user.get(username)
        if mine is None:
            self._by_user[username] = local
        elif isinstance(mine, dict):
            mine[conn_id] = local
        else:
            self._by_user[username] = {mine.conn_id: mine, conn_id: local}
        for channel in local.channels:
            self._by_channel.setdefault(channel, {})[conn_id] = local
        return local

    def release(self, local: LocalConnection) -> None:
        """Catch-up is sent: deliver what was held, then deliver live."""
        held, local.held = local.held, None
        if held:
            self._offer(local, held, None)

    def detach(self, local: LocalConnection) -> dict[str | None, Position]:
        """Stop routing to the transport; answers what the connection was last sent."""
        if self.connections.get(local.conn_id) is local:
            del self.connections[local.conn_id]
            mine = self._by_user.get(local.username)
            if mine is local:
                del self._by_user[local.username]
            elif isinstance(mine, dict):
                mine.pop(local.conn_id, None)
                if len(mine) == 1:
                    (self._by_user[local.username],) = mine.values()
            for channel in local.channels:
                self._drop(self._by_channel, channel, local.conn_id)
        return local.positions

    def close_all(self, code: int, reason: str) -> None:
        """Close every attached transport (the node is stopping); each detaches itself."""
        for local in list(self.connections.values()):
            local.transport.close(code, reason)

    @staticmethod
    def _drop(index: dict[str, dict[str, LocalConnection]], key: str, conn_id: str) -> None:
        members = index.get(key)
        if members is not None:
            members.pop(conn_id, None)
            if not members:
                del index[key]

    # -- envelopes from the engine ---------------------------------------------------
    def deliver_event(self, event: Event) -> None:
        """A stamped event: a channel's is gathered until the flush, a direct one goes to
        the user's local connections at once."""
        self.published += 1
        if event.channel is not None:
            if event.channel in self._by_channel:
                # Encoded now, while the payload is still in the CPU's cache: at the
                # flush, after a thousand other channels' events, the same encoding cost
                # several times more. Not for a channel nobody here listens to.
                event.encode()
            pending = self._pending.get(event.channel)
            if pending is None:
                self._pending[event.channel] = [event]
            else:
                pending.append(event)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._schedule(self.flush)
            return
        members = self._by_user.get(event.direct_to or "")
        if members is not None:
            batch = EventBatch([event])
            # A copy: a transport may close, and detach, while we iterate.
            for local in list(members.values()) if isinstance(members, dict) else [members]:
                self._offer(local, batch.events, batch)

    def apply(self, envelope: Control) -> None:
        """A membership change; it applies after the events published before it."""
        self.flush()
        if isinstance(envelope, Subscribed):
            self._subscribed(envelope)
        elif isinstance(envelope, Unsubscribed):
            self._unsubscribed(envelope)
        elif isinstance(envelope, Disconnected):
            gone = self.connections.get(envelope.conn_id)
            if gone is not None:
                self.detach(gone)
                gone.transport.close(1000, "disconnected")

    def flush(self) -> None:
        """Send every gathered channel batch to the channel's local members.

        The common case is ``_offer``'s first one, done here without its call: a member
        that holds nothing back and was sent none of the batch before gets all of it (on
        1000 channels of one socket each, this loop runs once per message)."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        by_channel = self._by_channel
        for channel, events in pending.items():
            members = by_channel.get(channel)
            if not members:
                continue
            batch = EventBatch(events)
            first, last = events[0], events[-1]
            sent = (last.epoch, last.offset)
            for local in list(members.values()):
                if batch.plain and local.held is None:
                    known = local.positions.get(channel)
                    if known is None or known[0] != first.epoch or known[1] < first.offset:
                        local.positions[channel] = sent
                        self._send(local, batch)
                        continue
                self._offer(local, events, batch)

    def _offer(self, local: LocalConnection, events: list[Event], batch: EventBatch | None) -> None:
        """Send the events this connection has not been sent and may receive."""
        if local.held is not None:
            local.held.extend(events)
            return
        if batch is not None and batch.plain:
            # The common case: one channel, no delivery rules, all of it new to the socket.
            first = events[0]
            known = local.positions.get(first.channel)
            if known is None or known[0] != first.epoch or known[1] < first.offset:
                last = events[-1]
                local.positions[first.channel] = (last.epoch, last.offset)
                self._send(local, batch)
                return
        chosen = []
        for event in events:
            key = event.channel
            known = local.positions.get(key)
            if known is not None and known[0] == event.epoch and event.offset <= known[1]:
                continue  # already sent (by catch-up, or by another path)
            local.positions[key] = (event.epoch, event.offset)
            if event.reaches(local.username):
                chosen.append(event)
        if chosen:
            whole = batch is not None and len(chosen) == len(events)
            self._send(local, batch if whole and batch else EventBatch(chosen))

    def _send(self, local: LocalConnection, batch: EventBatch) -> None:
        """Hand the batch to the transport, counted: one frame, its messages delivered."""
        self.deliveries += batch.messages
        self.frames_sent += 1
        if local.longpoll:
            self.longpoll_deliveries += batch.messages
        local.transport.send_batch(batch)

    def _subscribed(self, envelope: Subscribed) -> None:
        local = self.connections.get(envelope.conn_id)
        if local is None:
            return
        for channel, position in envelope.positions.items():
            if channel not in local.channels:
                local.channels = added(local.channels, channel)
                # Delivery starts after the join (an older position would be a stale one
                # from an earlier membership); recovery then fills anything that arrived
                # before this envelope.
                local.positions[channel] = position
                self._by_channel.setdefault(channel, {})[local.conn_id] = local

    def _unsubscribed(self, envelope: Unsubscribed) -> None:
        local = self.connections.get(envelope.conn_id)
        if local is None:
            return
        for channel in envelope.channels:
            if channel in local.channels:
                local.channels = removed(local.channels, channel)
                self._drop(self._by_channel, channel, local.conn_id)

    def listens(self, channel: str) -> bool:
        return channel in self._by_channel

    # -- figures ---------------------------------------------------------------------
    def count_replayed(self, events: list[Event], local: LocalConnection | None = None) -> None:
        """Catch-up sent outside the hub still delivers messages: count them too."""
        messages = sum(1 for event in events if event.is_message)
        self.deliveries += messages
        if local is not None and local.longpoll:
            self.longpoll_deliveries += messages

    def channel_listeners(self, channel: str) -> int:
        return len(self._by_channel.get(channel, ()))
