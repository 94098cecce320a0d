"""The demo backends' HTTP endpoints, without a browser: what the chat page relies on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from demo.chat_backend import ChatBackend, DemoSettings
from tests.support.server import free_port

from .conftest import SECRET, ChannelstreamServer, DemoApp

pytestmark = pytest.mark.browser

FRAMEWORKS = ["pyramid", "flask"]


def post(app: DemoApp, path: str, body: Any, method: str = "POST") -> requests.Response:
    return requests.request(method, app.url + path, json=body, timeout=10)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_signed_round_trip(
    demo_apps: dict[str, DemoApp], channelstream: ChannelstreamServer, framework: str
) -> None:
    app = demo_apps[framework]
    channel = f"demo-api-{framework}"
    connected = post(app, "/connect", {"username": "dora", "channels": [channel]})
    assert connected.status_code == 200, connected.text
    answer = connected.json()
    assert answer["channels"] == [channel]
    settings = answer["channels_info"]["channels"][channel]["settings"]
    assert settings["notify_presence"] and settings["notify_state"] and settings["store_history"]
    assert settings["broadcast_presence_with_user_lists"]
    assert answer["public_state"] == {"typing": False}

    sent = post(
        app, "/message", {"username": "dora", "channel": channel, "message": {"text": "hi"}}
    )
    assert sent.status_code == 200, sent.text
    uuid = sent.json()[0]["uuid"]

    edited = post(
        app, "/message", {"uuid": uuid, "channel": channel, "message": {"text": "hey"}}, "PATCH"
    )
    assert edited.status_code == 200, edited.text
    info = channelstream.api("POST", "/info", {"info": {"channels": [channel]}}).json()
    assert [item["message"]["text"] for item in info["channels"][channel]["history"]] == ["hey"]

    deleted = post(app, "/message", {"uuid": uuid, "channel": channel}, "DELETE")
    assert deleted.status_code == 200, deleted.text
    info = channelstream.api("POST", "/info", {"info": {"channels": [channel]}}).json()
    assert info["channels"][channel]["history"] == []

    state = post(
        app,
        "/user_state",
        {"username": "dora", "conn_id": answer["conn_id"], "update_state": {"typing": True}},
    )
    assert state.status_code == 200, state.text
    assert state.json()["user_state"]["typing"] is True


@pytest.mark.timeout(30)
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/connect", {"username": "has space"}),
        ("/connect", {"username": "dora", "channels": ["no/slash"]}),
        ("/connect", ["not", "an", "object"]),
        ("/message", {"username": "dora", "channel": "lobby", "message": {"text": ""}}),
        ("/message", {"username": "dora", "channel": "lobby", "message": "not an object"}),
        ("/user_state", {"username": "dora", "update_state": {"admin": True}}),
        ("/subscribe", {"conn_id": "x", "channels": []}),
    ],
)
def test_bad_input_is_refused_before_channelstream(
    demo_apps: dict[str, DemoApp], framework: str, path: str, body: object
) -> None:
    answer = post(demo_apps[framework], path, body)
    assert answer.status_code == 400
    assert "error" in answer.json()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_page_points_at_channelstream(demo_apps: dict[str, DemoApp], framework: str) -> None:
    page = requests.get(demo_apps[framework].url + "/", timeout=10)
    assert page.status_code == 200
    assert "/static/channelstream/channelstream.js" in page.text
    assert '"websocketUrl": "ws://127.0.0.1:' in page.text
    assert "secret" not in page.text.lower()


@pytest.fixture(scope="module")
def strict_channelstream(logs: Path) -> Iterator[ChannelstreamServer]:
    """channelstream accepting only request-bound signatures (no 0.7 ones)."""
    server = ChannelstreamServer(
        free_port(), logs / "strict-channelstream.log", {"legacy_signatures": "false"}
    )
    server.start()
    yield server
    server.stop()


@pytest.mark.timeout(30)
def test_the_demo_signs_with_request_bound_signatures(
    strict_channelstream: ChannelstreamServer,
) -> None:
    """The demo's backend calls go through channelstream_client: a server that refuses 0.7
    signatures accepts every one of them."""
    url = strict_channelstream.url
    backend = ChatBackend(DemoSettings(server_url=url, public_url=url, secret=SECRET))
    channel = "demo-strict"
    status, answer = backend.connect({"username": "erin", "channels": [channel]})
    assert status == 200, answer
    status, sent = backend.message(
        {"username": "erin", "channel": channel, "message": {"text": "bound"}}
    )
    assert status == 200, sent
    assert (
        backend.edit({"uuid": sent[0]["uuid"], "channel": channel, "message": {"text": "b"}})[0]
        == 200
    )
    assert (
        backend.subscribe({"conn_id": answer["conn_id"], "channels": ["demo-strict-2"]})[0] == 200
    )
    assert backend.user_state({"username": "erin", "update_state": {"typing": True}})[0] == 200
    assert backend.delete({"uuid": sent[0]["uuid"], "channel": channel})[0] == 200
    # And the same backend, given a wrong secret, passes channelstream's refusal on.
    wrong = ChatBackend(DemoSettings(server_url=url, public_url=url, secret="not-it"))
    assert wrong.connect({"username": "erin"}) == (401, {"request": "Bad Signature"})
