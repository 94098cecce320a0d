"""0.7's answers about channels and the server, built from what the engine reports.

Engines answer raw values (``ChannelSnapshot``: floats, configs, positions); the names,
formats and shapes that 0.7 backends and tools read are made here, once, for every engine.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from channelstream import jsonenc
from channelstream.cooperate import in_turns
from channelstream.engine.base import ChannelSnapshot
from channelstream.version import __version__

if TYPE_CHECKING:
    from channelstream.state import State


def channel_info(snapshot: ChannelSnapshot) -> dict[str, Any]:
    """One channel as 0.7 described it, plus where its stream stands."""
    return {
        "uuid": snapshot.uuid,
        "name": snapshot.name,
        "long_name": None,  # 0.7.1 never set it
        "settings": snapshot.config.as_dict(),
        "history": snapshot.history,
        "last_active": jsonenc.utc_now_iso(snapshot.last_active),
        "total_connections": snapshot.total_connections,
        "total_users": len(snapshot.users),
        "users": snapshot.users,
        # Beyond 0.7: where the channel's stream stands, for clients that resume.
        "epoch": snapshot.position[0],
        "offset": snapshot.position[1],
    }


def channels_info(
    state: State,
    channels: Iterable[str] | None,
    *,
    include_history: bool = True,
    include_users: bool = True,
    exclude_channels: Iterable[str] = (),
    return_public_state: bool = False,
) -> dict[str, Any]:
    """The answer of /info (and `channels_info` in other answers): the named channels (every
    channel for None) and the users found in them with their state."""
    engine = state.engine
    names = engine.channel_names() if channels is None else channels
    excluded = set(exclude_channels)
    result: dict[str, Any] = {"channels": {}, "users": []}
    listed: set[str] = set()
    for name in in_turns(names):  # over every channel of a node: others get turns
        if name in excluded:
            continue
        snapshot = engine.channel_snapshot(
            name, include_history=include_history, include_users=include_users
        )
        if snapshot is None:
            continue
        result["channels"][name] = channel_info(snapshot)
        listed.update(snapshot.users)
    # One engine call for all of them: on Redis, one round trip instead of one per user.
    result["users"] = [
        {"user": name, "state": user_state}
        for name, user_state in engine.user_states(sorted(listed), public=return_public_state)
    ]
    return result


def admin_summary(state: State) -> dict[str, Any]:
    """admin.json: totals, channels, users with their connections, uptime, version."""
    users = state.engine.list_users()
    connections = state.engine.list_connections()
    by_user: dict[str, list[str]] = {}
    for conn in connections:
        by_user.setdefault(conn.username, []).append(conn.conn_id)
    info = channels_info(state, None, include_history=True, include_users=True)
    uptime_seconds = int(state.clock() - state.started_at)
    counters = state.engine.counters()
    return {
        "remembered_user_count": len(users),
        "unique_user_count": len(by_user),
        "total_connections": len(connections),
        "total_channels": len(info["channels"]),
        "total_messages": state.hub.deliveries,
        "total_unique_messages": counters.get("total_unique_messages", 0),
        "channels": info["channels"],
        "users": [
            {
                "user": user.username,
                "state": user.public_state,
                "uuid": user.uuid,
                "connections": sorted(by_user[user.username]),
            }
            for user in users
            if user.username in by_user
        ],
        "uptime": str(datetime.timedelta(seconds=uptime_seconds)),
        "uptime_seconds": uptime_seconds,
        "version": __version__,
    }


def webhook_summary(state: State, *, sending: bool) -> dict[str, Any]:
    """The webhook's state for the admin panel, the same on every node (the outbox and the
    sender's report live in the engine): what waits, what went, what failed, who sends
    (`sending`: whether this node's sender holds the lease)."""
    settings = state.settings
    outbox = state.engine.outbox_state()
    report = outbox.report

    def count(key: str) -> int:
        return int(report.get(key) or 0)

    def when(key: str) -> str | None:
        value = report.get(key)
        return jsonenc.utc_now_iso(int(value) / 1000) if value else None

    return {
        "enabled": bool(settings.webhook_url),
        "url": settings.redacted()["webhook_url"],
        "events": list(settings.webhook_events),
        "pending": outbox.pending,
        "dropped": outbox.dropped,
        "sent": count("sent"),
        "failures": count("failures"),
        "abandoned": count("abandoned"),
        "last_success": when("last_success_ms"),
        "last_failure": when("last_failure_ms"),
        "last_error": report.get("last_error") or None,
        "failing_since": when("failing_since_ms"),
        "sender": report.get("sender") or None,
        "this_node_sends": sending,
    }


def health(state: State) -> tuple[dict[str, Any], bool]:
    """/health's body, and whether this node can serve."""
    engine = state.engine.health()
    ok = bool(engine.get("ok"))
    body = {
        "status": "ok" if ok else "unavailable",
        "engine": engine,
        "connections": len(state.hub.connections),
    }
    return body, ok
