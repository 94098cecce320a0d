"""channelstream as a Pyramid add-on: `config.include("channelstream", route_prefix="/rt")`
in a host app served by our runner through pserve; and monkey-patching early enough."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from channelstream.request_signing import HEADER, sign
from tests.e2e.helpers import clients, name, open_ws, texts, wait_for_text
from tests.support.clients import listen
from tests.support.server import ROOT, ServerProcess

pytestmark = pytest.mark.timeout(30)

PREFIX = "/rt"


class HostServer(ServerProcess):
    """The host app of tests/e2e/hostapp.ini (its module must be importable by pserve)."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(ROOT)]))
        return env


@pytest.fixture(scope="module")
def host(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {"gc_conns_after": 30, "heartbeat_interval": 1}
    server = HostServer("tests/e2e/hostapp.ini", settings=settings, log_path=logs_dir / "host.log")
    with server:
        yield server


def test_host_routes_work(host: ServerProcess) -> None:
    response = requests.get(host.url + "/hello/world", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"hello": "world", "app": "e2e-host"}
    assert requests.get(host.url + "/health", timeout=10).json() == {"host": "ok"}


def test_channelstream_routes_live_under_the_prefix(host: ServerProcess) -> None:
    assert requests.get(host.url + PREFIX + "/health", timeout=10).status_code == 200
    # Not at the root: the host owns that space.
    assert (
        requests.post(host.url + "/connect", json={"username": "x"}, timeout=10).status_code == 404
    )
    assert requests.get(host.url + "/listen", timeout=10).status_code == 404


def test_api_websocket_and_longpoll_under_prefix(host: ServerProcess) -> None:
    channel, user = name("host"), name("hostuser")
    answer = host.post(PREFIX + "/connect", {"username": user, "channels": [channel]})
    assert answer["channels"] == [channel]
    conn_id = answer["conn_id"]
    other = host.post(PREFIX + "/connect", {"username": name("lp"), "channels": [channel]})
    with clients(open_ws(host, conn_id, prefix=PREFIX)) as (client,):
        host.post(
            PREFIX + "/message", [{"channel": channel, "user": "u", "message": {"text": "hi"}}]
        )
        received = wait_for_text(client, "hi")
        assert received[-1]["channel"] == channel
        assert received[-1]["catchup"] is False
    polled = listen(host.url + PREFIX, other["conn_id"])
    assert texts(polled) == ["hi"]
    info = host.post(PREFIX + "/info", {"info": {"channels": [channel]}})
    assert info["channels"][channel]["total_users"] == 2
    unsigned = requests.post(host.url + PREFIX + "/info", timeout=10)
    assert unsigned.status_code == 403
    bad = requests.post(
        host.url + PREFIX + "/info", headers={"x-channelstream-secret": "x"}, timeout=10
    )
    assert bad.status_code == 401
    assert bad.json() == {"request": "Bad Signature"}


def test_errors_and_admin_under_prefix(host: ServerProcess) -> None:
    malformed = requests.post(
        host.url + PREFIX + "/connect",
        data=b"{oops",
        headers={**host.headers(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert malformed.status_code == 400
    assert malformed.headers["Content-Type"].startswith("application/json")
    assert malformed.headers.get("Access-Control-Allow-Origin") == "*"
    bad_ws = requests.get(host.url + PREFIX + "/ws", params={"conn_id": "x"}, timeout=10)
    assert bad_ws.status_code == 400
    redirect = requests.get(host.url + PREFIX + "/admin", allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    assert redirect.headers["Location"].endswith(PREFIX + "/admin/sign_in")
    admin = host.call("GET", PREFIX + "/admin/admin.json", allow_redirects=False)
    assert admin.status_code == 200
    assert "channels" in admin.json()


def test_disconnect_under_prefix(host: ServerProcess) -> None:
    conn_id = host.post(PREFIX + "/connect", {"username": name("dc")})["conn_id"]
    with clients(open_ws(host, conn_id, prefix=PREFIX)) as (client,):
        response = requests.get(
            host.url + PREFIX + "/disconnect", params={"conn_id": conn_id}, timeout=10
        )
        assert response.json() is True
        assert client.close_frame(timeout=5)[0] == 1000


# -- monkey-patching early enough ----------------------------------------------------
def whoami(host: ServerProcess, tag: str) -> dict[str, Any]:
    response = requests.get(host.url + "/whoami", params={"tag": tag, "sleep": "0.3"}, timeout=20)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_concurrent_requests_each_see_their_own_request(host: ServerProcess) -> None:
    tags = [f"req-{number}" for number in range(20)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(tags)) as pool:
        answers = list(pool.map(lambda tag: whoami(host, tag), tags))
    elapsed = time.monotonic() - started
    assert [answer["tag"] for answer in answers] == tags
    for answer in answers:
        assert answer["same"] is True, answer
        assert answer["current_tag"] == answer["tag"], answer
        assert answer["registry_ok"] is True
    # They really overlapped: 20 sequential sleeps would take 6 s.
    assert elapsed < 3, elapsed


@pytest.mark.parametrize("module", ["pyramid", "gevent"])
def test_importing_channelstream_imports_neither_pyramid_nor_gevent(module: str) -> None:
    code = f"import channelstream, sys; print({module!r} in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_openapi_names_the_prefixed_server_url(host: ServerProcess) -> None:
    """Swagger UI's "Try it out" calls servers[0].url + path: the prefix must be in it."""
    document = host.call("GET", PREFIX + "/openapi.json").json()
    assert document["servers"] == [{"url": host.url + PREFIX}]
    assert "/connect" in document["paths"]


def test_request_bound_signatures_cover_the_prefix(host: ServerProcess) -> None:
    """Under a route prefix the signed path is the one the server sees: prefix included."""

    def info(signed_path: str) -> requests.Response:
        header = sign(str(host.settings["secret"]), "POST", signed_path, b"")
        return requests.post(host.url + PREFIX + "/info", headers={HEADER: header}, timeout=10)

    assert info(PREFIX + "/info").status_code == 200
    refused = info("/info")
    assert refused.status_code == 401
    assert refused.json() == {"request": "Bad Signature"}
