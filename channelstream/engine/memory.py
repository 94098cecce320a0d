"""The embedded engine: everything in this process's memory, envelopes handed straight to
this node. No method yields to another greenlet, so each call is atomic without a lock (and
records its presence transitions, ``memory_outbox``, within that same call). Users live in
``memory_users``, stream and channel records in ``memory_log``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channelstream.engine.base import (
    ChannelSnapshot,
    Control,
    Engine,
    EngineEvents,
    JoinResult,
    LeaveResult,
    Replay,
    Stream,
    message_edits,
    original_event,
)
from channelstream.engine.memory_log import ChannelRecord, StreamLog
from channelstream.engine.memory_outbox import MemoryOutbox
from channelstream.engine.memory_seen import RecentMessages, SeenKey
from channelstream.engine.memory_users import MemoryUsers
from channelstream.model.channel import ChannelConfig
from channelstream.model.connection import Connection, Position
from channelstream.model.event import Event
from channelstream.model.few import Few, added, removed
from channelstream.model.user import User
from channelstream.settings import Settings


def _ignore(envelope: object) -> None:
    """Where envelopes go while the engine is not started."""


class MemoryEngine(MemoryUsers, MemoryOutbox):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.users: dict[str, User] = {}
        self.user_logs: dict[str, StreamLog] = {}
        self.connections: dict[str, Connection] = {}
        # Each user's conn_ids: for max_per_user without a walk over every connection, and
        # whether a connection is the user's first or last (user_online, user_offline).
        self._user_conns: dict[str, Few] = {}
        # Stand-ins of departed connections (presence_grace): no user holds them.
        self._stand_ins: set[str] = set()
        self.channels: dict[str, ChannelRecord] = {}
        self.unique_messages = 0
        # Messages published within idempotency_window (none remembered when it is 0).
        self.seen = RecentMessages(settings.idempotency_window)
        self._once = settings.idempotency_window > 0
        # The node's methods themselves: a publish costs no lookup on the way.
        self._on_event: Callable[[Event], None] = _ignore
        self._on_control: Callable[[Control], None] = _ignore
        self._setup_outbox()

    # -- lifecycle -------------------------------------------------------------------
    def start(self, events: EngineEvents) -> None:
        self._on_event = events.on_event
        self._on_control = events.on_control

    def stop(self) -> None:
        self._on_event = self._on_control = _ignore

    def health(self) -> dict[str, Any]:
        return {"ok": True, "engine": "memory"}

    def error_count(self) -> int:
        return 0  # nothing to reach

    # -- connections -----------------------------------------------------------------
    def add_connection(
        self, conn_id: str, username: str, now: float, *, max_per_user: int = 0
    ) -> Connection | None:
        conn = self.connections.get(conn_id)
        if conn is None:
            held = self._user_conns.get(username, ())
            if max_per_user and len(held) >= max_per_user and self._live(held) >= max_per_user:
                return None
            conn = Connection(conn_id, username, last_active=now)
            conn.positions[None] = self._user_log(username).position()
            self.connections[conn_id] = conn
            if not held:
                self._record("user_online", now, None, username)
            self._user_conns[username] = added(held, conn_id)
        else:
            conn.last_active = now
            conn.disconnected = False
        return conn.copy()

    def _live(self, conn_ids: Few) -> int:
        """Connections not marked disconnected (those are on their way out), stand-ins not
        counted (they hold a departed connection's presence, not a socket)."""
        return sum(
            1
            for conn_id in conn_ids
            if not self.connections[conn_id].disconnected and conn_id not in self._stand_ins
        )

    def get_connection(self, conn_id: str) -> Connection | None:
        conn = self.connections.get(conn_id)
        return conn.copy() if conn else None

    def get_connections(self, conn_ids: list[str]) -> list[Connection]:
        known = self.connections
        return [known[conn_id].copy() for conn_id in conn_ids if conn_id in known]

    def list_connections(self) -> list[Connection]:
        return [conn.copy() for conn in self.connections.values()]

    def touch_connection(self, conn_id: str, now: float) -> None:
        conn = self.connections.get(conn_id)
        if conn is not None:
            conn.last_active = now
            user = self.users.get(conn.username)
            if user is not None:
                user.last_active = now

    def touch_connections(self, conn_ids: list[str], now: float) -> None:
        for conn_id in conn_ids:
            self.touch_connection(conn_id, now)

    def user_channels(self, username: str) -> list[str]:
        names: set[str] = set()
        for conn in self.connections.values():
            if conn.username == username:
                names.update(conn.channels)
        return sorted(names)

    def mark_disconnected(self, conn_id: str) -> bool:
        conn = self.connections.get(conn_id)
        if conn is None:
            return False
        conn.disconnected = True
        return True

    def save_positions(self, conn_id: str, positions: dict[str | None, Position]) -> None:
        conn = self.connections.get(conn_id)
        if conn is not None:
            conn.positions.update(positions)

    def collectable_connections(self, idle_before: float) -> list[str]:
        return [
            conn.conn_id
            for conn in self.connections.values()
            if conn.disconnected or conn.last_active < idle_before
        ]

    def remove_connection(self, conn_id: str, now: float) -> Connection | None:
        conn = self.connections.pop(conn_id, None)
        if conn is not None:
            self._stand_ins.discard(conn_id)
            held = self._user_conns.get(conn.username)
            if held is not None:
                held = removed(held, conn_id)
                if held:
                    self._user_conns[conn.username] = held
                else:
                    del self._user_conns[conn.username]
                    self._record("user_offline", now, None, conn.username)
            conn.channels = set(conn.channels)  # leaves the engine: as its copies are
        return conn

    def retire_connection(
        self, conn_id: str, stand_in: str, last_active: float
    ) -> Connection | None:
        conn = self.connections.pop(conn_id, None)
        if conn is None:
            return None
        held = Connection(stand_in, conn.username, last_active=last_active)
        for name in conn.channels:
            channel = self.channels.get(name)
            members = channel.members.get(conn.username) if channel else None
            if channel is not None and members is not None and conn_id in members:
                channel.members[conn.username] = added(removed(members, conn_id), stand_in)
                held.channels = added(held.channels, name)
        self.connections[stand_in] = held
        self._stand_ins.add(stand_in)
        mine = removed(self._user_conns.get(conn.username, ()), conn_id)
        self._user_conns[conn.username] = added(mine, stand_in)
        conn.channels = set(conn.channels)  # leaves the engine: as its copies are
        return conn

    # -- channels --------------------------------------------------------------------
    def ensure_channel(
        self, name: str, config: dict[str, Any] | None, now: float
    ) -> tuple[ChannelConfig, bool]:
        channel = self.channels.get(name)
        if channel is not None:
            return channel.config, False
        channel = ChannelRecord(
            name=name,
            config=ChannelConfig().updated(config).capped(self.settings.max_history_size),
            log=StreamLog(self.settings.catchup_size),
            created=now,
            last_active=now,
        )
        self.channels[name] = channel
        return channel.config, True

    def configure_channel(self, name: str, changes: dict[str, Any], now: float) -> ChannelConfig:
        config, created = self.ensure_channel(name, changes, now)
        if not created:
            channel = self.channels[name]
            channel.config = channel.config.updated(changes).capped(self.settings.max_history_size)
            del channel.history[: max(0, len(channel.history) - channel.config.history_size)]
            config = channel.config
        return config

    def channel_config(self, name: str) -> ChannelConfig | None:
        channel = self.channels.get(name)
        return channel.config if channel else None

    def channel_names(self) -> list[str]:
        return list(self.channels)

    def channel_positions(self, names: list[str]) -> dict[str, Position]:
        known = self.channels
        return {name: known[name].log.position() for name in names if name in known}

    def channel_snapshot(
        self, name: str, *, include_history: bool, include_users: bool
    ) -> ChannelSnapshot | None:
        channel = self.channels.get(name)
        if channel is None:
            return None
        return ChannelSnapshot(
            name=channel.name,
            uuid=channel.uuid,
            config=channel.config,
            last_active=channel.last_active,
            total_connections=sum(len(conns) for conns in channel.members.values()),
            users=sorted(channel.members) if include_users else [],
            history=[dict(item) for item in channel.history] if include_history else [],
            position=channel.log.position(),
        )

    def channel_users(self, name: str) -> list[str]:
        channel = self.channels.get(name)
        return sorted(channel.members) if channel else []

    def join_channel(self, name: str, conn_id: str, username: str, now: float) -> JoinResult:
        channel = self.channels[name]
        channel.last_active = now
        occupied = bool(channel.members)
        conns = channel.members.get(username, ())
        first = not conns
        joined = conn_id not in conns
        channel.members[username] = added(conns, conn_id)
        position = channel.log.position()
        if joined:
            if not occupied:
                self._record("channel_occupied", now, name, None)
            if first:
                self._record("user_joined", now, name, username)
            conn = self.connections.get(conn_id)
            if conn is not None:
                # The record's own name: one string per channel, not one per request.
                conn.channels = added(conn.channels, channel.name)
                conn.positions[channel.name] = position
        return JoinResult(joined=joined, first_for_user=first and joined, position=position)

    def leave_channel(self, name: str, conn_id: str, username: str, now: float) -> LeaveResult:
        conn = self.connections.get(conn_id)
        if conn is not None:
            conn.channels = removed(conn.channels, name)
        channel = self.channels.get(name)
        if channel is None:
            return LeaveResult(left=False, last_for_user=False)
        conns = channel.members.get(username)
        if not conns or conn_id not in conns:
            return LeaveResult(left=False, last_for_user=False)
        conns = channel.members[username] = removed(conns, conn_id)
        channel.last_active = now
        if conns:
            return LeaveResult(left=True, last_for_user=False)
        del channel.members[username]
        self._record("user_parted", now, name, username)
        if not channel.members:
            self._record("channel_vacated", now, name, None)
        return LeaveResult(left=True, last_for_user=True)

    def collect_channels(self, idle_before: float) -> list[str]:
        gone = [
            name
            for name, channel in self.channels.items()
            if not channel.members and channel.last_active < idle_before
        ]
        for name in gone:
            del self.channels[name]
        return gone

    # -- streams ---------------------------------------------------------------------
    def _user_log(self, username: str) -> StreamLog:
        log = self.user_logs.get(username)
        if log is None:
            log = self.user_logs[username] = StreamLog(self.settings.catchup_size)
        return log

    def _log(self, stream: Stream) -> StreamLog | None:
        kind, name = stream
        if kind == "direct":
            return self._user_log(name)
        channel = self.channels.get(name)
        return channel.log if channel else None

    def publish(self, event: Event, *, now: float, history: bool = False) -> Event | None:
        return self.publish_many([(event, history)], now=now)[0]

    def publish_many(self, items: list[tuple[Event, bool]], *, now: float) -> list[Event | None]:
        """In order, one loop: a POST /message of 20 pays these lookups once, not 20 times."""
        seen, once, channels, on_event = self.seen, self._once, self.channels, self._on_event
        if once:
            seen.forget(now)
        published: list[Event | None] = []
        for event, history in items:
            payload = event.payload
            is_message = payload.get("type") == "message"
            key: SeenKey | None = None
            if once and is_message:
                uuid = payload.get("uuid")
                if uuid is not None:
                    key = (event.channel, event.direct_to, uuid)
                    answered = seen.answered(key, now)
                    if answered is not None:
                        # Published within the window: answer that publish, change nothing.
                        published.append(original_event(event, answered))
                        continue
            if event.channel is not None:
                channel = channels.get(event.channel)
                if channel is None:
                    published.append(None)
                    continue
                channel.last_active = now
                config = channel.config
                channel.log.stamp(event)
                if config.store_frames:
                    channel.log.keep(event)
                if history and config.store_history and config.history_size:
                    channel.add_history(payload)
            else:
                assert event.direct_to is not None
                log = self._user_log(event.direct_to)
                log.stamp(event)
                log.keep(event)
            if is_message:
                self.unique_messages += 1
                if key is not None:
                    # Its JSON, made now rather than by the first delivery (the same bytes).
                    seen.remember(key, event.encode(), now)
            on_event(event)
            published.append(event)
        return published

    def broadcast(self, envelope: Control) -> None:
        self._on_control(envelope)

    def edit_message(self, stream: Stream, uuid: str, changes: dict[str, Any]) -> bool:
        edits = message_edits(changes)
        channel = self.channels.get(stream[1]) if stream[0] == "channel" else None
        found = channel.edit_history(uuid, edits) if channel else False
        log = self._log(stream)
        if log is not None:
            edited = log.replace(uuid, lambda event: event.with_payload({**event.payload, **edits}))
            found = edited or found
        return found

    def delete_message(self, stream: Stream, uuid: str) -> bool:
        channel = self.channels.get(stream[1]) if stream[0] == "channel" else None
        found = channel.delete_history(uuid) if channel else False
        log = self._log(stream)
        if log is not None:
            found = log.replace(uuid, lambda event: None) or found
        return found

    def replay(self, stream: Stream, after: Position | None) -> Replay:
        log = self._log(stream)
        return log.replay(after) if log else Replay(events=[], position=("", 0))

    def position(self, stream: Stream) -> Position:
        log = self._log(stream)
        return log.position() if log else ("", 0)

    # -- figures ---------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        return {
            "total_unique_messages": self.unique_messages,
            "users": len(self.users),
            "channels": len(self.channels),
        }


if TYPE_CHECKING:

    def _keeps_the_contract(settings: Settings) -> Engine:
        return MemoryEngine(settings)
