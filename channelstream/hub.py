"""This node's live connections and the channels they listen to.

The engine hands every envelope to ``Hub.deliver``; the hub decides which local connections
get it and passes the event to their transport. It does no I/O itself and never yields:
transports take the bytes (a WebSocket writes them without blocking or queues them; a held
long-poll collects them).
"""

from __future__ import annotations

from typing import Protocol

from channelstream.engine.base import Disconnected, Envelope, Subscribed, Unsubscribed
from channelstream.model.connection import Position
from channelstream.model.event import Event

# The key of a connection's position in the user's direct stream.
DIRECT = None


class Transport(Protocol):
    def send_event(self, event: Event) -> None:
        """Send one live event (its shared, pre-encoded bytes)."""

    def send_bodies(self, bodies: list[bytes]) -> None:
        """Send JSON-encoded message objects as one batch (catch-up, gap notices)."""

    def heartbeat(self, now: float, ping_timeout: float) -> bool:
        """Keep the transport alive; False when it is dead (and closed)."""

    def close(self, code: int, reason: str) -> None: ...


class LocalConnection:
    __slots__ = ("channels", "conn_id", "held", "positions", "transport", "username")

    def __init__(
        self,
        conn_id: str,
        username: str,
        channels: set[str],
        positions: dict[str | None, Position],
        transport: Transport,
    ) -> None:
        self.conn_id = conn_id
        self.username = username
        self.channels = channels
        self.positions = positions
        self.transport = transport
        # While catch-up is being sent, live events wait here so that they follow it in order.
        self.held: list[Event] | None = []


class Hub:
    def __init__(self) -> None:
        self.connections: dict[str, LocalConnection] = {}
        self._by_channel: dict[str, dict[str, LocalConnection]] = {}
        self._by_user: dict[str, dict[str, LocalConnection]] = {}
        self.deliveries = 0

    # -- attaching transports --------------------------------------------------------
    def attach(
        self,
        conn_id: str,
        username: str,
        channels: set[str],
        positions: dict[str | None, Position],
        transport: Transport,
    ) -> LocalConnection:
        """Start routing events to a transport; they are held until `release`."""
        previous = self.connections.get(conn_id)
        if previous is not None:
            # A second socket for the same connection replaces the first.
            self.detach(previous)
            previous.transport.close(1000, "replaced")
        local = LocalConnection(conn_id, username, set(channels), dict(positions), transport)
        self.connections[conn_id] = local
        self._by_user.setdefault(username, {})[conn_id] = local
        for channel in local.channels:
            self._by_channel.setdefault(channel, {})[conn_id] = local
        return local

    def release(self, local: LocalConnection) -> None:
        """Catch-up is sent: deliver what was held, then deliver live."""
        held, local.held = local.held, None
        for event in held or ():
            self._offer(local, event)

    def detach(self, local: LocalConnection) -> dict[str | None, Position]:
        """Stop routing to the transport; answers what the connection was last sent."""
        if self.connections.get(local.conn_id) is local:
            del self.connections[local.conn_id]
            self._drop(self._by_user, local.username, local.conn_id)
            for channel in local.channels:
                self._drop(self._by_channel, channel, local.conn_id)
        return local.positions

    @staticmethod
    def _drop(index: dict[str, dict[str, LocalConnection]], key: str, conn_id: str) -> None:
        members = index.get(key)
        if members is not None:
            members.pop(conn_id, None)
            if not members:
                del index[key]

    # -- envelopes from the engine ---------------------------------------------------
    def deliver(self, envelope: Envelope) -> None:
        if isinstance(envelope, Event):
            if envelope.channel is not None:
                members = self._by_channel.get(envelope.channel)
            else:
                members = self._by_user.get(envelope.direct_to or "")
            if members:
                # A copy: a transport may close, and detach, while we iterate.
                for local in list(members.values()):
                    self._offer(local, envelope)
        elif isinstance(envelope, Subscribed):
            self._subscribed(envelope)
        elif isinstance(envelope, Unsubscribed):
            self._unsubscribed(envelope)
        elif isinstance(envelope, Disconnected):
            gone = self.connections.get(envelope.conn_id)
            if gone is not None:
                self.detach(gone)
                gone.transport.close(1000, "disconnected")

    def _offer(self, local: LocalConnection, event: Event) -> None:
        if local.held is not None:
            local.held.append(event)
            return
        key = event.channel
        known = local.positions.get(key)
        if known is not None and known[0] == event.epoch and event.offset <= known[1]:
            return  # already sent (by catch-up, or by another path)
        local.positions[key] = (event.epoch, event.offset)
        if event.reaches(local.username):
            self.deliveries += 1
            local.transport.send_event(event)

    def _subscribed(self, envelope: Subscribed) -> None:
        local = self.connections.get(envelope.conn_id)
        if local is None:
            return
        for channel, position in envelope.positions.items():
            if channel not in local.channels:
                local.channels.add(channel)
                local.positions.setdefault(channel, position)
                self._by_channel.setdefault(channel, {})[local.conn_id] = local

    def _unsubscribed(self, envelope: Unsubscribed) -> None:
        local = self.connections.get(envelope.conn_id)
        if local is None:
            return
        for channel in envelope.channels:
            if channel in local.channels:
                local.channels.discard(channel)
                self._drop(self._by_channel, channel, local.conn_id)

    # -- figures ---------------------------------------------------------------------
    def channel_listeners(self, channel: str) -> int:
        return len(self._by_channel.get(channel, ()))
