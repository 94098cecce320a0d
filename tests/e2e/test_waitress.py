"""channelstream embedded in a threaded host that does not gevent-patch: tests/e2e/hostapp.py
served by waitress (tests/e2e/hostapp-waitress.ini). Long-polls wake on a publish from
another thread, collection and heartbeats run, concurrent publishers and pollers lose
nothing; the OpenAPI document names the prefixed server URL."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.helpers import name
from tests.support.server import PSERVE, ROOT, ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

PREFIX = "/rt"
HOLD = 3.0  # longpoll_timeout
IDLE = 1.5  # gc_conns_after: shorter than a held poll, so only heartbeats keep one alive


class WaitressHost(ServerProcess):
    def command(self) -> list[str]:
        return [str(PSERVE), self.ini, f"http_port={self.port}"]

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(ROOT)]))
        return env

    def start(self, timeout: float = 20) -> ServerProcess:
        # The host answers /health itself: wait for channelstream's, under the prefix.
        super().start(timeout)
        wait_until(lambda: requests.get(self.api + "/health", timeout=2).ok, timeout=timeout)
        return self

    @property
    def api(self) -> str:
        return self.url + PREFIX

    def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return super().call(method, PREFIX + path, json, **kwargs)

    def poll(self, conn_id: str, **params: str) -> tuple[list[dict[str, Any]], float]:
        started = time.monotonic()
        response = requests.get(
            self.api + "/listen", params={"conn_id": conn_id, **params}, timeout=HOLD + 5
        )
        assert response.status_code == 200, response.text
        return response.json(), time.monotonic() - started


@pytest.fixture(scope="module")
def host(logs_dir: Path) -> Iterator[WaitressHost]:
    settings = {
        "longpoll_timeout": HOLD,
        "gc_conns_after": IDLE,
        "gc_conns_interval": 0.2,
        "heartbeat_interval": 0.3,
    }
    server = WaitressHost(
        "tests/e2e/hostapp-waitress.ini", settings=settings, log_path=logs_dir / "waitress.log"
    )
    with server:
        yield server


def presence(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["user"], m["message"]["action"]) for m in items if m["type"] == "presence"]


def test_the_host_serves_its_own_routes_and_refuses_websockets(host: WaitressHost) -> None:
    assert requests.get(host.url + "/hello/there", timeout=10).json() == {
        "hello": "there",
        "app": "e2e-waitress-host",
    }
    conn_id = host.connect(name("ws"))
    response = requests.get(
        host.api + "/ws",
        params={"conn_id": conn_id},
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
        timeout=10,
    )
    assert response.status_code == 501  # clients fall back to long-polling


def test_a_held_poll_wakes_on_a_publish(host: WaitressHost) -> None:
    channel = name("wake")
    conn_ids = [host.connect(name("poller"), [channel]) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        polls = [pool.submit(host.poll, conn_id) for conn_id in conn_ids]
        time.sleep(0.5)  # every poll is held by now, each in its own waitress thread
        host.publish(channel, "x", {"text": "wake up"})
        answers = [poll.result() for poll in polls]
    for items, held in answers:
        assert [m["message"] for m in items if m["type"] == "message"] == [{"text": "wake up"}]
        assert held < 1.5, held  # not the whole HOLD


def test_idle_connections_are_collected(host: WaitressHost) -> None:
    channel, watcher, idler = name("gc"), name("watcher"), name("idler")
    configs = {channel: {"notify_presence": True}}
    watching = host.connect(watcher, [channel], channel_configs=configs)
    host.connect(idler, [channel], channel_configs=configs)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while ("parted" not in {action for _, action in presence(seen)}) and (
        time.monotonic() < deadline
    ):
        seen += host.poll(watching)[0]
    assert presence(seen) == [(idler, "joined"), (idler, "parted")]
    info = host.post("/info", {"info": {"channels": [channel]}})
    assert info["channels"][channel]["users"] == [watcher]


def test_heartbeats_keep_a_held_poll_alive(host: WaitressHost) -> None:
    """The poll is held longer than the idle limit: only the heartbeat job touches its
    connection meanwhile. Without it the connection would be collected under the poll."""
    conn_id = host.connect(name("held"), [name("held")])
    items, held = host.poll(conn_id)
    assert items == [] and held >= HOLD - 0.2, held
    items, _ = host.poll(conn_id)  # still known
    assert items == []


def test_concurrent_publishers_and_pollers_lose_nothing(host: WaitressHost) -> None:
    channel = name("busy")
    pollers = [host.connect(name("reader"), [channel]) for _ in range(3)]
    per_thread, threads = 40, 4
    stop = threading.Event()
    received: dict[str, list[dict[str, Any]]] = {conn_id: [] for conn_id in pollers}

    def read(conn_id: str) -> None:
        while not stop.is_set():
            items, _ = host.poll(conn_id)
            received[conn_id] += [m for m in items if m["type"] == "message"]
            if len(received[conn_id]) >= per_thread * threads:
                return

    def publish(thread: int) -> None:
        for number in range(per_thread):
            host.publish(channel, "x", {"thread": thread, "n": number})

    with ThreadPoolExecutor(max_workers=len(pollers) + threads) as pool:
        readers = [pool.submit(read, conn_id) for conn_id in pollers]
        for writer in [pool.submit(publish, thread) for thread in range(threads)]:
            writer.result()
        try:
            for reader in readers:
                reader.result(timeout=20)
        finally:
            stop.set()
    for messages in received.values():
        # Each exactly once, in the channel's one order; each thread's in its own order.
        assert [m["offset"] for m in messages] == list(range(1, per_thread * threads + 1))
        for thread in range(threads):
            mine = [m["message"]["n"] for m in messages if m["message"]["thread"] == thread]
            assert mine == list(range(per_thread))


def test_openapi_names_the_prefixed_server(host: WaitressHost) -> None:
    document = host.call("GET", "/openapi.json").json()
    assert document["servers"] == [{"url": host.api}]


def test_with_the_redis_engine_a_poll_wakes_from_the_bus_thread(logs_dir: Path) -> None:
    """The Redis engine hands envelopes in from its own bus thread: under the state lock,
    and a held poll in a waitress thread wakes."""
    from tests.support.redis_server import RedisServer

    with RedisServer() as redis:
        settings = {"engine": "redis", "redis_url": redis.url, "longpoll_timeout": HOLD}
        server = WaitressHost(
            "tests/e2e/hostapp-waitress.ini",
            settings=settings,
            log_path=logs_dir / "waitress-redis.log",
        )
        with server:
            channel = name("bus")
            conn_id = server.connect(name("poller"), [channel])
            with ThreadPoolExecutor(max_workers=1) as pool:
                poll = pool.submit(server.poll, conn_id)
                time.sleep(0.5)
                server.publish(channel, "x", {"text": "over the bus"})
                items, held = poll.result()
            assert [m["message"] for m in items if m["type"] == "message"] == [
                {"text": "over the bus"}
            ]
            assert held < 1.5, held
