"""Request-bound signatures over real sockets: replay refused, rotation, legacy switched off."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from itsdangerous import TimestampSigner

from channelstream.request_signing import HEADER, sign
from tests.e2e.helpers import name
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(30)

NEW_KEY, OLD_KEY = "e2e-new-key", "e2e-old-key"


@pytest.fixture(scope="module")
def rotated(logs_dir: Path) -> Iterator[ServerProcess]:
    """A node in the middle of a key rotation: the new key first, the old one after it."""
    settings = {"secret": f"{NEW_KEY} {OLD_KEY}", "gc_conns_after": 30}
    with ServerProcess(settings=settings, log_path=logs_dir / "rotated.log") as server:
        yield server


@pytest.fixture(scope="module")
def strict(logs_dir: Path) -> Iterator[ServerProcess]:
    """A node that accepts only request-bound signatures."""
    settings = {"secret": NEW_KEY, "legacy_signatures": "false", "gc_conns_after": 30}
    with ServerProcess(settings=settings, log_path=logs_dir / "strict.log") as server:
        yield server


def encode(body: Any) -> bytes:
    return b"" if body is None else json.dumps(body).encode()


def signed_call(
    server: ServerProcess,
    method: str,
    target: str,
    body: Any = None,
    *,
    key: str = NEW_KEY,
    signed_as: tuple[str, str, bytes] | None = None,
    age: int = 0,
) -> requests.Response:
    """Send `method target body`, signed for `signed_as` (method, target, body) if given."""
    raw = encode(body)
    sign_method, sign_target, sign_body = signed_as or (method, target, raw)
    header = sign(key, sign_method, sign_target, sign_body, int(time.time()) - age)
    return requests.request(
        method,
        server.url + target,
        data=raw,
        headers={HEADER: header, "Content-Type": "application/json"},
        timeout=10,
    )


def assert_bad_signature(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"request": "Bad Signature"}


def legacy(key: str) -> str:
    return TimestampSigner(key).sign("channelstream").decode()


# -- what one signature covers ------------------------------------------------------
def test_every_server_api_call_accepts_a_request_bound_signature(rotated: ServerProcess) -> None:
    user = name("bound")
    connected = signed_call(rotated, "POST", "/connect", {"username": user, "channels": ["a"]})
    assert connected.status_code == 200, connected.text
    conn_id = connected.json()["conn_id"]
    channel = name("chan")
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/subscribe", {"conn_id": conn_id, "channels": [channel]}),
        ("POST", "/unsubscribe", {"conn_id": conn_id, "channels": ["a"]}),
        ("POST", "/user_state", {"user": user, "user_state": {"k": 1}}),
        ("POST", "/channel_config", {channel: {"store_history": True}}),
        ("POST", "/message", [{"channel": channel, "user": user, "message": {"t": 1}}]),
        ("GET", "/info", None),
        ("POST", "/info", {"info": {"channels": [channel]}}),
        ("GET", "/admin/admin.json", None),
    ]
    for method, path, body in calls:
        answer = signed_call(rotated, method, path, body)
        assert answer.status_code == 200, (method, path, answer.text)
    uuid = signed_call(rotated, "POST", "/info", {"info": {"channels": [channel]}}).json()[
        "channels"
    ][channel]["history"][0]["uuid"]
    edit = [{"uuid": uuid, "channel": channel, "message": {"t": 2}}]
    assert signed_call(rotated, "PATCH", "/message", edit).status_code == 200
    gone = [{"uuid": uuid, "channel": channel}]
    assert signed_call(rotated, "DELETE", "/message", gone).status_code == 200


def test_replay_on_another_path_is_refused(rotated: ServerProcess) -> None:
    body = {"info": {"channels": []}}
    raw = encode(body)
    assert signed_call(rotated, "POST", "/info", body).status_code == 200
    replay = signed_call(rotated, "POST", "/connect", body, signed_as=("POST", "/info", raw))
    assert_bad_signature(replay)


def test_replay_with_another_body_is_refused(rotated: ServerProcess) -> None:
    item = {"channel": name("c"), "user": "u", "message": {"text": "signed"}}
    raw = encode([item])
    forged = [{**item, "message": {"text": "forged"}}]
    replay = signed_call(rotated, "POST", "/message", forged, signed_as=("POST", "/message", raw))
    assert_bad_signature(replay)
    # One byte of whitespace is another body too: the raw bytes are signed, not the JSON.
    spaced = requests.post(
        rotated.url + "/message",
        data=raw + b" ",
        headers={HEADER: sign(NEW_KEY, "POST", "/message", raw)},
        timeout=10,
    )
    assert_bad_signature(spaced)


def test_replay_with_another_method_is_refused(rotated: ServerProcess) -> None:
    signed_for = ("POST", "/info", b"")
    assert signed_call(rotated, "POST", "/info").status_code == 200
    assert_bad_signature(signed_call(rotated, "GET", "/info", signed_as=signed_for))


def test_replay_with_another_query_is_refused(rotated: ServerProcess) -> None:
    conn_id = rotated.connect(name("q"))
    body = {"channels": [name("c")]}
    raw = encode(body)
    target = f"/subscribe?conn_id={conn_id}"
    assert signed_call(rotated, "POST", target, body).status_code == 200
    other = rotated.connect(name("q"))
    replay = signed_call(
        rotated, "POST", f"/subscribe?conn_id={other}", body, signed_as=("POST", target, raw)
    )
    assert_bad_signature(replay)
    extra = signed_call(rotated, "POST", target + "&x=1", body, signed_as=("POST", target, raw))
    assert_bad_signature(extra)


def test_the_target_is_signed_as_sent_not_as_decoded(rotated: ServerProcess) -> None:
    """`%2D` and `-` decode alike; the signature covers the bytes of the request line.
    (http.client sends the target untouched; requests would normalise the escapes.)"""
    conn_id = rotated.connect(name("enc"))
    encoded = f"/subscr%69be?conn_id={conn_id.replace('-', '%2D')}"
    raw = encode({"channels": [name("c")]})

    def send(signed_target: str) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", rotated.port, timeout=10)
        try:
            header = sign(NEW_KEY, "POST", signed_target, raw)
            connection.request("POST", encoded, body=raw, headers={HEADER: header})
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read())
        finally:
            connection.close()

    status, body = send(encoded)
    assert status == 200, body
    assert body["subscribed_to"]
    status, body = send(f"/subscribe?conn_id={conn_id}")
    assert (status, body) == (401, {"request": "Bad Signature"})


def test_expired_and_future_t_are_refused(rotated: ServerProcess) -> None:
    assert signed_call(rotated, "POST", "/info", age=50).status_code == 200
    assert_bad_signature(signed_call(rotated, "POST", "/info", age=65))
    assert_bad_signature(signed_call(rotated, "POST", "/info", age=-65))


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=1,v1=", f"t={int(time.time())}", "t=now,v1=" + "0" * 64, "x" * 5000],
)
def test_malformed_headers_are_401(rotated: ServerProcess, header: str) -> None:
    response = requests.post(rotated.url + "/info", headers={HEADER: header}, timeout=10)
    assert_bad_signature(response)


def test_a_bad_bound_signature_is_not_excused_by_a_good_legacy_one(
    rotated: ServerProcess,
) -> None:
    response = requests.post(
        rotated.url + "/info",
        headers={HEADER: "t=1,v1=" + "0" * 64, "x-channelstream-secret": legacy(NEW_KEY)},
        timeout=10,
    )
    assert_bad_signature(response)


# -- key rotation -------------------------------------------------------------------
def test_old_and_new_keys_both_verify_in_both_schemes(rotated: ServerProcess) -> None:
    for key in (NEW_KEY, OLD_KEY):
        assert signed_call(rotated, "POST", "/info", key=key).status_code == 200
        header = requests.post(
            rotated.url + "/info", headers={"x-channelstream-secret": legacy(key)}, timeout=10
        )
        assert header.status_code == 200, header.text
        query = requests.post(rotated.url + "/info", params={"secret": legacy(key)}, timeout=10)
        assert query.status_code == 200, query.text
    assert_bad_signature(signed_call(rotated, "POST", "/info", key="e2e-unknown-key"))
    unknown = requests.post(
        rotated.url + "/info",
        headers={"x-channelstream-secret": legacy("e2e-unknown-key")},
        timeout=10,
    )
    assert_bad_signature(unknown)


# -- bodies as the server reads them ------------------------------------------------
def raw_exchange(server: ServerProcess, head: str, body: bytes, *, cut: bool = False) -> bytes:
    """Send a hand-made request; with `cut`, half-close after it (the body ends early)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        if cut:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def chunked_head(signature: str) -> str:
    return (
        f"POST /message HTTP/1.1\r\nHost: 127.0.0.1\r\n{HEADER}: {signature}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    )


def test_a_chunked_body_is_hashed_as_received(rotated: ServerProcess) -> None:
    """The body arrives in three chunks; the signature covers the de-chunked bytes, and the
    view parses the same bytes (read once)."""
    channel = name("chunked")
    raw = encode([{"channel": channel, "user": "u", "message": {"text": "in chunks"}}])
    parts = [raw[:10], raw[10:25], raw[25:]]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
    answer = raw_exchange(rotated, chunked_head(sign(NEW_KEY, "POST", "/message", raw)), chunks)
    head, _, _ = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b"in chunks" in answer
    assert answer.count(b'"uuid"') == 1


def test_a_chunked_body_that_ends_early_is_400(rotated: ServerProcess) -> None:
    raw = encode([{"channel": name("cut"), "user": "u", "message": {"text": "never whole"}}])
    cut = b"%x\r\n%s" % (len(raw), raw[:20])
    answer = raw_exchange(
        rotated, chunked_head(sign(NEW_KEY, "POST", "/message", raw)), cut, cut=True
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"ended before" in answer


def test_a_body_over_the_limit_is_413_before_any_signature_work(rotated: ServerProcess) -> None:
    huge = b"[" + b" " * (1024 * 1024 + 10) + b"]"
    response = requests.post(
        rotated.url + "/message",
        data=huge,
        headers={HEADER: sign(NEW_KEY, "POST", "/message", huge)},
        timeout=10,
    )
    assert response.status_code == 413
    assert "body" in response.json()


# -- legacy_signatures = false ------------------------------------------------------
def test_strict_node_accepts_request_bound_signatures(strict: ServerProcess) -> None:
    answer = signed_call(strict, "POST", "/connect", {"username": name("strict")})
    assert answer.status_code == 200, answer.text


def test_strict_node_refuses_the_0_7_header(strict: ServerProcess) -> None:
    response = requests.post(
        strict.url + "/info", headers={"x-channelstream-secret": legacy(NEW_KEY)}, timeout=10
    )
    assert response.status_code == 401
    assert "legacy_signatures" in response.json()["request"]
    admin = requests.get(
        strict.url + "/admin/admin.json",
        headers={"x-channelstream-secret": legacy(NEW_KEY)},
        allow_redirects=False,
        timeout=10,
    )
    assert admin.status_code == 302  # not an admin: to the sign-in form


def test_strict_node_refuses_the_query_secret(strict: ServerProcess) -> None:
    response = requests.post(strict.url + "/info", params={"secret": legacy(NEW_KEY)}, timeout=10)
    assert response.status_code == 403
    assert HEADER in response.json()["request"]
