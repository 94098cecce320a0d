"""The server API in-process: signed calls, their answers and their errors."""

from __future__ import annotations

import pytest

from channelstream.errors import Unavailable
from tests.support.webapp import App, make


def test_unsigned_and_badly_signed_calls_are_refused(app: App) -> None:
    assert app.post_json("/connect", {"username": "a"}, status=403).json["request"]
    answer = app.post_json(
        "/connect", {"username": "a"}, headers={"x-channelstream-secret": "x"}, status=401
    )
    assert answer.json == {"request": "Bad Signature"}


def test_connect_subscribe_publish_and_info(app: App) -> None:
    connected = app.api("POST", "/connect", {"username": "alice", "channels": ["b", "a"]}).json
    assert connected["channels"] == ["a", "b"] and connected["username"] == "alice"
    assert set(connected["channels_info"]["channels"]) == {"a", "b"}
    conn_id = connected["conn_id"]
    joined = app.api("POST", "/subscribe", {"conn_id": conn_id, "channels": ["c"]}).json
    assert joined["channels"] == ["a", "b", "c"] and joined["subscribed_to"] == ["c"]
    published = app.api("POST", "/message", [{"channel": "c", "user": "bob"}]).json
    assert published[0]["offset"] == 1 and published[0]["type"] == "message"
    info = app.api("POST", "/info", {"info": {"channels": ["c"]}}).json
    assert info["channels"]["c"]["users"] == ["alice"]
    assert info["users"] == [{"user": "alice", "state": {}}]
    left = app.api("POST", "/unsubscribe", {"conn_id": conn_id, "channels": ["c"]}).json
    assert left["unsubscribed_from"] == ["c"] and left["channels"] == ["a", "b"]


def test_an_unknown_connection_is_a_422_naming_the_field(app: App) -> None:
    body = {"conn_id": "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0001", "channels": ["x"]}
    answer = app.api("POST", "/subscribe", body, status=422)
    assert answer.json == {"conn_id": ["Unknown connection"]}  # 0.7.1's text


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b"", 400, "body"),
        (b'{"channel": "x"}', 422, "_schema"),
        (b'[{"channel": "x"}]', 422, "0"),
    ],
)
def test_bad_bodies_are_4xx_with_json(app: App, body: bytes, status: int, field: str) -> None:
    answer = app.post(
        "/message",
        body,
        headers={**app.signed(), "Content-Type": "application/json"},
        status=status,
    )
    assert field in answer.json


def test_a_body_over_the_limit_is_413() -> None:
    from tests.support.webapp import make

    small = make(**{"channelstream.max_body_size": "100"})
    try:
        answer = small.api("POST", "/message", [{"channel": "x", "user": "u" * 200}], status=413)
        assert answer.json == {"body": ["Larger than 100 bytes."]}
    finally:
        small.runtime.stop()


def test_an_engine_that_cannot_answer_safely_is_a_503_to_retry(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = app.runtime.state.engine

    def refuse(*args: object, **kwargs: object) -> None:
        raise Unavailable("streams lost")

    monkeypatch.setattr(engine, "publish_many", refuse)
    answer = app.api("POST", "/message", [{"channel": "x", "user": "u"}], status=503)
    assert answer.json == {"request": "Service unavailable, try again"}
    assert answer.headers["Retry-After"] == "1"


def test_channel_config_and_user_state(app: App) -> None:
    configured = app.api("POST", "/channel_config", {"x": {"store_history": True}}).json
    assert configured["channels"]["x"]["settings"]["store_history"] is True
    assert app.api("POST", "/channel_config", {"": {}}, status=422).json
    app.api("POST", "/connect", {"username": "alice", "state_public_keys": ["mood"]})
    changed = app.api("POST", "/user_state", {"user": "alice", "user_state": {"mood": "fine"}}).json
    assert changed["changed_state"] == [{"key": "mood", "value": "fine"}]
    assert app.api("POST", "/user_state", {"user": "ghost"}, status=422).json


def test_limits_on_users_and_channels_answer_with_the_limit_and_are_counted() -> None:
    app = make(
        **{
            "channelstream.max_connections_per_user": "1",
            "channelstream.max_channels_per_connection": "2",
        }
    )
    try:
        conn_id = app.api("POST", "/connect", {"username": "alice", "channels": ["a"]}).json[
            "conn_id"
        ]
        refused = app.api("POST", "/connect", {"username": "alice"}, status=429)
        assert refused.json["limit"] == "max_connections_per_user"
        assert "Retry-After" not in refused.headers  # it depends on the backend, not on time
        too_many = app.api(
            "POST", "/subscribe", {"conn_id": conn_id, "channels": ["b", "c"]}, status=422
        )
        assert too_many.json["limit"] == "max_channels_per_connection"
        assert too_many.json["channels"]
        counts = app.runtime.limits.refusals.counts
        assert counts["max_connections_per_user"] == counts["max_channels_per_connection"] == 1
    finally:
        app.runtime.stop()
