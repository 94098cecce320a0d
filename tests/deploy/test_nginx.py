"""deploy/nginx.conf, as docs/deployment.md gives it, in front of a real node: https and wss
with a self-signed certificate, long-poll through the proxy, the admin's redirects kept on
https. Needs Debian's nginx and openssl (scripts/install-test-deps.sh installs them)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from tests.support.server import ROOT, ServerProcess, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

SITE = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    assert found, "nginx is missing: run scripts/install-test-deps.sh"
    return found


class Proxy:
    def __init__(self, base: Path, node_port: int) -> None:
        self.base = base
        self.https_port, self.http_port = free_port(), free_port()
        self.cert, self.key = base / "cert.pem", base / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-keyout",
                str(self.key),
                "-out",
                str(self.cert),
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        site = (
            SITE.read_text()
            .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{node_port};")
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{self.https_port} ssl;")
            .replace("listen 80;", f"listen 127.0.0.1:{self.http_port};")
            .replace("/etc/ssl/certs/realtime.example.com.pem", str(self.cert))
            .replace("/etc/ssl/private/realtime.example.com.key", str(self.key))
        )
        assert site.count(str(base)) == 2 and f":{node_port};" in site, "the site changed shape"
        (base / "site.conf").write_text(site)
        temp = "".join(
            f"    {kind}_temp_path {base / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # Root's workers would run as nobody, who cannot enter pytest's temporary directory.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (base / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {base / 'nginx.pid'};\n"
            f"error_log {base / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {base / 'access.log'};\n{temp}"
            f"    include {base / 'site.conf'};\n}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def start(self) -> Proxy:
        command = [nginx_binary(), "-p", str(self.base), "-c", str(self.base / "nginx.conf")]
        subprocess.run([*command, "-t"], check=True, capture_output=True, timeout=30)
        self.process = subprocess.Popen([*command, "-g", "daemon off;"])
        wait_until(self._answers, timeout=10, what="nginx")
        return self

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + "/health", verify=str(self.cert), timeout=2).ok
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture(scope="module")
def behind_nginx(
    tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[tuple[ServerProcess, Proxy]]:
    settings = {"trusted_proxies": "127.0.0.1", "allow_posting_from": "127.0.0.1"}
    with ServerProcess(settings=settings, log_path=logs_dir / "nginx-node.log") as node:
        proxy = Proxy(tmp_path_factory.mktemp("nginx"), node.port).start()
        try:
            yield node, proxy
        finally:
            proxy.stop()


def test_the_server_api_over_https(behind_nginx: tuple[ServerProcess, Proxy]) -> None:
    node, proxy = behind_nginx
    answer = requests.post(
        proxy.url + "/connect",
        json={"username": "tls-user", "channels": ["tls"]},
        headers=node.headers(),
        verify=str(proxy.cert),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["channels"] == ["tls"]


def test_plain_http_is_sent_to_https(behind_nginx: tuple[ServerProcess, Proxy]) -> None:
    _, proxy = behind_nginx
    answer = requests.get(
        f"http://localhost:{proxy.http_port}/admin", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 301
    assert answer.headers["Location"].startswith("https://localhost")


def test_a_websocket_over_wss_gets_what_is_published(
    behind_nginx: tuple[ServerProcess, Proxy],
) -> None:
    node, proxy = behind_nginx
    conn_id = node.connect("wss-user", ["wss"])
    client = websocket.create_connection(
        f"wss://localhost:{proxy.https_port}/ws?conn_id={conn_id}",
        sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": str(proxy.cert)},
        timeout=10,
    )
    try:
        node.publish("wss", "x", {"text": "through nginx"})
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not any(m.get("type") == "message" for m in received):
            assert time.monotonic() < deadline, received
            received += json.loads(client.recv())
        assert [m["message"] for m in received if m["type"] == "message"] == [
            {"text": "through nginx"}
        ]
        # Heartbeats keep coming through the proxy (every heartbeat_interval).
        client.send(json.dumps({"type": "heartbeat"}))
    finally:
        client.close()


def test_a_long_poll_is_held_and_woken_through_nginx(
    behind_nginx: tuple[ServerProcess, Proxy],
) -> None:
    node, proxy = behind_nginx
    conn_id = node.connect("poll-user", ["polls"])
    from concurrent.futures import ThreadPoolExecutor

    def poll() -> tuple[list[dict[str, Any]], float]:
        started = time.monotonic()
        answer = requests.get(
            proxy.url + "/listen",
            params={"conn_id": conn_id},
            verify=str(proxy.cert),
            timeout=20,
        )
        return answer.json(), time.monotonic() - started

    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(poll)
        time.sleep(0.5)
        node.publish("polls", "x", {"text": "woken"})
        items, took = held.result()
    assert [m["message"] for m in items if m["type"] == "message"] == [{"text": "woken"}]
    assert took < 3, took


def test_the_admins_redirects_stay_on_https(behind_nginx: tuple[ServerProcess, Proxy]) -> None:
    _, proxy = behind_nginx
    answer = requests.get(
        proxy.url + "/admin", allow_redirects=False, verify=str(proxy.cert), timeout=10
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"https://localhost:{proxy.https_port}/admin/sign_in"
