"""What the admin panel polls, each answer small whatever the node holds: the summary (totals
and trends, no channel or user lists), a page of channels or of users, one channel.

admin.json (``presenters.admin_summary``) keeps 0.7's shape, every channel's history in it;
the panel no longer reads it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from channelstream import jsonenc
from channelstream.cooperate import in_turns
from channelstream.model.connection import Connection
from channelstream.presenters import channel_info
from channelstream.version import __version__

if TYPE_CHECKING:
    from channelstream.state import State
    from channelstream.trends import Trends

Item = TypeVar("Item")
# The conn_id prefix of presence_grace's stand-ins (operations.STAND_IN, not imported: the
# dashboard reads, it never acts).
STAND_IN = "grace:"
# The channel view lists this many of its users (with their connections); the count is whole.
MEMBERS_SHOWN = 200

_DIGITS = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple[tuple[Any, ...], str]:
    """Names as people sort them: "ch2" before "ch10", case aside; the name itself breaks
    ties, so that the order is total. Split on digits, text and numbers alternate, so two
    keys always compare like with like."""
    parts = _DIGITS.split(name)
    key = tuple(int(part) if index % 2 else part.casefold() for index, part in enumerate(parts))
    return key, name


def ordered(items: list[Item], sort: str, keys: dict[str, Callable[[Item], Any]]) -> list[Item]:
    """`items` by `sort` (a key's name, "-" first for descending); the name breaks ties."""
    field = sort.lstrip("-")
    descending = sort.startswith("-")
    by_name = keys["name"]
    if field == "name":
        return sorted(items, key=by_name, reverse=descending)
    first = sorted(items, key=by_name)
    # Python's sort is stable: ties keep the names' order, ascending either way.
    return sorted(first, key=keys[field], reverse=descending)


def matching(names: Iterable[str], q: str) -> list[str]:
    needle = q.casefold()
    return [name for name in names if needle in name.casefold()] if needle else list(names)


def page(total: int, query: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    return {
        "total": total,
        "offset": query["offset"],
        "limit": query["limit"],
        "sort": query["sort"],
        "q": query["q"],
        "items": items,
    }


# -- the summary ----------------------------------------------------------------------
def summary(state: State, trends: Trends) -> dict[str, Any]:
    """admin.json's totals, this node's connections by transport and its trends."""
    engine = state.engine
    connections = engine.list_connections()
    uptime_seconds = int(state.clock() - state.started_at)
    counts = trends.hub_connections()
    return {
        "remembered_user_count": len(engine.list_users()),
        "unique_user_count": len({conn.username for conn in connections}),
        "total_connections": len(connections),
        "total_channels": len(engine.channel_names()),
        "total_messages": state.hub.deliveries,
        "total_unique_messages": engine.counters().get("total_unique_messages", 0),
        "node_connections": counts,
        "uptime": str(datetime.timedelta(seconds=uptime_seconds)),
        "uptime_seconds": uptime_seconds,
        "version": __version__,
        "trends": trends.summary(),
    }


# -- channels -------------------------------------------------------------------------
def channel_page(state: State, trends: Trends, query: dict[str, Any]) -> dict[str, Any]:
    """One page of the channels whose names hold `q`, each without history or user list."""
    engine = state.engine
    names = matching(engine.channel_names(), query["q"])
    names = ordered(names, query["sort"], {"name": natural_key, "rate": trends.channel_rate})
    start = query["offset"]
    rows = []
    for name in in_turns(names[start : start + query["limit"]]):
        snapshot = engine.channel_snapshot(name, include_history=False, include_users=True)
        if snapshot is None:
            continue  # collected meanwhile
        rows.append(
            {
                "name": name,
                "total_users": len(snapshot.users),
                "total_connections": snapshot.total_connections,
                "settings": snapshot.config.as_dict(),
                "last_active": jsonenc.utc_now_iso(snapshot.last_active),
                "offset": snapshot.position[1],
                "rate": trends.channel_rate(name),
            }
        )
    return page(len(names), query, rows)


def channel_view(state: State, trends: Trends, name: str) -> dict[str, Any] | None:
    """One channel as /info answers it (history included), its rate now and over the last
    minutes, and its users with their connections in it; None when there is no channel."""
    snapshot = state.engine.channel_snapshot(name, include_history=True, include_users=True)
    if snapshot is None:
        return None
    found = channel_info(snapshot)
    found["rate"] = trends.channel_rate(name)
    found["rates"] = trends.channel_series(name)
    found["interval"] = trends.interval
    shown = sorted(snapshot.users, key=natural_key)[:MEMBERS_SHOWN]
    conns = [conn for conn in state.engine.list_connections() if name in conn.channels]
    found["members"] = user_rows(state, shown, conns)
    return found


# -- users ----------------------------------------------------------------------------
def connection_row(conn_id: str) -> dict[str, Any]:
    return {"conn_id": conn_id, "stand_in": conn_id.startswith(STAND_IN)}


def user_rows(state: State, names: list[str], conns: list[Connection]) -> list[dict[str, Any]]:
    """The named users (in this order) with their public state and the connections of
    `conns` that are theirs."""
    by_user: dict[str, list[str]] = {}
    for conn in conns:
        by_user.setdefault(conn.username, []).append(conn.conn_id)
    users = {user.username: user for user in state.engine.get_users(names)}
    rows = []
    for name in names:
        user = users.get(name)
        rows.append(
            {
                "user": name,
                "uuid": user.uuid if user else None,
                "state": user.public_state if user else {},
                "connections": [connection_row(c) for c in sorted(by_user.get(name, []))],
            }
        )
    return rows


def user_page(state: State, query: dict[str, Any]) -> dict[str, Any]:
    """One page of the users with a connection whose names hold `q`."""
    conns = state.engine.list_connections()
    counts: dict[str, int] = {}
    for conn in conns:
        counts[conn.username] = counts.get(conn.username, 0) + 1
    names = ordered(
        matching(counts, query["q"]),
        query["sort"],
        {"name": natural_key, "connections": counts.__getitem__},
    )
    start = query["offset"]
    shown = names[start : start + query["limit"]]
    wanted = set(shown)
    rows = user_rows(state, shown, [conn for conn in conns if conn.username in wanted])
    return page(len(names), query, rows)
