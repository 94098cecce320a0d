"""What the admin panel polls, in-process: the guard, paging and sorting, 422s naming the
parameter, the channel view, and the panel's disconnect of a presence_grace stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from channelstream import operations
from tests.support.webapp import App, make
from tests.views.test_admin import sign_in

ENDPOINTS = ("/admin/summary.json", "/admin/channels.json", "/admin/users.json")


def connect(app: App, user: str, channels: list[str], **body: Any) -> str:
    answer = app.api("POST", "/connect", {"username": user, "channels": channels, **body})
    return str(answer.json["conn_id"])


def test_strangers_get_403_json_the_admin_and_backends_get_answers(app: App) -> None:
    for path in (*ENDPOINTS, "/admin/channel.json?name=x"):
        assert app.get(path, status=403).json == {"request": "Sign in as the admin first."}
        app.get(path, headers=app.signed(), status=(200, 404))
        app.post(path, headers=app.signed(), status=405)
    sign_in(app)
    summary = app.get("/admin/summary.json").json
    assert summary["total_connections"] == 0 and summary["version"]
    assert set(summary["trends"]) == {
        "interval",
        "minutes",
        "end",
        "connections",
        "websocket",
        "longpoll",
        "messages",
        "deliveries",
    }
    assert summary["trends"]["minutes"] == 10
    assert summary["webhook"]["enabled"] is False
    assert summary["node_connections"] == {"websocket": 0, "longpoll": 0}


def test_the_summary_carries_the_samples_taken(app: App) -> None:
    connect(app, "ann", ["room"])
    trends = app.runtime.trends
    trends.sample()
    trends.sample()
    series = app.get("/admin/summary.json", headers=app.signed()).json["trends"]
    assert len(series["connections"]) == 2 and series["end"] == trends.last_sample


def test_channels_page_in_natural_order(app: App) -> None:
    for n in range(1, 13):
        connect(app, f"u{n}", [f"ch{n}"])
    sign_in(app)
    first = app.get("/admin/channels.json?limit=3").json
    assert [row["name"] for row in first["items"]] == ["ch1", "ch2", "ch3"]
    assert (first["total"], first["offset"], first["limit"], first["sort"]) == (12, 0, 3, "name")
    second = app.get("/admin/channels.json", {"limit": "3", "offset": "9"}).json
    assert [row["name"] for row in second["items"]] == ["ch10", "ch11", "ch12"]
    down = app.get("/admin/channels.json", {"sort": "-name", "limit": "2"}).json
    assert [row["name"] for row in down["items"]] == ["ch12", "ch11"]
    found = app.get("/admin/channels.json", {"q": "h1"}).json
    assert [row["name"] for row in found["items"]] == ["ch1", "ch10", "ch11", "ch12"]
    # A repeated parameter: the last one counts.
    again = app.get("/admin/channels.json?limit=1&limit=2").json
    assert again["limit"] == 2


def test_users_page(app: App) -> None:
    for user in ("zed", "amy", "bob2", "bob10"):
        connect(app, user, ["room"])
    connect(app, "amy", ["room"])
    answer = app.get("/admin/users.json", {"limit": "3"}, headers=app.signed()).json
    assert [row["user"] for row in answer["items"]] == ["amy", "bob2", "bob10"]
    assert answer["total"] == 4 and len(answer["items"][0]["connections"]) == 2
    busiest = app.get(
        "/admin/users.json", {"sort": "-connections", "limit": "1"}, headers=app.signed()
    )
    assert busiest.json["items"][0]["user"] == "amy"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/admin/channels.json", {"offset": "-1"}, "offset"),
        ("/admin/channels.json", {"offset": "two"}, "offset"),
        ("/admin/channels.json", {"limit": "0"}, "limit"),
        ("/admin/channels.json", {"limit": "201"}, "limit"),
        ("/admin/channels.json", {"limit": "1.5"}, "limit"),
        ("/admin/channels.json", {"sort": "size"}, "sort"),
        ("/admin/channels.json", {"sort": "connections"}, "sort"),
        ("/admin/channels.json", {"q": "x" * 257}, "q"),
        ("/admin/users.json", {"sort": "rate"}, "sort"),
        ("/admin/users.json", {"offset": "1e3"}, "offset"),
        ("/admin/channel.json", {}, "name"),
        ("/admin/channel.json", {"name": ""}, "name"),
        ("/admin/channel.json", {"name": "x" * 257}, "name"),
    ],
)
def test_bad_parameters_get_422_naming_them(
    app: App, path: str, params: dict[str, str], field: str
) -> None:
    answer = app.get(path, params, headers=app.signed(), status=422)
    assert list(answer.json) == [field], answer.json


def test_the_channel_view_has_history_members_and_its_rate(app: App) -> None:
    conn_id = connect(app, "ann", ["ch 1/a"], channel_configs={"ch 1/a": {"store_history": True}})
    app.api("POST", "/message", [{"channel": "ch 1/a", "user": "ann", "message": {"n": 1}}])
    app.runtime.trends.sample()
    view = app.get("/admin/channel.json", {"name": "ch 1/a"}, headers=app.signed()).json
    assert view["name"] == "ch 1/a" and view["history"][0]["message"] == {"n": 1}
    assert view["members"][0]["connections"] == [{"conn_id": conn_id, "stand_in": False}]
    assert view["rates"] == [0.0] and "rate" in view
    missing = app.get("/admin/channel.json", {"name": "nope"}, headers=app.signed(), status=404)
    assert missing.json == {"name": ["No such channel."]}


def test_the_panels_disconnect_ends_a_stand_ins_presence() -> None:
    app = make(**{"channelstream.presence_grace": "300"})
    try:
        state = app.runtime.state
        conn_id = connect(app, "ann", ["room"])
        app.get("/disconnect", {"conn_id": conn_id})
        operations.collect_idle_connections(state)
        users = app.get("/admin/users.json", headers=app.signed()).json["items"]
        [stand_in] = users[0]["connections"]
        assert stand_in["stand_in"] and stand_in["conn_id"].startswith("grace:")
        assert state.engine.channel_users("room") == ["ann"]
        sign_in(app)
        bad = app.post_json("/admin/api/disconnect", {"conn_id": "grace:nope"}, status=422)
        assert list(bad.json) == ["conn_id"]
        gone = app.post_json("/admin/api/disconnect", {"conn_id": stand_in["conn_id"]})
        assert gone.json == {"conn_id": stand_in["conn_id"], "disconnected": True}
        operations.collect_idle_connections(state)
        # The presence ended: ann left the channel, and no connection is listed any more.
        assert state.engine.channel_users("room") == []
        assert app.get("/admin/users.json").json["items"] == []
        again = app.post_json("/admin/api/disconnect", {"conn_id": stand_in["conn_id"]})
        assert again.json["disconnected"] is False
    finally:
        app.runtime.stop()
