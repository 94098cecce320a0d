"""Secrets never reach the logs: not the keys, not a `?secret=` signature, not a password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket
from itsdangerous import TimestampSigner

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
