"""/metrics with the Redis engine: an outage shows as engine down with errors counted, and
two worker processes on one port (reuse_port + metrics_dir) report as one node."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.cluster.conftest import cluster, node_settings, wait_until
from tests.support.clients import WSClient
from tests.support.metrics import Samples, scrape
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, free_port

pytestmark = pytest.mark.timeout(90)


def engine_up(node: ServerProcess) -> float:
    return scrape(node.url).value("channelstream_engine_up")


def test_a_redis_outage_shows_as_engine_down_and_counts_errors(logs_dir: Path) -> None:
    server = RedisServer().start()
    try:
        with cluster(server.url, logs_dir, count=1, name="metrics-outage") as (node,):
            node.connect("counted-user", ["counted-channel"])
            before = scrape(node.url)
            assert before.value("channelstream_engine_up") == 1
            assert before.value("channelstream_users") >= 1
            assert before.value("channelstream_channels") >= 1
            server.stop()
            wait_until(lambda: engine_up(node) == 0, what="engine_up 0")
            # A call that needs Redis is answered 503, and counted.
            answer = requests.post(
                node.url + "/message",
                json=[{"channel": "counted-channel", "user": "u", "message": {}}],
                headers=node.headers(),
                timeout=10,
            )
            assert answer.status_code == 503
            errors = "channelstream_engine_errors_total"
            wait_until(
                lambda: scrape(node.url).value(errors) >= before.value(errors) + 2,
                timeout=15,
                what="engine errors counted",
            )
            down = scrape(node.url)
            # While Redis is away the counts of users and channels keep their last values.
            assert down.value("channelstream_users") == before.value("channelstream_users")
            server.start()
            wait_until(lambda: engine_up(node) == 1, timeout=20, what="engine_up 1 again")
    finally:
        server.close()


def node_counts(url: str, want: int) -> dict[str, int]:
    """Each worker's own count of attached sockets (/health), asked on new connections
    until both workers answered with counts adding up to `want`."""
    seen: dict[str, int] = {}

    def both_answered() -> dict[str, int] | None:
        with requests.Session() as session:
            health = session.get(url + "/health", timeout=5).json()
        seen[health["engine"]["node"]] = health["connections"]
        return dict(seen) if len(seen) == 2 and sum(seen.values()) == want else None

    found: dict[str, int] = wait_until(both_answered, timeout=20, what=f"{want} sockets")
    return found


def test_two_workers_on_one_port_report_the_sum(
    redis_server: RedisServer, logs_dir: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # Left by a process that no longer runs: removed when a worker starts.
    stale = directory / "counter_4194303.db"
    stale.write_bytes(b"")
    port = free_port()
    settings = node_settings(redis_server.url, reuse_port="true", metrics_dir=str(directory))
    workers = [
        ServerProcess(settings=settings, port=port, log_path=logs_dir / f"mworker{i}.log")
        for i in range(2)
    ]
    sockets: list[WSClient] = []
    try:
        for worker in workers:
            worker.start()
        assert not stale.exists()
        url = workers[0].url
        # Sockets until both workers hold some (the kernel picks a worker per connection).
        counts: dict[str, int] = {}
        while len(sockets) < 12:
            conn_id = workers[0].connect(f"m-user-{len(sockets)}", ["summed"])
            sockets.append(WSClient(workers[0].ws_url, conn_id))
            counts = node_counts(url, len(sockets))
            if len(sockets) >= 3 and all(counts.values()):
                break
        assert all(counts.values()), counts
        attached = len(sockets)
        for n in range(6):
            workers[0].publish("summed", "x", {"n": n})
        for client in sockets:
            client.messages(6, type_="message")

        def summed(samples: Samples) -> tuple[float, float, float]:
            return (
                samples.value("channelstream_connections", transport="websocket"),
                samples.value("channelstream_deliveries_total", transport="websocket"),
                samples.value(
                    "channelstream_http_requests_total",
                    route="channelstream.message",
                    method="POST",
                    status="200",
                ),
            )

        expected = (attached, 6 * attached, 6)
        # Each worker copies its figures every second: then every scrape sees the sum,
        # whichever worker answers it.
        wait_until(lambda: summed(scrape(url)) == expected, timeout=10, what="the sums")
        for _ in range(8):
            samples = scrape(url)  # a new TCP connection each time
            assert summed(samples) == expected
            assert samples.value("channelstream_engine_up") == 1
            assert samples.value("process_resident_memory_bytes") > 0
    finally:
        for client in sockets:
            client.close()
        for worker in workers:
            worker.stop()
