"""The client API in-process: /listen, /disconnect, /health and what /ws refuses."""

from __future__ import annotations

import pytest

from tests.support.webapp import App, make

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def connect(app: App, user: str = "alice", channels: tuple[str, ...] = ("room",)) -> str:
    return str(
        app.api("POST", "/connect", {"username": user, "channels": list(channels)}).json["conn_id"]
    )


def test_listen_answers_what_was_published_and_jsonp(app: App) -> None:
    conn_id = connect(app)
    app.api("POST", "/message", [{"channel": "room", "user": "bob", "message": {"n": 1}}])
    (item,) = app.get("/listen", {"conn_id": conn_id}).json
    assert item["message"] == {"n": 1} and item["catchup"] is True
    assert app.get("/listen", {"conn_id": conn_id}).json == []  # nothing new: after the hold
    wrapped = app.get("/listen", {"conn_id": conn_id, "callback": "got"})
    assert wrapped.content_type == "application/javascript"
    assert wrapped.text == "/**/got([]);"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 422),  # 0.7.1's answers: 422 for a missing or malformed conn_id,
        ({"conn_id": "nope"}, 422),
        ({"conn_id": "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001"}, 401),  # 401 for an unknown one
        ({"conn_id": "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001", "callback": "a(b)"}, 400),
        ({"conn_id": "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001", "resume": "{"}, 400),
    ],
)
def test_listen_refuses_what_it_cannot_use(app: App, query: dict[str, str], status: int) -> None:
    assert app.get("/listen", query, status=status).json


def test_disconnect_by_get_and_post(app: App) -> None:
    conn_id = connect(app)
    assert app.get("/disconnect", {"conn_id": conn_id}).json is True
    assert app.post_json("/disconnect", {"conn_id": conn_id}).json is True
    unknown = "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001"
    assert app.post_json("/disconnect", {"conn_id": unknown}).json is False
    assert app.post_json("/disconnect", {}, status=422).json == {
        "conn_id": ["Field may not be null."]  # 0.7.1's text
    }
    assert app.runtime.state.engine.get_connection(conn_id).disconnected  # type: ignore[union-attr]


def test_health_follows_the_engine(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.get("/health").json == {
        "status": "ok",
        "engine": {"ok": True, "engine": "memory"},
        "connections": 0,
    }
    monkeypatch.setattr(app.runtime.state.engine, "health", lambda: {"ok": False})
    assert app.get("/health", status=503).json["status"] == "unavailable"


def test_ws_refuses_before_any_upgrade(app: App) -> None:
    conn_id = connect(app)
    assert app.get("/ws", {"conn_id": conn_id}, status=400).json  # not an upgrade
    missing_version = {k: v for k, v in UPGRADE.items() if k != "Sec-WebSocket-Version"}
    app.get("/ws", {"conn_id": conn_id}, headers=missing_version, status=426)
    bad_key = {**UPGRADE, "Sec-WebSocket-Key": "short"}
    assert (
        "Sec-WebSocket-Key"
        in app.get("/ws", {"conn_id": conn_id}, headers=bad_key, status=400).json
    )
    assert "conn_id" in app.get("/ws", {"conn_id": "x"}, headers=UPGRADE, status=400).json
    # Everything right, but no gevent runner to hand the socket to.
    app.get("/ws", {"conn_id": conn_id}, headers=UPGRADE, status=501)


def test_ws_and_listen_past_the_address_rate_are_429_before_the_view() -> None:
    app = make(
        **{
            "channelstream.upgrades_per_second_per_address": "0.01",
            "channelstream.upgrades_burst_per_address": "2",
        }
    )
    try:
        conn_id = connect(app)
        # Without channelstream's server there is no upgrade: the view answers 501.
        app.get("/ws", {"conn_id": conn_id}, headers=UPGRADE, status=501)
        app.get("/listen", {"conn_id": "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001"}, status=401)
        refused = app.get("/ws", {"conn_id": conn_id}, headers=UPGRADE, status=429)
        assert refused.json["limit"] == "upgrades_per_second_per_address"
        assert int(refused.headers["Retry-After"]) >= 1
        app.get("/listen", {"conn_id": conn_id}, status=429)
        other = {"REMOTE_ADDR": "127.0.0.2"}
        app.get("/listen", {"conn_id": conn_id}, extra_environ=other, status=200)
        counts = app.runtime.limits.refusals.counts
        assert counts["upgrades_per_second_per_address"] == 2
    finally:
        app.runtime.stop()
