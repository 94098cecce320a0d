"""What cannot be encoded again is refused before anything is stored, on both engines.

The attack: a message nested ~253 levels deep passes the JSON parser but not orjson's
encoder. It used to be stored with an offset, answer 500, and break the channel for good
(/info with history, admin.json and /connect into it answered 500; live clients saw an
offset hole). Now it is a 422 naming the field, for the fast path and the schema path, and
a batch holding one is refused whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hardening import nested
from tests.e2e.helpers import clients, name, open_ws, texts
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(60)

MAX_NESTING = 64
TOO_DEEP = f"Nested more than {MAX_NESTING} levels deep."
SCHEMA_PATH = {"timestamp": "2026-11-28T23:16:22"}  # the fast path leaves timestamps to it


@pytest.fixture(scope="module", params=["memory", "redis"])
def engine_node(request: pytest.FixtureRequest, logs_dir: Path) -> Iterator[ServerProcess]:
    settings: dict[str, Any] = {"gc_conns_after": 30, "heartbeat_interval": 1}
    log = logs_dir / f"hardening-payloads-{request.param}.log"
    if request.param == "memory":
        with ServerProcess(settings=settings, log_path=log) as server:
            yield server
        return
    with RedisServer() as redis_server:
        settings.update(engine="redis", redis_url=redis_server.url)
        with ServerProcess(settings=settings, log_path=log) as server:
            yield server


def history_channel(node: ServerProcess) -> str:
    channel = name("deep")
    node.post("/channel_config", {channel: {"store_history": True, "history_size": 50}})
    return channel


def item(channel: str, message: Any, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "user": "alice", "message": message, **extra}


def channel_history(node: ServerProcess, channel: str) -> list[dict[str, Any]]:
    info = node.post("/info", {"info": {"channels": [channel], "include_history": True}})
    return list(info["channels"][channel]["history"])


@pytest.mark.parametrize("path", ["fast", "schema"])
@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 253, 300])
def test_a_batch_with_a_message_too_deep_is_refused_whole_and_the_channel_still_works(
    engine_node: ServerProcess, path: str, levels: int
) -> None:
    node = engine_node
    extra = SCHEMA_PATH if path == "schema" else {}
    channel = history_channel(node)
    conn_id = node.connect("watcher", [channel])
    with clients(open_ws(node, conn_id)) as (ws,):
        first = node.publish(channel, "alice", {"text": "before"}, **extra)
        batch = [
            item(channel, {"text": "ok-1"}, **extra),
            item(channel, nested(levels), **extra),
            item(channel, {"text": "ok-2"}, **extra),
        ]
        refused = node.call("POST", "/message", batch)
        assert refused.status_code == 422, refused.text
        assert refused.json() == {"1": {"message": [TOO_DEEP]}}
        # Nothing of the batch was stored or sent: the next message follows without a hole.
        after = node.publish(channel, "alice", {"text": "after"}, **extra)
        assert after["offset"] == first["offset"] + 1
        ws.read_until(lambda: "after" in texts(ws.received), what="the next message")
        assert texts(ws.received) == ["before", "after"]
        offsets = [m["offset"] for m in ws.received if m.get("type") == "message"]
        assert offsets == [first["offset"], first["offset"] + 1]
    # Everything that shows the channel's history still answers.
    assert [m["message"].get("text") for m in channel_history(node, channel)] == [
        "before",
        "after",
    ]
    assert node.call("GET", "/admin/admin.json").status_code == 200
    assert node.post("/connect", {"username": "late", "channels": [channel]})["channels"] == [
        channel
    ]


@pytest.mark.parametrize("path", ["fast", "schema"])
def test_the_deepest_message_allowed_is_stored_delivered_and_shown_everywhere(
    engine_node: ServerProcess, path: str
) -> None:
    node = engine_node
    extra = SCHEMA_PATH if path == "schema" else {}
    channel = history_channel(node)
    deepest = nested(MAX_NESTING - 1, leaf=[])  # the message object itself is level 1
    conn_id = node.connect("watcher", [channel])
    with clients(open_ws(node, conn_id)) as (ws,):
        sent = node.publish(channel, "alice", deepest, **extra)
        assert sent["message"] == deepest
        (got,) = ws.messages(1, type_="message")
        assert got["message"] == deepest
    assert channel_history(node, channel)[0]["message"] == deepest
    assert node.call("GET", "/admin/admin.json").status_code == 200
    # A new connection catches up on it.
    late = node.connect("late", [channel])
    with clients(open_ws(node, late, resume={"channels": {channel: [sent["epoch"], 0]}})) as (ws,):
        assert ws.messages(1, type_="message")[0]["message"] == deepest


def test_an_edit_too_deep_is_refused_and_the_message_stays(engine_node: ServerProcess) -> None:
    node = engine_node
    channel = history_channel(node)
    sent = node.publish(channel, "alice", {"text": "original"})
    edit = {"uuid": sent["uuid"], "channel": channel, "message": nested(MAX_NESTING + 1)}
    refused = node.call("PATCH", "/message", [{"uuid": sent["uuid"], "channel": channel}, edit])
    assert refused.status_code == 422, refused.text
    assert refused.json() == {"1": {"message": [TOO_DEEP]}}
    assert channel_history(node, channel)[0]["message"] == {"text": "original"}
    deepest = nested(MAX_NESTING)
    assert node.call("PATCH", "/message", [{**edit, "message": deepest}]).status_code == 200
    assert channel_history(node, channel)[0]["message"] == deepest


DEEP = nested(300)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/connect", {"username": "u", "user_state": {"k": DEEP}}, "user_state"),
        ("/connect", {"username": "u", "fresh_user_state": {"k": DEEP}}, "fresh_user_state"),
        ("/connect", {"username": "u", "info": {"channels": DEEP}}, "info"),
        (
            "/connect",
            {"username": "u", "channel_configs": {"c": {"history_size": DEEP}}},
            "channel_configs",
        ),
        ("/connect", {"username": "u", "state_public_keys": [DEEP]}, "state_public_keys"),
        ("/user_state", {"user": "u", "user_state": {"k": DEEP}}, "user_state"),
        ("/info", {"info": {"channels": [DEEP]}}, "info"),
        ("/channel_config", {"c": {"history_size": DEEP}}, "c"),
        ("/channel_config", {"c": {"store_history": DEEP}}, "c"),
    ],
)
def test_deep_values_elsewhere_are_422_naming_the_field(
    engine_node: ServerProcess, path: str, body: dict[str, Any], field: str
) -> None:
    """Everywhere else a value is a scalar or a list of names (or an unknown key, dropped):
    a deep value is the wrong type, refused, never stored."""
    engine_node.connect("u")
    refused = engine_node.call("POST", path, body)
    assert refused.status_code == 422, refused.text
    assert field in refused.json()
    assert engine_node.call("GET", "/health").status_code == 200


TRUTHY = [True, 1, "1", "t", "T", "true", "True", "TRUE"]
FALSY = [False, 0, "0", "f", "F", "false", "False", "FALSE"]
REFUSED = ["yes", "no", "on", "off", "y", "n", "TrUe", "", 2, -1, 0.5, [], {}, None]


@pytest.mark.parametrize("value", TRUTHY + FALSY)
def test_booleans_take_what_0_7_1_took(engine_node: ServerProcess, value: Any) -> None:
    channel = history_channel(engine_node)
    expected = value in TRUTHY and value is not False
    sent = engine_node.publish(channel, "alice", {}, no_history=value)
    assert sent["no_history"] is expected
    config = engine_node.post("/channel_config", {channel: {"notify_presence": value}})
    assert config["channels"][channel]["settings"]["notify_presence"] is expected


@pytest.mark.parametrize("value", REFUSED)
def test_other_booleans_are_422(engine_node: ServerProcess, value: Any) -> None:
    channel = history_channel(engine_node)
    for path, body, where in (
        ("/message", [item(channel, {}, no_history=value)], ["0", "no_history"]),
        ("/channel_config", {channel: {"store_history": value}}, [channel, "store_history"]),
        ("/info", {"info": {"include_history": value}}, ["info", "include_history"]),
        ("/connect", {"username": "u", "info": {"include_users": value}}, ["info"]),
    ):
        refused = engine_node.call("POST", path, body)
        assert refused.status_code == 422, (path, value, refused.text)
        errors = refused.json()
        for key in where:
            errors = errors[key]
