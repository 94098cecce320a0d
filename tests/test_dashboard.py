"""The admin dashboard's answers on a memory-engine state: natural order, paging, sorting,
filters, stand-ins, and a summary that carries no channel's history."""

from __future__ import annotations

import json
from typing import Any

from channelstream import dashboard, operations
from channelstream.state import State
from channelstream.trends import Trends
from tests.support.memory import Clock, connect, listen, make_state
from tests.test_trends import publish


def query(**changes: Any) -> dict[str, Any]:
    return {"offset": 0, "limit": 50, "sort": "name", "q": "", **changes}


def trends_of(state: State) -> Trends:
    return Trends(state.hub, state.engine, state.clock, 1)


def test_natural_order_puts_ch2_before_ch10_case_aside() -> None:
    names = ["ch10", "ch2", "Ch1", "ch", "ch2b", "ch02", "b7", "a10b2", "a10b10", "10", "9"]
    assert sorted(names, key=dashboard.natural_key) == [
        "9",
        "10",
        "a10b2",
        "a10b10",
        "b7",
        "ch",
        "Ch1",
        "ch02",
        "ch2",
        "ch2b",
        "ch10",
    ]
    # Unicode digits are text, not numbers (int() would take some of them, not all).
    assert sorted(["x²", "x1"], key=dashboard.natural_key) == ["x1", "x²"]


def test_ordered_descending_and_by_another_key_keeps_names_in_order_within_ties() -> None:
    keys = {"name": dashboard.natural_key, "size": len}
    items = ["bb", "a", "c2", "c10", "dd"]
    assert dashboard.ordered(items, "-name", keys) == ["dd", "c10", "c2", "bb", "a"]
    assert dashboard.ordered(items, "size", keys) == ["a", "bb", "c2", "dd", "c10"]
    assert dashboard.ordered(items, "-size", keys) == ["c10", "bb", "c2", "dd", "a"]


def test_the_channel_page_is_paged_sorted_and_filtered() -> None:
    state = make_state()
    trends = trends_of(state)
    for n in range(1, 13):
        connect(state, f"u{n}", [f"ch{n}"])
    connect(state, "u1", ["other"])
    first = dashboard.channel_page(state, trends, query(limit=5))
    assert first["total"] == 13
    assert [row["name"] for row in first["items"]] == ["ch1", "ch2", "ch3", "ch4", "ch5"]
    last = dashboard.channel_page(state, trends, query(offset=10, limit=5))
    assert [row["name"] for row in last["items"]] == ["ch11", "ch12", "other"]
    beyond = dashboard.channel_page(state, trends, query(offset=50))
    assert beyond["items"] == [] and beyond["total"] == 13
    found = dashboard.channel_page(state, trends, query(q="CH1"))
    assert [row["name"] for row in found["items"]] == ["ch1", "ch10", "ch11", "ch12"]
    assert found["total"] == 4 and found["q"] == "CH1"
    row = first["items"][0]
    assert row["total_users"] == 1 and row["total_connections"] == 1
    assert set(row) == {
        "name",
        "total_users",
        "total_connections",
        "settings",
        "last_active",
        "offset",
        "rate",
    }


def test_channels_sort_by_their_rate() -> None:
    state = make_state()
    trends = trends_of(state)
    connect(state, "u", ["slow", "fast", "idle"])
    trends.sample()
    publish(state, "fast", 6)
    publish(state, "slow", 2)
    clock = state.clock
    assert isinstance(clock, Clock)
    clock.advance(1)
    trends.sample()
    busiest = dashboard.channel_page(state, trends, query(sort="-rate"))
    assert [(row["name"], row["rate"]) for row in busiest["items"]] == [
        ("fast", 6.0),
        ("slow", 2.0),
        ("idle", 0.0),
    ]
    calmest = dashboard.channel_page(state, trends, query(sort="rate"))
    assert [row["name"] for row in calmest["items"]] == ["idle", "slow", "fast"]


def test_the_user_page_lists_users_with_connections_and_marks_stand_ins() -> None:
    state = make_state(presence_grace="30")
    for n in (10, 2, 1):
        connect(state, f"user{n}", ["room"], user_state={"s": n}, state_public_keys=["s"])
    second = connect(state, "user2", ["room"], state_public_keys=None)
    operations.disconnect(state, second)
    operations.collect_idle_connections(state)  # user2's second connection: a stand-in now
    answer = dashboard.user_page(state, query())
    assert [row["user"] for row in answer["items"]] == ["user1", "user2", "user10"]
    user2 = answer["items"][1]
    assert user2["state"] == {"s": 2}
    stand_ins = [conn for conn in user2["connections"] if conn["stand_in"]]
    assert len(user2["connections"]) == 2 and len(stand_ins) == 1
    assert stand_ins[0]["conn_id"].startswith(operations.STAND_IN)
    by_count = dashboard.user_page(state, query(sort="-connections", limit=1))
    assert [row["user"] for row in by_count["items"]] == ["user2"] and by_count["total"] == 3
    assert dashboard.user_page(state, query(q="ER1"))["total"] == 2


def test_the_channel_view_has_history_members_and_rates() -> None:
    state = make_state()
    trends = trends_of(state)
    conn_id = connect(state, "ann", ["room"], channel_configs={"room": {"store_history": True}})
    connect(state, "bob", ["elsewhere"])
    listen(state, conn_id)
    publish(state, "room", 3)
    trends.sample()
    view = dashboard.channel_view(state, trends, "room")
    assert view is not None
    assert [item["message"] for item in view["history"]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert view["members"] == [
        {
            "user": "ann",
            "uuid": view["members"][0]["uuid"],
            "state": {},
            "connections": [{"conn_id": conn_id, "stand_in": False}],
        }
    ]
    assert view["rates"] == [0.0] and view["rate"] == 0.0 and view["interval"] == 1.0
    assert dashboard.channel_view(state, trends, "nope") is None


def test_the_summary_stays_small_however_much_history_the_channels_hold() -> None:
    state = make_state(max_history_size="50")
    trends = trends_of(state)
    config = {"store_history": True, "history_size": 50}
    connect(state, "u", [], channel_configs={})

    def size() -> int:
        return len(json.dumps(dashboard.summary(state, trends)))

    empty = size()
    for n in range(200):
        connect(state, "u", [f"ch{n}"], channel_configs={f"ch{n}": config})
        publish(state, f"ch{n}", 50)
    trends.sample()
    summary = dashboard.summary(state, trends)
    assert summary["total_channels"] == 200 and summary["total_unique_messages"] == 10_000
    assert "channels" not in summary and "users" not in summary
    # Only the numbers' digits and the one new sample differ.
    assert size() < empty + 300
