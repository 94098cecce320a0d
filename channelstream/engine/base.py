"""The engine contract, in small parts: what the node asks of an engine, and what an engine
tells the node.

An engine is a ``Broker`` (streams: stamp, keep and fan out events; replay them), a
``PresenceStore`` (users, connections, channels and their states) and an ``Outbox`` (the
presence transitions it decided, for the webhook), started with the node's
``EngineEvents``: the only way anything travels back up. An engine imports nothing
above this package and never inspects what it is given beyond these methods.

Every method is atomic with respect to other calls on the same engine (the memory engine
never yields; a networked engine uses server-side atomic commands). Methods that return
records return copies: changing them changes nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from channelstream import jsonenc
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


def original_event(event: Event, body: bytes) -> Event:
    """The event that answered the first publish of `event`'s uuid in its stream (within
    idempotency_window), from the stamped payload's JSON an engine kept of it."""
    return Event(
        jsonenc.loads(body),
        channel=event.channel,
        direct_to=event.direct_to,
        pm_users=event.pm_users,
        exclude_users=event.exclude_users,
        body=body,
    )


def channel_stream(name: str) -> Stream:
    return ("channel", name)


def direct_stream(username: str) -> Stream:
    return ("direct", username)


# -- what travels from any node to every node --------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class Subscribed:
    """A connection joined channels: a node holding it starts delivering after `positions`."""

    conn_id: str
    positions: dict[str, Position]


@dataclasses.dataclass(frozen=True, slots=True)
class Unsubscribed:
    conn_id: str
    channels: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Disconnected:
    """A connection is gone: the node holding its socket closes it."""

    conn_id: str


# Membership changes, delivered in the same total order as the events around them.
Control = Subscribed | Unsubscribed | Disconnected
Envelope = Event | Control


# -- answers -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class JoinResult:
    joined: bool  # False when the connection was already in the channel
    first_for_user: bool  # the user's first connection into the channel
    position: Position  # the channel stream's position at the time of joining


@dataclasses.dataclass(frozen=True, slots=True)
class LeaveResult:
    left: bool
    last_for_user: bool


# The presence transitions an engine decides, by the names of the webhook events they
# become (docs/webhooks.md): a user's first and last connection anywhere, a channel's first
# and last connection, a user's first and last connection in a channel.
TRANSITIONS = (
    "user_online",
    "user_offline",
    "channel_occupied",
    "channel_vacated",
    "user_joined",
    "user_parted",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    seq: int  # its place in the outbox: the order in which the shared state changed
    name: str  # one of TRANSITIONS
    time_ms: int  # the `now` of the call that made it, in milliseconds
    channel: str | None
    user: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxBatch:
    """The oldest transitions waiting, taken by the holder of the outbox's lease."""

    # Names this life of the outbox: seq restarts only with a new epoch (a Redis that lost
    # its data), so f"{epoch}-{seq}" is unique and stable across retries.
    epoch: str
    transitions: list[Transition]
    # Transitions the cap dropped since the previous take (counted once, then reset).
    dropped: int


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxState:
    pending: int
    dropped: int  # dropped by the cap, in all
    # What the sender last reported (`report_outbox`): values and counters, as text.
    report: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Replay:
    events: list[Event]
    position: Position  # the stream's current (epoch, latest offset)
    # None when the replay is exact; "epoch" or "window" when events may be missing.
    gap: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """What the shared state knows about a channel, as raw values; ``presenters`` turns it
    into 0.7's channel info (names, formats) so that no engine has to."""

    name: str
    uuid: str
    config: ChannelConfig
    last_active: float
    total_connections: int
    # Sorted names of the users with a connection in it (empty unless asked for).
    users: list[str]
    # Kept message payloads, oldest first (empty unless asked for).
    history: list[dict[str, Any]]
    position: Position


# -- what an engine tells the node -------------------------------------------------------
class EngineEvents(Protocol):
    """The node's side of the contract (``delivery.node.Node``). Calls come from whatever
    the engine delivers in (the caller's greenlet, or a networked engine's subscriber)."""

    def on_event(self, event: Event) -> None:
        """A stamped event published on any node, in its stream's offset order."""

    def on_control(self, envelope: Control) -> None:
        """A membership change published on any node, in order with the events."""

    def on_resubscribed(self) -> None:
        """The engine is hearing every node again after an outage: envelopes published
        meanwhile never arrived, so the node's streams may have holes."""

    def wants(self, channel: str) -> bool:
        """Whether a connection on this node listens to `channel`; an engine that hears
        every channel may drop the rest before decoding them."""


# -- the broker side ---------------------------------------------------------------------
class Broker(Protocol):
    def publish(self, event: Event, *, now: float, history: bool = False) -> Event | None:
        """Give a channel event (event.channel) or a direct one (event.direct_to) the
        stream's next offset and its epoch, keep it for catch-up (channels with
        store_frames) and history (when `history`), then hand it to every node.
        Answers the stamped event, or None for an unknown channel. Raises
        ``errors.Unavailable`` when it cannot tell an unknown channel from a lost one.

        Once only: a `message` (not presence, an edit...) whose uuid this stream published
        less than ``settings.idempotency_window`` seconds before `now` (by the callers'
        clock) is neither kept nor handed over again; the answer is the event that
        publish answered (another object: its payload, offset and epoch), decided
        atomically for every node. What is remembered expires with the window. A window
        of 0 remembers nothing."""

    def publish_many(self, items: list[tuple[Event, bool]], *, now: float) -> list[Event | None]:
        """`publish` for several `(event, history)` pairs, in order; answers what `publish`
        would for each. A networked engine sends them in one round trip; each event is
        still stamped, kept and handed over atomically on its own (so a uuid repeated in
        the list answers what its first publish in the list answered)."""

    def broadcast(self, envelope: Control) -> None:
        """Hand a membership change to every node."""

    def replay(self, stream: Stream, after: Position | None) -> Replay:
        """Kept events after `after`, oldest first; none when `after` is None."""

    def position(self, stream: Stream) -> Position:
        """The stream's (epoch, latest offset)."""

    def edit_message(self, stream: Stream, uuid: str, changes: dict[str, Any]) -> bool:
        """Update a kept message (history and catch-up) in place; False when not kept."""

    def delete_message(self, stream: Stream, uuid: str) -> bool:
        """Remove a kept message from history and catch-up; False when not kept."""

    def counters(self) -> dict[str, int]:
        """Cluster-wide totals: {"total_unique_messages": n, "users": n, "channels": n}
        (users and channels the shared state knows, online or remembered)."""


# -- the presence store side -------------------------------------------------------------
class UserStore(Protocol):
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

    def get_user(self, username: str) -> User | None: ...

    def get_users(self, usernames: list[str]) -> list[User]:
        """The known users among `usernames`, in that order (one round trip)."""

    def user_states(
        self, usernames: list[str], *, public: bool
    ) -> list[tuple[str, dict[str, StateValue]]]:
        """(username, state) of the known users among `usernames`, in that order; only the
        public keys when `public` (fresh dicts, without copying whole users)."""

    def list_users(self) -> list[User]: ...

    def collect_users(self, idle_before: float) -> list[str]:
        """Forget users with no connection whose last activity is older than the cutoff."""


class ConnectionStore(Protocol):
    def add_connection(
        self, conn_id: str, username: str, now: float, *, max_per_user: int = 0
    ) -> Connection | None:
        """Register a connection, or answer the existing one with that id (and clear its
        disconnected mark). With `max_per_user`, a new connection is refused (None) while
        the user holds that many connections not marked disconnected (stand-ins, see
        `retire_connection`, are not held): counted and added in one atomic step, so that
        callers on several nodes cannot both pass the limit. A new one records
        ``user_online`` when the user had no other connection."""

    def get_connection(self, conn_id: str) -> Connection | None: ...

    def get_connections(self, conn_ids: list[str]) -> list[Connection]:
        """The known connections among `conn_ids` (one round trip per few hundred)."""

    def list_connections(self) -> list[Connection]: ...

    def touch_connection(self, conn_id: str, now: float) -> None: ...

    def touch_connections(self, conn_ids: list[str], now: float) -> None:
        """Mark many connections (and their users) active at once (heartbeat passes)."""

    def user_channels(self, username: str) -> list[str]:
        """Sorted names of the channels any connection of the user is in."""

    def mark_disconnected(self, conn_id: str) -> bool: ...

    def save_positions(self, conn_id: str, positions: dict[str | None, Position]) -> None:
        """Remember what a connection was last sent (merged into what is known)."""

    def collectable_connections(self, idle_before: float) -> list[str]:
        """Connections marked disconnected, or idle since before the cutoff.

        A networked engine also answers the connections held by a node that stopped (its
        heartbeat expired), and may hand each connection to one caller for a short while
        (a claim), so that the passes of several nodes do not all collect the same one."""

    def remove_connection(self, conn_id: str, now: float) -> Connection | None:
        """Drop the connection record (callers leave its channels first). Records
        ``user_offline`` when it was the user's last connection."""

    def retire_connection(
        self, conn_id: str, stand_in: str, last_active: float
    ) -> Connection | None:
        """Replace the connection by a stand-in record `stand_in` that holds its presence (its
        channels, its place among the user's connections) and has no socket; its activity
        dated `last_active`, so that the idle rule collects it later. Answers the retired
        connection (None when unknown). Records no transition: for the cluster the user has
        not left (``presence_grace``)."""


class ChannelStore(Protocol):
    def ensure_channel(
        self, name: str, config: dict[str, Any] | None, now: float
    ) -> tuple[ChannelConfig, bool]:
        """The channel's config, creating the channel with `config` if it does not exist."""

    def configure_channel(self, name: str, changes: dict[str, Any], now: float) -> ChannelConfig:
        """Create the channel or change its config."""

    def channel_config(self, name: str) -> ChannelConfig | None: ...

    def channel_names(self) -> list[str]: ...

    def channel_positions(self, names: list[str]) -> dict[str, Position]:
        """Where each named channel's stream stands (the channels that exist), in one call:
        the admin's trends read every channel's once a second."""

    def channel_snapshot(
        self, name: str, *, include_history: bool, include_users: bool
    ) -> ChannelSnapshot | None: ...

    def channel_users(self, name: str) -> list[str]:
        """Sorted names of the users with a connection in the channel."""

    def join_channel(self, name: str, conn_id: str, username: str, now: float) -> JoinResult:
        """Put the connection in the (existing) channel and in its record's channels.
        Records ``channel_occupied`` for the channel's first connection, then
        ``user_joined`` for the user's first connection in it."""

    def leave_channel(self, name: str, conn_id: str, username: str, now: float) -> LeaveResult:
        """Records ``user_parted`` for the user's last connection in the channel, then
        ``channel_vacated`` for the channel's last connection."""

    def collect_channels(self, idle_before: float) -> list[str]:
        """Drop channels with no connection, idle since before the cutoff."""


class PresenceStore(UserStore, ConnectionStore, ChannelStore, Protocol):
    """Users, connections and channels: the shared state the use cases read and change."""


# -- the outbox --------------------------------------------------------------------------
class Outbox(Protocol):
    """The presence transitions the shared state decided, recorded by the very call that
    decided them (so each is recorded once for the cluster, in the order the state changed,
    and nothing is lost between the change and the outbox), kept for one consumer at a time:
    the holder of a lease (the webhook sender of one node).

    Nothing is recorded until `keep_transitions` is called; then at most `cap` transitions
    wait, the oldest dropped (and counted) beyond it."""

    def keep_transitions(self, names: frozenset[str], cap: int) -> None:
        """Record the transitions named (a subset of TRANSITIONS) from now on."""

    def take_transitions(self, holder: str, *, lease: float, limit: int) -> OutboxBatch | None:
        """Take (or renew) the lease for `lease` seconds and answer the `limit` oldest
        waiting transitions (none for 0: only renew); None while another holds it."""

    def drop_transitions(self, epoch: str, upto: int) -> int:
        """Remove the waiting transitions up to seq `upto` (delivered, or given up) of the
        outbox's life `epoch`; answers how many went (none for another epoch)."""

    def release_outbox(self, holder: str) -> None:
        """Give the lease up (a node stopping), so that another holder takes over at once."""

    def report_outbox(self, values: dict[str, str], increments: dict[str, int]) -> None:
        """Keep what the sender reports, for every node's admin panel: values replace,
        increments add up."""

    def outbox_state(self) -> OutboxState: ...


# -- a whole engine ----------------------------------------------------------------------
class Engine(Broker, PresenceStore, Outbox, Protocol):
    def start(self, events: EngineEvents) -> None:
        """Begin handing every envelope published on any node to `events`."""

    def stop(self) -> None: ...

    def health(self) -> dict[str, Any]:
        """{"ok": bool, ...}: whether this node can reach the shared state."""

    def error_count(self) -> int:
        """Failures to reach the shared state in the engine's own background work (its
        subscriber, its heartbeat) since it started; what requests met is counted above."""
