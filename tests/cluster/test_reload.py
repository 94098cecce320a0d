"""`pserve --reload` with the Redis engine: the runner patches after the application is built,
so the engine's bus must run in greenlets (never in a real thread beside gevent's loop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.conftest import health, node_settings, wait_until
from tests.support.clients import WSClient
from tests.support.redis_server import RedisServer
from tests.support.server import PSERVE, ROOT, ServerProcess, serving

pytestmark = pytest.mark.redis


def test_pserve_reload_delivers_with_the_redis_engine(
    redis_server: RedisServer, logs_dir: Path
) -> None:
    node = ServerProcess(settings=node_settings(redis_server.url))
    log_path = logs_dir / "reload.log"
    command = [str(PSERVE), "--reload", str(ROOT / "development.ini")]
    with serving(command, node.port, node.env(), log_path):
        wait_until(lambda: health(node) == 200, timeout=20, what="the reloading server")
        client = WSClient(node.ws_url, node.connect("reloader", ["reload"]))
        for n in range(5):
            node.publish("reload", "x", {"n": n})
        got = client.messages(5, type_="message")
        assert [m["message"]["n"] for m in got] == list(range(5))
        client.close()
        assert "bus in greenlets (patched later)" in log_path.read_text()
