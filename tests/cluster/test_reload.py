"""`pserve --reload` with the Redis engine: the runner patches after the application is built,
so the engine's bus must run in greenlets (never in a real thread beside gevent's loop)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.cluster.conftest import node_settings, wait_until
from tests.support.clients import WSClient
from tests.support.redis_server import RedisServer
from tests.support.server import PSERVE, ROOT, ServerProcess

pytestmark = pytest.mark.redis


def test_pserve_reload_delivers_with_the_redis_engine(
    redis_server: RedisServer, logs_dir: Path
) -> None:
    node = ServerProcess(settings=node_settings(redis_server.url))
    log_path = logs_dir / "reload.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(PSERVE), "--reload", str(ROOT / "development.ini")],
            cwd=ROOT,
            env=node.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # hupper's monitor and its worker: stopped together
        )
    try:

        def healthy() -> bool:
            try:
                return requests.get(node.url + "/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=20, what="the reloading server")
        client = WSClient(node.ws_url, node.connect("reloader", ["reload"]))
        for n in range(5):
            node.publish("reload", "x", {"n": n})
        got = client.messages(5, type_="message")
        assert [m["message"]["n"] for m in got] == list(range(5))
        client.close()
        assert "bus in greenlets (patched later)" in log_path.read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
