"""Signing the server API: header and query signatures, refusals, the address allow-list."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from itsdangerous import TimestampSigner

from tests.support.server import SECRET, ServerProcess

pytestmark = pytest.mark.timeout(30)


def sign(value: str = "channelstream", secret: str = SECRET, age: int = 0) -> str:
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return Signer(secret).sign(value).decode()


def post_info(server: ServerProcess, **kwargs: object) -> requests.Response:
    return requests.post(server.url + "/info", timeout=10, **kwargs)  # type: ignore[arg-type]


def test_header_signature_of_any_value_is_accepted(node: ServerProcess) -> None:
    for value in ("channelstream", "/connect"):
        response = post_info(node, headers={"x-channelstream-secret": sign(value)})
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"channels", "users"}


def test_query_signature_is_accepted(node: ServerProcess) -> None:
    response = requests.post(
        node.url + "/connect",
        params={"secret": sign()},
        json={"username": "query-signed"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "query-signed"


def test_no_signature_is_403(node: ServerProcess) -> None:
    response = post_info(node)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/json")
    response = post_info(node, headers={"x-channelstream-secret": ""})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(sign(secret="another-secret"), id="wrong-secret"),
        pytest.param("garbage", id="garbled"),
        pytest.param("channelstream.xx.yy", id="garbled-parts"),
        pytest.param(sign()[:-3], id="truncated"),
        pytest.param(sign(age=120), id="expired"),
    ],
)
def test_bad_signature_is_401(node: ServerProcess, signature: str) -> None:
    response = post_info(node, headers={"x-channelstream-secret": signature})
    assert response.status_code == 401
    assert response.json() == {"request": "Bad Signature"}
    query = requests.post(node.url + "/info", params={"secret": signature}, timeout=10)
    assert query.status_code == 401
    assert query.json() == {"request": "Bad Signature"}


def test_signature_just_inside_max_age_is_accepted(node: ServerProcess) -> None:
    response = post_info(node, headers={"x-channelstream-secret": sign(age=50)})
    assert response.status_code == 200


def test_every_server_api_call_requires_a_signature(node: ServerProcess) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/connect", {"username": "x"}),
        ("POST", "/subscribe", {"conn_id": "9b1f1a52-4bd1-4d9a-b0b5-8e0e0f3e8a11"}),
        ("POST", "/unsubscribe", {"conn_id": "9b1f1a52-4bd1-4d9a-b0b5-8e0e0f3e8a11"}),
        ("POST", "/user_state", {"user": "x"}),
        ("POST", "/message", [{"channel": "c", "user": "x"}]),
        ("PATCH", "/message", []),
        ("DELETE", "/message", []),
        ("POST", "/channel_config", {}),
        ("GET", "/info", None),
        ("POST", "/info", None),
    ]
    for method, path, body in calls:
        response = requests.request(method, node.url + path, json=body, timeout=10)
        assert response.status_code == 403, (method, path, response.status_code)
        bad = requests.request(
            method,
            node.url + path,
            json=body,
            headers={"x-channelstream-secret": "nope"},
            timeout=10,
        )
        assert bad.status_code == 401, (method, path, bad.status_code)


@pytest.fixture(scope="module")
def guarded(logs_dir: Path) -> Iterator[ServerProcess]:
    """A node whose allow-list excludes 127.0.0.1, behind a trusted proxy at 127.0.0.1."""
    settings = {
        "allow_posting_from": "10.1.2.3",
        "trusted_proxies": "127.0.0.1",
        "accept_query_secret": "false",
    }
    with ServerProcess(settings=settings, log_path=logs_dir / "guarded.log") as server:
        yield server


def test_allow_posting_from_refuses_other_addresses(guarded: ServerProcess) -> None:
    response = post_info(guarded, headers=guarded.headers())
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/json")
    # An address the proxy names that is not in the list is refused too.
    spoofed = post_info(guarded, headers={**guarded.headers(), "X-Forwarded-For": "10.9.9.9"})
    assert spoofed.status_code == 403


def test_allowed_address_through_trusted_proxy(guarded: ServerProcess) -> None:
    response = post_info(guarded, headers={**guarded.headers(), "X-Forwarded-For": "10.1.2.3"})
    assert response.status_code == 200, response.text
    bad = post_info(
        guarded, headers={"x-channelstream-secret": "nope", "X-Forwarded-For": "10.1.2.3"}
    )
    assert bad.status_code == 401


def test_query_secret_can_be_turned_off(guarded: ServerProcess) -> None:
    response = requests.post(
        guarded.url + "/info",
        params={"secret": sign()},
        headers={"X-Forwarded-For": "10.1.2.3"},
        timeout=10,
    )
    assert response.status_code == 403


def test_a_used_signature_still_expires(node: ServerProcess) -> None:
    """A signature accepted once must still be refused once it is older than 60 s (the
    server may remember verified signatures, but not their validity beyond their age)."""
    signature = sign(age=57)
    headers = {"x-channelstream-secret": signature}
    assert post_info(node, headers=headers).status_code == 200
    assert post_info(node, params={"secret": signature}).status_code == 200
    time.sleep(4.2)
    late = post_info(node, headers=headers)
    assert late.status_code == 401
    assert late.json() == {"request": "Bad Signature"}
    assert post_info(node, params={"secret": signature}).status_code == 401
