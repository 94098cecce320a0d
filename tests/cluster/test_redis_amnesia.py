"""Redis restarts without persistence under traffic: it comes back empty.

Nothing acknowledged may be lost silently: a publish answered 200 is delivered to every
connected client, or the client is told (a ``gap``) that its stream's life ended. A publish
the cluster cannot stamp and hand on is refused with 503 and retried by the backend. Users
whose node died while Redis lost everything still get their ``parted``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from tests.cluster.conftest import cluster, health, wait_until
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = pytest.mark.redis

PRESENCE = {"notify_presence": True}


class Publisher(threading.Thread):
    """Posts numbered messages round-robin to every node, as fast as they answer; keeps
    every 200 answer (with its offset and epoch, if any)."""

    def __init__(self, nodes: list[ServerProcess], channel: str) -> None:
        super().__init__(daemon=True)
        self.nodes = nodes
        self.channel = channel
        self.accepted: dict[int, dict[str, Any]] = {}
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
                    self.accepted[n] = response.json()[0]
                else:
                    self.refused += 1
            except requests.RequestException:
                self.refused += 1
            n += 1
            time.sleep(0.002)


class Listener(threading.Thread):
    """A browser tab on one node: when its socket is closed it connects again through the
    backend and resumes from the last offset it saw, as the JS client does."""

    def __init__(self, node: ServerProcess, user: str, channel: str) -> None:
        super().__init__(daemon=True)
        self.node = node
        self.user = user
        self.channel = channel
        self.messages: dict[int, tuple[str, int]] = {}  # n -> (epoch, offset)
        self.gaps: list[dict[str, Any]] = []
        self.closes: list[tuple[int, str]] = []
        self.last: tuple[str, int] | None = None
        self.halt = threading.Event()
        self.ready = threading.Event()

    def _connect(self) -> websocket.WebSocket:
        while True:
            try:
                conn_id = self.node.connect(self.user, [self.channel])
                url = f"{self.node.ws_url}/ws?conn_id={conn_id}"
                if self.last is not None:
                    resume = {"channels": {self.channel: list(self.last)}}
                    url += "&resume=" + requests.utils.quote(json.dumps(resume))
                return websocket.create_connection(url, timeout=1)
            except (AssertionError, OSError, websocket.WebSocketException):
                time.sleep(0.1)  # the backend retries a 503 too

    def run(self) -> None:
        ws = self._connect()
        self.ready.set()
        while not self.halt.is_set():
            try:
                opcode, data = ws.recv_data(control_frame=False)
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException):
                opcode, data = websocket.ABNF.OPCODE_CLOSE, b""
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                self.closes.append((code, data[2:].decode(errors="replace")))
                ws.close()
                ws = self._connect()
                continue
            for item in json.loads(data):
                if item.get("type") == "gap":
                    self.gaps.append(item)
                elif item.get("type") == "message" and item.get("channel") == self.channel:
                    self.messages[item["message"]["n"]] = (item["epoch"], item["offset"])
                    self.last = (item["epoch"], item["offset"])
        ws.close()

    def told_about(self, answer: dict[str, Any]) -> bool:
        """Whether a gap notice covers an accepted message this client did not get: the
        message's stream life ended (another epoch), or its window no longer reached it."""
        for gap in self.gaps:
            if gap["channel"] != self.channel:
                continue
            if gap["epoch"] != answer.get("epoch"):
                return True
            if gap["reason"] == "window" and answer["offset"] <= gap["offset"]:
                return True
        return False


@pytest.mark.timeout(120)
def test_no_acknowledged_publish_is_lost_when_redis_comes_back_empty(logs_dir: Path) -> None:
    server = RedisServer().start()
    try:
        with cluster(server.url, logs_dir, name="amnesia-traffic") as nodes:
            listeners = [Listener(node, f"tab-{i}", "live") for i, node in enumerate(nodes)]
            for listener in listeners:
                listener.start()
                assert listener.ready.wait(10)
            publisher = Publisher(nodes, "live")
            publisher.start()
            wait_until(lambda: len(publisher.accepted) > 50, what="traffic")
            server.stop()
            wait_until(lambda: all(health(node) == 503 for node in nodes), what="/health 503")
            time.sleep(1)
            server.start()  # without persistence: every key is gone
            wait_until(lambda: all(health(node) == 200 for node in nodes), what="/health 200")
            wait_until(
                lambda: all(listener.closes for listener in listeners), what="clients closed"
            )
            count = len(publisher.accepted)
            wait_until(lambda: len(publisher.accepted) > count + 300, what="traffic again")
            publisher.halt.set()
            publisher.join(10)
            accepted = dict(publisher.accepted)
            # Nothing was acknowledged that the cluster did not stamp and hand on.
            unstamped = sorted(n for n, answer in accepted.items() if "offset" not in answer)
            assert unstamped == [], f"{len(unstamped)} answered 200 without an offset"
            assert publisher.refused > 0  # the outage was real
            for listener in listeners:

                def covered(listener: Listener = listener) -> list[int]:
                    return [
                        n
                        for n, answer in accepted.items()
                        if n not in listener.messages and not listener.told_about(answer)
                    ]

                try:
                    wait_until(lambda listener=listener: covered(listener) == [], timeout=20)
                except AssertionError:
                    missing = covered()
                    raise AssertionError(
                        f"{listener.user}: {len(missing)} accepted and never delivered nor "
                        f"announced, e.g. {[accepted[n] for n in missing[:3]]}; "
                        f"gaps {listener.gaps}"
                    ) from None
                # Each delivered message once per epoch and offset.
                seen = list(listener.messages.values())
                assert len(seen) == len(set(seen))
            for listener in listeners:
                listener.halt.set()
            for node in nodes:
                assert node.process is not None and node.process.poll() is None
    finally:
        server.close()


def ghost_parted(presence: list[dict[str, Any]]) -> int:
    return sum((p["user"], p["message"]["action"]) == ("ghost", "parted") for p in presence)


@pytest.mark.timeout(90)
def test_users_of_a_node_that_died_meanwhile_get_their_parted(logs_dir: Path) -> None:
    server = RedisServer().start()
    try:
        with cluster(server.url, logs_dir, name="amnesia-parted") as nodes:
            configs = {"channel_configs": {"room": PRESENCE}}
            watcher_id = nodes[0].connect("watcher", ["room"], **configs)
            ghost_id = nodes[2].connect("ghost", ["room"], **configs)
            ghost = websocket.create_connection(f"{nodes[2].ws_url}/ws?conn_id={ghost_id}")
            presence: list[dict[str, Any]] = []

            def watch(conn_id: str) -> websocket.WebSocket:
                return websocket.create_connection(
                    f"{nodes[0].ws_url}/ws?conn_id={conn_id}", timeout=1
                )

            def read(ws: websocket.WebSocket, seconds: float) -> bool:
                """Read presence until `seconds` pass; False once the socket is closed."""
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    try:
                        opcode, data = ws.recv_data(control_frame=False)
                    except websocket.WebSocketTimeoutException:
                        continue
                    except (OSError, websocket.WebSocketException):
                        return False
                    if opcode == websocket.ABNF.OPCODE_CLOSE:
                        return False
                    presence.extend(m for m in json.loads(data) if m.get("type") == "presence")
                return True

            ws = watch(watcher_id)
            read(ws, 0.5)
            assert ("ghost", "joined") in [(p["user"], p["message"]["action"]) for p in presence]
            server.stop()
            wait_until(lambda: health(nodes[0]) == 503, what="/health 503")
            nodes[2].kill()  # the ghost's node dies while Redis is away
            ghost.close()
            server.start()  # empty
            while read(ws, 1):  # until the watcher's node closes it (its record is gone)
                pass
            ws.close()
            # The watcher's page connects again through its backend.
            wait_until(lambda: health(nodes[0]) == 200, what="/health 200")
            ws = watch(nodes[0].connect("watcher", ["room"], **configs))
            before = len(presence)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not ghost_parted(presence[before:]):
                read(ws, 0.5)
            assert ghost_parted(presence[before:]) == 1, presence[before:]
            read(ws, 2)  # and only once, though two nodes remember the ghost
            assert ghost_parted(presence[before:]) == 1
            ws.close()
    finally:
        server.close()
