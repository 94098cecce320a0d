"""The engine contract: what operations need from shared state, and how envelopes travel.

Every method is atomic with respect to other calls on the same engine (the memory engine
never yields; a networked engine uses server-side atomic commands). Methods that return
records return copies: changing them changes nothing.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from typing import Any

from channelstream.model.channel import ChannelConfig
from channelstream.model.connection import Connection, Position
from channelstream.model.event import Event
from channelstream.model.user import StateValue, User

# A stream is a channel's log, ("channel", name), or one user's direct-message stream,
# ("direct", username).
Stream = tuple[str, str]

# What PATCH /message may change in a kept message.
EDITABLE_KEYS = ("message", "user", "timestamp", "edited")


def message_edits(changes: dict[str, Any]) -> dict[str, Any]:
    return {key: changes[key] for key in EDITABLE_KEYS if key in changes}


def channel_stream(name: str) -> Stream:
    return ("channel", name)


def direct_stream(username: str) -> Stream:
    return ("direct", username)


@dataclasses.dataclass(frozen=True, slots=True)
class Subscribed:
    """A connection joined channels: a hub holding it starts delivering after `positions`."""

    conn_id: str
    positions: dict[str, Position]


@dataclasses.dataclass(frozen=True, slots=True)
class Unsubscribed:
    conn_id: str
    channels: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Disconnected:
    """A connection is gone: the hub holding its socket closes it."""

    conn_id: str


Envelope = Event | Subscribed | Unsubscribed | Disconnected
Deliver = Callable[[Envelope], None]


@dataclasses.dataclass(frozen=True, slots=True)
class JoinResult:
    joined: bool  # False when the connection was already in the channel
    first_for_user: bool  # the user's first connection into the channel
    position: Position  # the channel stream's position at the time of joining


@dataclasses.dataclass(frozen=True, slots=True)
class LeaveResult:
    left: bool
    last_for_user: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Replay:
    events: list[Event]
    position: Position  # the stream's current (epoch, latest offset)
    # None when the replay is exact; "epoch" or "window" when events may be missing.
    gap: str | None = None


class Engine(abc.ABC):
    # -- lifecycle -------------------------------------------------------------------
    @abc.abstractmethod
    def start(self, deliver: Deliver) -> None:
        """Begin handing every envelope published on any node to `deliver` (this node's hub)."""

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def health(self) -> dict[str, Any]:
        """{"ok": bool, ...}: whether this node can reach the shared state."""

    # -- users -----------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_user(
        self,
        username: str,
        *,
        now: float,
        fresh_state: dict[str, StateValue] | None = None,
        changes: dict[str, StateValue] | None = None,
        public_keys: list[str] | None = None,
        create: bool = True,
    ) -> tuple[User, list[dict[str, Any]]] | None:
        """Create (with fresh_state) or update a user; merge `changes`; replace public keys
        when given. Answers the user and the changed items, or None when the user is
        unknown and `create` is False."""

    @abc.abstractmethod
    def get_user(self, username: str) -> User | None: ...

    def get_users(self, usernames: list[str]) -> list[User]:
        """The known users among `usernames`, in that order (one round trip on a networked
        engine, where a loop of get_user would make one per user)."""
        found = [self.get_user(name) for name in usernames]
        return [user for user in found if user is not None]

    def user_states(
        self, usernames: list[str], *, public: bool
    ) -> list[tuple[str, dict[str, StateValue]]]:
        """(username, state) of the known users among `usernames`, in that order; only the
        public keys when `public`. Answers /connect and /info list every member of a
        channel: an engine that can read states without copying whole users overrides it."""
        return [
            (user.username, user.public_state if public else user.state)
            for user in self.get_users(usernames)
        ]

    @abc.abstractmethod
    def list_users(self) -> list[User]: ...

    @abc.abstractmethod
    def collect_users(self, idle_before: float) -> list[str]:
        """Forget users with no connection whose last activity is older than the cutoff."""

    # -- connections -----------------------------------------------------------------
    @abc.abstractmethod
    def add_connection(self, conn_id: str, username: str, now: float) -> Connection:
        """Register a connection, or answer the existing one with that id."""

    @abc.abstractmethod
    def get_connection(self, conn_id: str) -> Connection | None: ...

    @abc.abstractmethod
    def list_connections(self) -> list[Connection]: ...

    @abc.abstractmethod
    def touch_connection(self, conn_id: str, now: float) -> None: ...

    @abc.abstractmethod
    def touch_connections(self, conn_ids: list[str], now: float) -> None:
        """Mark many connections (and their users) active at once (heartbeat passes)."""

    def user_channels(self, username: str) -> list[str]:
        """Sorted names of the channels any connection of the user is in.

        A networked engine answers this from an index instead of every connection."""
        names: set[str] = set()
        for conn in self.list_connections():
            if conn.username == username:
                names.update(conn.channels)
        return sorted(names)

    @abc.abstractmethod
    def mark_disconnected(self, conn_id: str) -> bool: ...

    @abc.abstractmethod
    def save_positions(self, conn_id: str, positions: dict[str | None, Position]) -> None:
        """Remember what a connection was last sent (merged into what is known)."""

    @abc.abstractmethod
    def collectable_connections(self, idle_before: float) -> list[str]:
        """Connections marked disconnected, or idle since before the cutoff.

        A networked engine also answers the connections held by a node that stopped (its
        heartbeat expired), and may hand each connection to one caller for a short while
        (a claim), so that the passes of several nodes do not all collect the same one."""

    @abc.abstractmethod
    def remove_connection(self, conn_id: str) -> Connection | None:
        """Drop the connection record (callers leave its channels first)."""

    # -- channels --------------------------------------------------------------------
    @abc.abstractmethod
    def ensure_channel(
        self, name: str, config: dict[str, Any] | None, now: float
    ) -> tuple[ChannelConfig, bool]:
        """The channel's config, creating the channel with `config` if it does not exist."""

    @abc.abstractmethod
    def configure_channel(self, name: str, changes: dict[str, Any], now: float) -> ChannelConfig:
        """Create the channel or change its config."""

    @abc.abstractmethod
    def channel_config(self, name: str) -> ChannelConfig | None: ...

    @abc.abstractmethod
    def channel_names(self) -> list[str]: ...

    @abc.abstractmethod
    def channel_info(
        self, name: str, *, include_history: bool, include_users: bool
    ) -> dict[str, Any] | None:
        """0.7's channel info: uuid, name, long_name, settings, history, last_active,
        total_connections, total_users, users."""

    @abc.abstractmethod
    def channel_users(self, name: str) -> list[str]:
        """Sorted names of the users with a connection in the channel."""

    @abc.abstractmethod
    def join_channel(self, name: str, conn_id: str, username: str, now: float) -> JoinResult:
        """Put the connection in the (existing) channel and in its record's channels."""

    @abc.abstractmethod
    def leave_channel(self, name: str, conn_id: str, username: str, now: float) -> LeaveResult: ...

    @abc.abstractmethod
    def collect_channels(self, idle_before: float) -> list[str]:
        """Drop channels with no connection, idle since before the cutoff."""

    # -- streams ---------------------------------------------------------------------
    @abc.abstractmethod
    def publish(self, event: Event, *, now: float, history: bool = False) -> Event | None:
        """Give a channel event (event.channel) or a direct one (event.direct_to) the
        stream's next offset and its epoch, keep it for catch-up (channels with
        store_frames) and history (when `history`), then hand it to every node's hub.
        Answers the stamped event, or None for an unknown channel."""

    def publish_many(self, items: list[tuple[Event, bool]], *, now: float) -> list[Event | None]:
        """`publish` for several `(event, history)` pairs, in order; answers what `publish`
        would for each. A networked engine sends them in one round trip; each event is
        still stamped, kept and handed over atomically on its own."""
        return [self.publish(event, now=now, history=history) for event, history in items]

    @abc.abstractmethod
    def broadcast(self, envelope: Envelope) -> None:
        """Hand a control envelope to every node's hub."""

    @abc.abstractmethod
    def edit_message(self, stream: Stream, uuid: str, changes: dict[str, Any]) -> bool:
        """Update a kept message (history and catch-up) in place; False when not kept."""

    @abc.abstractmethod
    def delete_message(self, stream: Stream, uuid: str) -> bool:
        """Remove a kept message from history and catch-up; False when not kept."""

    @abc.abstractmethod
    def replay(self, stream: Stream, after: Position | None) -> Replay:
        """Kept events after `after`, oldest first; none when `after` is None."""

    @abc.abstractmethod
    def position(self, stream: Stream) -> Position:
        """The stream's (epoch, latest offset)."""

    # -- figures ---------------------------------------------------------------------
    @abc.abstractmethod
    def counters(self) -> dict[str, int]:
        """Cluster-wide totals: {"total_unique_messages": n}."""
