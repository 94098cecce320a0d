"""Secrets never reach the logs: not the keys, not a `?secret=` signature, not a password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket
from itsdangerous import TimestampSigner

from tests.e2e.helpers import raw_request, status_of
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(30)


def test_secrets_are_not_logged(tmp_path: Path) -> None:
    log = tmp_path / "secrets.log"
    secret = f"api-key-{uuid.uuid4().hex}"
    admin_secret = f"admin-pass-{uuid.uuid4().hex}"
    cookie_secret = f"cookie-key-{uuid.uuid4().hex}"
    wrong_password = f"wrong-pass-{uuid.uuid4().hex}"
    garbage_signature = f"garbage-sig-{uuid.uuid4().hex}"
    settings = {
        "secret": secret,
        "admin_secret": admin_secret,
        "cookie_secret": cookie_secret,
        "log_level": "DEBUG",
    }
    server = ServerProcess(settings=settings, log_path=log)
    with server:
        signed = TimestampSigner(secret).sign("channelstream").decode()
        signature = signed.rsplit(".", 1)[1]
        url = server.url
        ok = requests.post(
            url + "/connect", params={"secret": signed}, json={"username": "logged"}, timeout=10
        )
        assert ok.status_code == 200
        conn_id = ok.json()["conn_id"]
        assert requests.get(url + f"/info?secret={signed}&x=1", timeout=10).status_code == 200
        assert requests.get(url + f"/info?x=1&secret={signed}", timeout=10).status_code == 200
        bad = requests.post(url + "/info", params={"secret": garbage_signature}, timeout=10)
        assert bad.status_code == 401
        header = requests.post(
            url + "/info", headers={"x-channelstream-secret": signed}, timeout=10
        )
        assert header.status_code == 200
        # A client that puts the signature where it does not belong.
        ws = websocket.create_connection(
            f"{server.ws_url}/ws?conn_id={conn_id}&secret={signed}", timeout=5
        )
        ws.close()
        requests.get(url + "/listen", params={"conn_id": "bad", "secret": signed}, timeout=10)
        requests.post(
            url + "/admin/sign_in",
            data={"username": "admin", "password": wrong_password},
            timeout=10,
        )
        session = requests.Session()
        session.post(
            url + "/admin/sign_in",
            data={"username": "admin", "password": admin_secret},
            timeout=10,
        )
        cookie = "; ".join(value or "" for value in session.cookies.values())
        assert session.get(url + "/admin/admin.json", timeout=10).status_code == 200
        # The access log is written: the requests above are in it.
        wait_until(lambda: log.read_text(errors="replace").count("/info") >= 4)
    text = log.read_text(errors="replace")
    assert "/connect" in text and "/admin/sign_in" in text
    for value in (
        secret,
        admin_secret,
        cookie_secret,
        signed,
        signature,
        garbage_signature,
        wrong_password,
        cookie,
    ):
        assert value not in text, value


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("logged") / "server.log"
    with ServerProcess(settings={"log_level": "DEBUG"}, log_path=log) as server:
        yield server


@pytest.mark.parametrize(
    "query",
    [
        "secret={signed}&m={marker}",
        "m={marker}&secret={signed}",
        "m={marker};secret={signed}",
        "%73ecret={signed}&m={marker}",
    ],
)
def test_accepted_query_signature_never_logged(logged: ServerProcess, query: str) -> None:
    assert logged.log_path is not None
    signed = logged.headers()["x-channelstream-secret"]
    marker = uuid.uuid4().hex
    response = requests.get(
        logged.url + "/info?" + query.format(signed=signed, marker=marker), timeout=10
    )
    # The server took it as the signature...
    assert response.status_code == 200
    log = logged.log_path
    wait_until(lambda: marker in log.read_text(errors="replace"))
    lines = [line for line in log.read_text(errors="replace").splitlines() if marker in line]
    # ...so it must not be written down.
    assert all(signed not in line and signed.rsplit(".", 1)[1] not in line for line in lines), lines


@pytest.mark.parametrize(
    "target",
    [
        "/info?SECRET={value}&m={marker}",
        "/info?m={marker}&Secret={value}",
        "/info?secret%3D{value}&m={marker}",
        "/info?m={marker}&secret%253D{value}",
        "/info?m={marker}&%53%45%43%52%45%54={value}",
        "/info?client_secret={value}&m={marker}",
    ],
)
def test_other_spellings_of_the_secret_are_redacted(logged: ServerProcess, target: str) -> None:
    assert logged.log_path is not None
    value, marker = uuid.uuid4().hex, uuid.uuid4().hex
    requests.get(logged.url + target.format(value=value, marker=marker), timeout=10)
    log = logged.log_path
    wait_until(lambda: marker in log.read_text(errors="replace"))
    assert value not in log.read_text(errors="replace")


@pytest.mark.parametrize(
    "request_line",
    [
        # Malformed request lines: the server refuses them and logs them, quoted.
        b"GET /info?secret={value}&m={marker} junk HTTP/1.1",
        b"GET /info?m={marker}&secret={value} more junk HTTP/1.1",
        b"GET /info/{marker} secret={value} junk HTTP/1.1",
        b"GET /info?SECRET={value}&m={marker} HTTP/7.0",
        b"POST /info?secret%3D{value}&m={marker}",
        b"GET /info?m={marker}&secret={value} HTTP/1.1\r\nBad\x00Header: x",
    ],
)
def test_a_malformed_request_line_is_never_logged_with_its_secret(
    logged: ServerProcess, request_line: bytes
) -> None:
    assert logged.log_path is not None
    value, marker = uuid.uuid4().hex, uuid.uuid4().hex
    line = request_line.replace(b"{value}", value.encode()).replace(b"{marker}", marker.encode())
    answer = raw_request(logged.port, line + b"\r\n\r\n")
    assert status_of(answer) == 400, answer
    log = logged.log_path
    wait_until(lambda: marker in log.read_text(errors="replace"), what="the refusal logged")
    assert value not in log.read_text(errors="replace")
