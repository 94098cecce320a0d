"""Redis goes away under traffic: the nodes stay up, say so on /health, and lose nothing
silently when it comes back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from tests.cluster.conftest import cluster, health, wait_until
from tests.support.clients import WSClient
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = pytest.mark.redis


class Publisher(threading.Thread):
    """Posts numbered messages round-robin to every node; remembers which were accepted."""

    def __init__(self, nodes: list[ServerProcess], channel: str) -> None:
        super().__init__(daemon=True)
        self.nodes = nodes
        self.channel = channel
        self.accepted: list[int] = []
        self.refused = 0
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            node = self.nodes[n % len(self.nodes)]
            item = {"channel": self.channel, "user": "pub", "message": {"n": n}}
            try:
                response = node.call("POST", "/message", [item])
                if response.status_code == 200:
                    self.accepted.append(n)
                else:
                    self.refused += 1
            except requests.RequestException:
                self.refused += 1
            n += 1
            time.sleep(0.01)


def read_until_covered(
    client: WSClient, accepted: set[int], node: ServerProcess, timeout: float = 20
) -> None:
    """Read until every accepted message arrived, or a gap notice did."""

    def got() -> set[int]:
        return {m["message"]["n"] for m in client.received if m.get("type") == "message"}

    def covered() -> bool:
        return accepted <= got() or any(m.get("type") == "gap" for m in client.received)

    try:
        client.read_until(covered, timeout, what="every accepted message or a gap notice")
    except AssertionError as exc:
        lines = []
        if node.log_path is not None and node.log_path.exists():
            text = node.log_path.read_text(errors="replace").splitlines()
            lines = [line for line in text if "channelstream.access" not in line][-25:]
        raise AssertionError(
            f"missing without a gap notice: {sorted(accepted - got())}\n" + "\n".join(lines)
        ) from exc


@pytest.mark.timeout(90)
def test_redis_restart_mid_traffic_loses_nothing(logs_dir: Path) -> None:
    server = RedisServer(persistent=True).start()
    try:
        with cluster(server.url, logs_dir, name="outage") as nodes:
            clients = [
                WSClient(node.ws_url, node.connect(f"outage-{i}", ["live"]))
                for i, node in enumerate(nodes)
            ]
            publisher = Publisher(nodes, "live")
            publisher.start()
            wait_until(lambda: len(publisher.accepted) > 30, what="traffic")
            server.stop()
            wait_until(lambda: all(health(node) == 503 for node in nodes), what="/health 503")
            time.sleep(1.5)  # the outage: publishes are refused meanwhile
            server.start()
            wait_until(lambda: all(health(node) == 200 for node in nodes), what="/health 200")
            count = len(publisher.accepted)
            wait_until(lambda: len(publisher.accepted) > count + 30, what="traffic again")
            publisher.halt.set()
            publisher.join(10)
            assert publisher.refused > 0  # the outage was real
            accepted = set(publisher.accepted)
            for client, node in zip(clients, nodes, strict=True):
                read_until_covered(client, accepted, node)
                messages = [m for m in client.received if m.get("type") == "message"]
                gaps = [m for m in client.received if m.get("type") == "gap"]
                got = {m["message"]["n"] for m in messages}
                # Persistent Redis: nothing is lost at all, no gap is needed.
                assert accepted <= got, sorted(accepted - got)
                assert gaps == []
                offsets = [m["offset"] for m in messages]
                assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))  # once each
                # The sockets stayed open through the outage: a heartbeat (1 s) still comes.
                assert client.read_frame(3) is not None
                client.close()
            for node in nodes:
                assert node.process is not None and node.process.poll() is None
    finally:
        server.close()


@pytest.mark.timeout(60)
def test_redis_losing_its_data_is_announced(logs_dir: Path) -> None:
    """Without persistence a restart forgets everything: connections are closed, and a
    client that resumes is told (gap "epoch"), never left with a silent hole."""
    server = RedisServer().start()
    try:
        with cluster(server.url, logs_dir, count=2, name="amnesia") as nodes:
            client = WSClient(nodes[0].ws_url, nodes[0].connect("amnesiac", ["lost"]))
            nodes[1].publish("lost", "pub", {"n": 1})
            last = client.messages(1, type_="message")[-1]
            server.stop()
            wait_until(lambda: health(nodes[0]) == 503, what="/health 503")
            server.start()
            assert client.close_frame(timeout=15) == (1000, "disconnected")
            wait_until(lambda: all(health(node) == 200 for node in nodes), what="/health 200")
            conn_id = nodes[1].connect("amnesiac", ["lost"])
            nodes[0].publish("lost", "pub", {"n": 2})
            resume = {"channels": {"lost": [last["epoch"], last["offset"]]}}
            again = WSClient(nodes[1].ws_url, conn_id, resume=resume)
            items = again.messages(2)
            assert items[0]["type"] == "gap" and items[0]["reason"] == "epoch"
            assert items[1]["message"] == {"n": 2} and items[1]["epoch"] != last["epoch"]
            again.close()
    finally:
        server.close()
