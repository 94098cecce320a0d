"""Use cases: what each API call does, in terms of the engine. Every function takes the
state as its first argument and never reads the global one."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from channelstream import jsonenc
from channelstream.cooperate import EVERY, in_turns, slices
from channelstream.engine.base import (
    Disconnected,
    Stream,
    Subscribed,
    Unsubscribed,
    channel_stream,
    direct_stream,
)
from channelstream.errors import UNKNOWN_CONNECTION, LimitReached, ValidationFailed
from channelstream.limits import refusals
from channelstream.model.connection import Connection
from channelstream.model.event import NOBODY, Event
from channelstream.model.user import StateValue, User

if TYPE_CHECKING:
    from channelstream.state import State

log = logging.getLogger(__name__)

# Delivery rules travel beside a message, never inside what clients receive.
DELIVERY_KEYS = ("pm_users", "exclude_users", "no_history")
# Events handed to the engine in one call; other clients get a turn between two calls.
# Only a batch longer than this is split: should the engine fail half-way (Redis gone),
# the slices before were published and the answer is an error; a retry within
# idempotency_window repeats none of them (the engine publishes a uuid once per stream).
PUBLISH_SLICE = 200
# The conn_id prefix of a stand-in that holds a departed connection's presence during
# presence_grace (never a valid conn_id of the API, which are UUIDs).
STAND_IN = "grace:"


# -- connections and channels --------------------------------------------------------
def connect(
    state: State,
    *,
    username: str,
    conn_id: str | None,
    channels: list[str],
    channel_configs: dict[str, dict[str, Any]],
    fresh_user_state: dict[str, StateValue],
    user_state: dict[str, StateValue],
    state_public_keys: list[str] | None,
) -> tuple[Connection, User]:
    """Open (or name again) a connection. The limits are checked before anything changes:
    a refused connect leaves the user, the connection and the channels as they were."""
    now = state.clock()
    existing = state.engine.get_connection(conn_id) if conn_id else None
    if existing is not None and existing.username != username:
        raise ValidationFailed({"conn_id": ["Connection belongs to another user."]})
    _check_channels_held(state, existing.channels if existing else set(), channels)
    conn_id = conn_id or state.new_id()
    most = state.settings.max_connections_per_user
    conn = state.engine.add_connection(conn_id, username, now, max_per_user=most)
    if conn is None:
        raise LimitReached(
            refusals.PER_USER,
            429,
            "username",
            f"{username} holds {most} connections, the most one user may hold "
            "(max_connections_per_user); close one first.",
        )
    found = state.engine.upsert_user(
        username,
        now=now,
        fresh_state=fresh_user_state,
        changes=user_state,
        public_keys=state_public_keys,
    )
    assert found is not None
    user = found[0]
    _join(state, conn, channels, channel_configs, now)
    refreshed = state.engine.get_connection(conn_id)
    log.info("connected %s as %s", username, conn_id)
    return refreshed or conn, user


def subscribe(
    state: State, conn: Connection, channels: list[str], channel_configs: dict[str, Any]
) -> list[str]:
    _check_channels_held(state, conn.channels, channels)
    return _join(state, conn, channels, channel_configs, state.clock())


def _check_channels_held(state: State, held: Collection[str], asked: Iterable[str]) -> None:
    """max_channels_per_connection: what the connection would hold once the call joined
    its new channels (what one call may name is bounded apart, on the raw body)."""
    most = state.settings.max_channels_per_connection
    if not most:
        return
    new = set(asked).difference(held)
    if new and len(held) + len(new) > most:
        raise LimitReached(
            refusals.CHANNELS_PER_CONNECTION,
            422,
            "channels",
            f"A connection may be in at most {most} channels (max_channels_per_connection); "
            f"this one would be in {len(held) + len(new)}.",
        )


def _join(
    state: State,
    conn: Connection,
    channels: Iterable[str],
    channel_configs: dict[str, Any],
    now: float,
) -> list[str]:
    joined: list[str] = []
    # In slices, each announced before other clients get a turn: an event published to a
    # joined channel meanwhile then reaches this connection.
    for names in slices(sorted(set(channels)), EVERY):
        positions = {}
        for name in names:
            config, _ = state.engine.ensure_channel(name, channel_configs.get(name), now)
            result = state.engine.join_channel(name, conn.conn_id, conn.username, now)
            if not result.joined:
                continue
            joined.append(name)
            positions[name] = result.position
            if result.first_for_user and config.notify_presence:
                _presence(state, name, conn.username, "joined", now, config)
        if positions:
            state.engine.broadcast(Subscribed(conn.conn_id, positions))
    return joined


def unsubscribe(state: State, conn: Connection, channels: list[str]) -> list[str]:
    return _leave(state, conn, channels, state.clock())


def _leave(state: State, conn: Connection, channels: Iterable[str], now: float) -> list[str]:
    left = []
    for name in in_turns(sorted(set(channels))):
        result = state.engine.leave_channel(name, conn.conn_id, conn.username, now)
        if not result.left:
            continue
        left.append(name)
        config = state.engine.channel_config(name)
        if result.last_for_user and config is not None and config.notify_presence:
            _presence(state, name, conn.username, "parted", now, config)
    if left:
        state.engine.broadcast(Unsubscribed(conn.conn_id, tuple(left)))
    return left


def _presence(
    state: State, channel: str, username: str, action: str, now: float, config: Any
) -> None:
    users: list[dict[str, Any]] = []
    if config.broadcast_presence_with_user_lists:
        names = state.engine.channel_users(channel)
        found = dict(state.engine.user_states(names, public=True))
        users = [{"user": name, "state": found.get(name, {})} for name in names]
    joined_state = None
    if action == "joined":
        user = state.engine.get_user(username)
        joined_state = user.public_state if user else {}
    payload = {
        "uuid": state.new_id(),
        "type": "presence",
        "user": username,
        "users": users,
        "timestamp": jsonenc.utc_now_iso(now),
        "channel": channel,
        "message": {"action": action},
        "state": joined_state,
        "catchup": False,
    }
    # 0.7: presence is never sent to the user it is about.
    event = Event(payload, channel=channel, exclude_users=frozenset({username}))
    state.engine.publish(event, now=now)


def disconnect(state: State, conn_id: str) -> bool:
    """Mark for collection; the next garbage-collection pass closes and removes it."""
    return state.engine.mark_disconnected(conn_id)


def collect_connection(state: State, conn_id: str) -> None:
    """A connection that went (disconnected, idle, or its node died) leaves its channels;
    with ``presence_grace`` it first gives way to a stand-in that holds its presence for the
    grace, so that a new connection of the user within it changes nothing for anyone (no
    ``parted`` + ``joined``, no webhook events), and otherwise the stand-in is collected when
    the grace ends, with the departures the connection would have had (docs/webhooks.md)."""
    conn = state.engine.get_connection(conn_id)
    if conn is None:
        return
    now = state.clock()
    grace = state.settings.presence_grace
    if grace > 0 and not conn_id.startswith(STAND_IN):
        # Dated so that the idle rule collects it when the grace ends.
        last_active = now + grace - state.settings.gc_conns_after
        state.engine.retire_connection(conn_id, STAND_IN + state.new_id(), last_active)
        state.engine.broadcast(Disconnected(conn_id))
        log.info("connection %s of %s went; its presence stays %gs", conn_id, conn.username, grace)
        return
    _leave(state, conn, conn.channels, now)
    state.engine.remove_connection(conn_id, now)
    state.engine.broadcast(Disconnected(conn_id))
    log.info("collected connection %s of %s", conn_id, conn.username)


def collect_idle_connections(state: State) -> int:
    cutoff = state.clock() - state.settings.gc_conns_after
    gone = state.engine.collectable_connections(cutoff)
    for conn_id in in_turns(gone):
        collect_connection(state, conn_id)
    return len(gone)


def collect_idle_users_and_channels(state: State) -> tuple[int, int]:
    now = state.clock()
    users = state.engine.collect_users(now - state.settings.gc_users_after)
    channels = state.engine.collect_channels(now - state.settings.gc_channels_after)
    return len(users), len(channels)


def reconfigure_channel(state: State, name: str, changes: dict[str, Any]) -> bool:
    """Change an existing channel's config; False when there is no such channel."""
    if state.engine.channel_config(name) is None:
        return False
    state.engine.configure_channel(name, changes, state.clock())
    return True


def find_connection(state: State, conn_id: str) -> Connection:
    """The connection, or 422 with 0.7.1's answer."""
    conn = state.engine.get_connection(conn_id)
    if conn is None:
        raise ValidationFailed(UNKNOWN_CONNECTION)
    return conn


def subscriptions(state: State, conn_id: str) -> list[str]:
    """The connection's channels now, sorted (none once it is gone)."""
    conn = state.engine.get_connection(conn_id)
    return sorted(conn.channels) if conn else []


def set_channel_configs(state: State, configs: dict[str, dict[str, Any]]) -> list[str]:
    now = state.clock()
    for name, config in in_turns(list(configs.items())):
        state.engine.configure_channel(name, config, now)
    return list(configs)


# -- user state ----------------------------------------------------------------------
def set_user_state(
    state: State,
    username: str,
    changes: dict[str, StateValue],
    public_keys: list[str] | None,
) -> tuple[User, list[dict[str, Any]]]:
    now = state.clock()
    found = state.engine.upsert_user(
        username, now=now, changes=changes, public_keys=public_keys, create=False
    )
    if found is None:
        raise ValidationFailed({"user": ["Unknown user"]})  # 0.7.1's text
    user, changed = found
    public_changed = user.public_changes(changed)
    if changed:
        message = {"state": user.public_state, "changed": public_changed}
        timestamp = jsonenc.utc_now_iso(now)
        events = []
        for name in in_turns(state.engine.user_channels(username)):
            config = state.engine.channel_config(name)
            if config is None or not config.notify_state:
                continue
            payload = {
                "uuid": state.new_id(),
                "type": "user_state_change",
                "user": username,
                "timestamp": timestamp,
                "catchup": False,
                "channel": name,
                "message": message,
            }
            events.append((Event(payload, channel=name), False))
        if events:
            # One engine call for every channel: one Redis round trip.
            state.engine.publish_many(events, now=now)
    return user, changed


# -- messages ------------------------------------------------------------------------
def publish_messages(state: State, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Publish validated messages in order, in one engine call (one Redis round trip for a
    list, or one per PUBLISH_SLICE events of a long one); answer them as 0.7 did, defaults
    filled. Every message was validated before: none is refused half-way. As in 0.7.1, a
    message with neither a channel nor recipients is dropped, from the answer too.

    A message whose uuid its channel (or recipient) saw within idempotency_window, earlier
    in the same list too, is the earlier one: the engine neither delivers nor keeps it
    again, and its answer is the earlier one's (uuid, timestamp, message, offset...)."""
    kept: list[dict[str, Any]] = []
    items: list[tuple[Event, bool]] = []
    owners: list[dict[str, Any]] = []
    # Once per call, not per message: this loop is most of a publish's own work.
    add_item = items.append
    add_owner = owners.append
    for message in messages if len(messages) < EVERY else in_turns(messages):
        channel = message.get("channel")
        if not channel and not message.get("pm_users"):
            continue
        kept.append(message)
        message["type"] = "message"
        message["catchup"] = False
        message["edited"] = None
        # A copy minus three keys: about 0.2 us, where a filtering comprehension took 1.5.
        payload = message.copy()
        del payload["pm_users"], payload["exclude_users"], payload["no_history"]
        history = not message["no_history"]
        if channel and not message["pm_users"] and not message["exclude_users"]:
            # The common message: to a channel, no delivery rules (what _events makes).
            add_item((Event(payload, channel=channel), history))
            add_owner(message)
            continue
        for event in _events(state, payload, message):
            add_item((event, history))
            add_owner(message)
    if len(items) <= PUBLISH_SLICE:
        stamped_events = state.engine.publish_many(items, now=state.clock()) if items else []
    else:
        stamped_events = []
        for part in slices(items, PUBLISH_SLICE):
            stamped_events.extend(state.engine.publish_many(part, now=state.clock()))
    for owner, item, stamped in zip(owners, items, stamped_events, strict=True):
        if stamped is item[0]:
            owner["offset"] = stamped.offset
            owner["epoch"] = stamped.epoch
        elif stamped is not None:
            owner.update(stamped.payload)  # published before: the original's answer
    return kept


def edit_messages(state: State, edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for edit in in_turns(edits):
        changes = {k: v for k, v in edit.items() if k not in DELIVERY_KEYS}
        for stream in _streams(edit):
            state.engine.edit_message(stream, edit["uuid"], changes)
        payload = {**changes, "type": "message:edit", "catchup": False}
        _route(state, payload, edit)
    return edits


def delete_messages(state: State, deletes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for delete in in_turns(deletes):
        for stream in _streams(delete):
            state.engine.delete_message(stream, delete["uuid"])
        payload = {
            "uuid": delete["uuid"],
            "channel": delete.get("channel"),
            "type": "message:delete",
            "catchup": False,
        }
        _route(state, payload, delete)
    return deletes


def _streams(item: dict[str, Any]) -> list[Stream]:
    """The streams that hold copies of an addressed message."""
    if item.get("channel"):
        return [channel_stream(item["channel"])]
    return [direct_stream(username) for username in item.get("pm_users") or ()]


def _route(state: State, payload: dict[str, Any], rules: dict[str, Any]) -> None:
    """One path for every published item: its events go through the engine."""
    state.engine.publish_many(
        [(event, False) for event in _events(state, payload, rules)], now=state.clock()
    )


def _events(state: State, payload: dict[str, Any], rules: dict[str, Any]) -> list[Event]:
    """A channel event, or one direct event per known recipient (each recipient's stream
    numbers its own copy); none for an item with neither a channel nor recipients."""
    pm_users = frozenset(rules["pm_users"]) if rules.get("pm_users") else NOBODY
    exclude = frozenset(rules["exclude_users"]) if rules.get("exclude_users") else NOBODY
    if rules.get("channel"):
        return [Event(payload, channel=rules["channel"], pm_users=pm_users, exclude_users=exclude)]
    # One engine call for every recipient (a round trip on Redis), not one per recipient.
    return [
        Event(dict(payload), channel=None, direct_to=user.username)
        for user in state.engine.get_users(sorted(pm_users - exclude))
    ]
