"""Bad input never yields a 500, a crash or a hang: each is a clear 4xx with a JSON error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.helpers import (
    body_of,
    clients,
    name,
    open_ws,
    raw_request,
    status_of,
    ws_key,
    ws_status,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(30)

API_PATHS = ["/connect", "/subscribe", "/unsubscribe", "/user_state", "/channel_config"]


def assert_json_4xx(response: requests.Response, *statuses: int) -> Any:
    where = (response.request.method, response.url, response.status_code, response.text[:200])
    assert 400 <= response.status_code < 500, where
    if statuses:
        assert response.status_code in statuses, where
    assert response.headers["Content-Type"].startswith("application/json"), where
    return response.json()


@pytest.mark.parametrize("path", [*API_PATHS, "/message", "/info"])
@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"a": 1', b"\xff\xfe\x00", b"[1, 2", b"nul", b'"unterminated'],
)
def test_malformed_json_is_400(node: ServerProcess, path: str, body: bytes) -> None:
    headers = {**node.headers(), "Content-Type": "application/json"}
    for method in ("POST", "PATCH", "DELETE") if path == "/message" else ("POST",):
        response = requests.request(method, node.url + path, data=body, headers=headers, timeout=10)
        assert_json_4xx(response, 400)


@pytest.mark.parametrize("path", API_PATHS)
@pytest.mark.parametrize("body", [[], [{"username": "x"}], "text", 5, None, True])
def test_wrong_top_level_type_is_4xx(node: ServerProcess, path: str, body: Any) -> None:
    assert_json_4xx(node.call("POST", path, body))


@pytest.mark.parametrize("body", [{}, {"channel": "c", "user": "u"}, "x", 1, None, [1], [[]]])
def test_message_wrong_top_level_type_is_4xx(node: ServerProcess, body: Any) -> None:
    for method in ("POST", "PATCH", "DELETE"):
        assert_json_4xx(node.call(method, "/message", body))


@pytest.mark.parametrize(
    "body", [[], "x", 1, True, {"info": "x"}, {"info": {"channels": [1]}}, {"info": None}]
)
def test_info_wrong_types_are_4xx(node: ServerProcess, body: Any) -> None:
    assert_json_4xx(node.call("POST", "/info", body))


@pytest.mark.parametrize(
    "body",
    [
        {"username": None},
        {"username": ["a"]},
        {"username": "u", "channels": [None]},
        {"username": "u", "channels": [1]},
        {"username": "u", "channel_configs": []},
        {"username": "u", "channel_configs": {"c": "x"}},
        {"username": "u", "fresh_user_state": []},
        {"username": "u", "state_public_keys": "a"},
        {"username": "u", "info": "x"},
        {"username": "u", "conn_id": 5},
    ],
)
def test_connect_wrong_field_types_are_422(node: ServerProcess, body: Any) -> None:
    assert_json_4xx(node.call("POST", "/connect", body), 422)


def test_channel_config_wrong_types(node: ServerProcess) -> None:
    bodies: list[Any] = [
        {"c": "x"},
        {"c": {"history_size": -1}},
        {"": {}},
        {"c": {"notify_state": []}},
    ]
    for body in bodies:
        assert_json_4xx(node.call("POST", "/channel_config", body), 422)


def test_user_state_wrong_types(node: ServerProcess) -> None:
    user = name("types")
    node.connect(user)
    for body in (
        {"user": user, "user_state": []},
        {"user": user, "user_state": {"k": {"x": 1}}},
        {"user": user, "state_public_keys": "k"},
        {"user": 1},
    ):
        assert_json_4xx(node.call("POST", "/user_state", body), 422)


@pytest.fixture(scope="module")
def oversized() -> Iterator[bytes]:
    # The default max_body_size is 1 MiB.
    yield b'[{"channel": "c", "user": "u", "message": {"p": "' + b"x" * (1 << 20) + b'"}}]'


def test_oversized_body_is_413(node: ServerProcess, oversized: bytes) -> None:
    headers = {**node.headers(), "Content-Type": "application/json"}
    response = requests.post(node.url + "/message", data=oversized, headers=headers, timeout=10)
    assert_json_4xx(response, 413)
    connect = requests.post(node.url + "/connect", data=oversized, headers=headers, timeout=10)
    assert_json_4xx(connect, 413)


def test_oversized_chunked_body_is_413(node: ServerProcess, oversized: bytes) -> None:
    headers = {**node.headers(), "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(oversized), 65536):
            yield oversized[start : start + 65536]

    response = requests.post(node.url + "/message", data=chunks(), headers=headers, timeout=10)
    assert_json_4xx(response, 413)


def test_body_just_under_limit_is_accepted(node: ServerProcess) -> None:
    channel = name("fits")
    node.connect(name("u"), [channel])
    body = [{"channel": channel, "user": "u", "message": {"p": "x" * ((1 << 20) - 200)}}]
    response = node.call("POST", "/message", body)
    assert response.status_code == 200, response.status_code


# -- the client API ------------------------------------------------------------------
@pytest.mark.parametrize("query", ["", "?conn_id=", "?conn_id=not-a-uuid", "?conn_id=1234"])
def test_ws_missing_or_malformed_conn_id_is_400_before_upgrade(
    node: ServerProcess, query: str
) -> None:
    assert ws_status(f"{node.ws_url}/ws{query}") == 400
    raw = raw_request(
        node.port,
        (
            f"GET /ws{query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {ws_key()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    assert status_of(raw) == 400
    assert "conn_id" in body_of(raw)


def test_ws_unknown_conn_id_upgrades_then_closes_1000(node: ServerProcess) -> None:
    with clients(open_ws(node, str(uuid.uuid4()))) as (client,):
        assert client.close_frame() == (1000, "unknown connection")


@pytest.mark.parametrize(
    "key", ["", "short", "not base64 at all!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="]
)
def test_ws_bad_key_is_400(node: ServerProcess, key: str) -> None:
    conn_id = node.connect(name("key"))
    raw = raw_request(
        node.port,
        (
            f"GET /ws?conn_id={conn_id} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    assert status_of(raw) == 400, raw[:300]
    assert isinstance(body_of(raw), dict)


def test_ws_missing_version_is_426_and_wrong_version_400(node: ServerProcess) -> None:
    conn_id = node.connect(name("ver"))
    base = (
        f"GET /ws?conn_id={conn_id} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {ws_key()}\r\n"
    )
    assert status_of(raw_request(node.port, (base + "\r\n").encode())) == 426
    wrong = raw_request(node.port, (base + "Sec-WebSocket-Version: 8\r\n\r\n").encode())
    assert status_of(wrong) == 400


def test_non_upgrade_get_ws_is_400(node: ServerProcess) -> None:
    conn_id = node.connect(name("plain"))
    for params in ({"conn_id": conn_id}, {}):
        assert_json_4xx(requests.get(node.url + "/ws", params=params, timeout=10), 400)
    assert_json_4xx(requests.post(node.url + "/ws", params={"conn_id": conn_id}, timeout=10))


@pytest.mark.parametrize("params", [{}, {"conn_id": ""}, {"conn_id": "nope"}])
def test_listen_missing_or_malformed_conn_id_is_422(
    node: ServerProcess, params: dict[str, str]
) -> None:
    body = assert_json_4xx(requests.get(node.url + "/listen", params=params, timeout=10), 422)
    assert "conn_id" in body


def test_listen_unknown_conn_id_is_4xx(node: ServerProcess) -> None:
    response = requests.get(node.url + "/listen", params={"conn_id": str(uuid.uuid4())}, timeout=10)
    assert "conn_id" in assert_json_4xx(response)


def test_disconnect_bad_input(node: ServerProcess) -> None:
    assert_json_4xx(requests.get(node.url + "/disconnect", timeout=10), 422)
    assert_json_4xx(
        requests.get(node.url + "/disconnect", params={"conn_id": "x"}, timeout=10), 422
    )
    for data in (b"{bad", b"[]", b'"x"'):
        response = requests.post(
            node.url + "/disconnect",
            data=data,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert_json_4xx(response)


def test_garbage_on_the_socket_does_not_hurt(node: ServerProcess) -> None:
    for request in (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /connect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"BREW /coffee HTCPCP/1.0\r\n\r\n",
    ):
        answer = raw_request(node.port, request, timeout=3)
        if answer:
            assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert requests.get(node.url + "/health", timeout=5).status_code == 200


def test_server_still_serves_after_bad_input(node: ServerProcess) -> None:
    channel = name("after")
    conn_id = node.connect(name("after"), [channel])
    with clients(open_ws(node, conn_id)) as (client,):
        node.publish(channel, "u", {"text": "fine"})
        client.messages(1, type_="message")


def test_info_with_a_json_null_body_is_422_as_in_0_7_1(node: ServerProcess) -> None:
    # Found by the OpenAPI fuzz run: `null` was taken for "no body" (every channel).
    response = requests.post(
        node.url + "/info",
        data=b"null",
        headers={**node.headers(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert assert_json_4xx(response, 422) == {"_schema": ["Invalid input type."]}
    assert node.call("POST", "/info").status_code == 200  # no body at all: every channel
