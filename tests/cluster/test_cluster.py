"""Three channelstream processes on one Redis act as one server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from tests.cluster.conftest import GC_CONNS_AFTER, NODE_TTL, node_settings, wait_until
from tests.support.clients import WSClient, listen
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, free_port

pytestmark = pytest.mark.redis


def drain(client: WSClient, seconds: float) -> None:
    """Read whatever else arrives for a while (to prove nothing more does)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            if client.read_frame(left) is None:
                return
        except websocket.WebSocketTimeoutException:
            return


def of_type(client: WSClient, type_: str) -> list[dict[str, Any]]:
    return [item for item in client.received if item.get("type") == type_]


def disconnect(node: ServerProcess, conn_id: str) -> None:
    response = requests.get(node.url + "/disconnect", params={"conn_id": conn_id}, timeout=5)
    assert response.json() is True


@pytest.mark.timeout(90)
def test_concurrent_publishers_on_every_node_reach_everyone_once_in_order(
    nodes: list[ServerProcess],
) -> None:
    channels = ["order-a", "order-b"]
    clients = [
        WSClient(node.ws_url, node.connect(f"reader-{i}-{j}", channels))
        for i, node in enumerate(nodes)
        for j in range(2)
    ]
    per_publisher, batch = 120, 4

    def publisher(node: ServerProcess, tag: str) -> None:
        for start in range(0, per_publisher, batch):
            items = [
                {"channel": channels[n % 2], "user": tag, "message": {"tag": tag, "n": n}}
                for n in range(start, start + batch)
            ]
            node.post("/message", items)

    threads = [
        threading.Thread(target=publisher, args=(node, f"pub-{i}-{k}"))
        for i, node in enumerate(nodes)
        for k in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = per_publisher * len(threads)
    for client in clients:
        client.messages(total, timeout=30, type_="message")
    for client in clients:
        drain(client, 0.5)
        got = of_type(client, "message")
        assert len(got) == total  # exactly once: nothing missing, nothing doubled
        assert {(m["message"]["tag"], m["message"]["n"]) for m in got} == {
            (f"pub-{i}-{k}", n) for i in range(3) for k in range(2) for n in range(per_publisher)
        }
        for name in channels:
            offsets = [m["offset"] for m in got if m["channel"] == name]
            assert offsets == list(range(1, total // 2 + 1))  # publish order, cluster-wide
            for tag in {m["message"]["tag"] for m in got}:
                ns = [m["message"]["n"] for m in got if m["channel"] == name and m["user"] == tag]
                assert ns == sorted(ns)
        assert len({m["epoch"] for m in got if m["channel"] == "order-a"}) == 1
        client.close()


def test_presence_is_one_per_user_across_nodes(nodes: list[ServerProcess]) -> None:
    nodes[0].post("/channel_config", {"xroom": {"notify_presence": True}})
    watcher = WSClient(nodes[0].ws_url, nodes[0].connect("watcher", ["xroom"]))
    first = nodes[1].connect("bob", ["xroom"])
    second = nodes[2].connect("bob", ["xroom"])
    watcher.messages(1, type_="presence")
    info = nodes[2].post("/info", {"info": {"channels": ["xroom"]}})["channels"]["xroom"]
    assert info["users"] == ["bob", "watcher"] and info["total_connections"] == 3
    disconnect(nodes[0], first)
    wait_until(
        lambda: (
            nodes[1].post("/info", {"info": {"channels": ["xroom"]}})["channels"]["xroom"][
                "total_connections"
            ]
            == 2
        ),
        what="first connection collected",
    )
    disconnect(nodes[1], second)
    watcher.messages(2, type_="presence")
    drain(watcher, 1.5)  # every node's GC ran several times meanwhile
    actions = [(p["user"], p["message"]["action"]) for p in of_type(watcher, "presence")]
    assert actions == [("bob", "joined"), ("bob", "parted")]
    watcher.close()


def test_connect_on_one_node_attach_on_another(nodes: list[ServerProcess]) -> None:
    conn_id = nodes[0].connect("carol", ["attach"])
    nodes[1].publish("attach", "dave", {"n": 1})
    client = WSClient(nodes[2].ws_url, conn_id)
    client.messages(1, type_="message")
    nodes[0].publish("attach", "dave", {"n": 2})
    got = client.messages(2, type_="message")
    assert [(m["message"]["n"], m["catchup"], m["offset"]) for m in got] == [
        (1, True, 1),
        (2, False, 2),
    ]
    # Long-poll works from any node too, and so do /subscribe and /user_state.
    answer = nodes[1].post("/subscribe", {"conn_id": conn_id, "channels": ["attach-2"]})
    assert answer["subscribed_to"] == ["attach-2"]
    nodes[2].publish("attach-2", "dave", {"n": 3})
    got = client.messages(3, type_="message")
    assert got[-1]["channel"] == "attach-2" and got[-1]["catchup"] is False
    client.close()


def test_catch_up_on_another_node_is_exact(nodes: list[ServerProcess]) -> None:
    conn_id = nodes[0].connect("erin", ["resume"])
    client = WSClient(nodes[0].ws_url, conn_id)
    for n in (1, 2, 3):
        nodes[1].publish("resume", "frank", {"n": n})
    seen = client.messages(3, type_="message")
    epoch, offset = seen[-1]["epoch"], seen[-1]["offset"]
    client.close()
    for n in (4, 5, 6):
        nodes[2].publish("resume", "frank", {"n": n})
    resume = {"channels": {"resume": [epoch, offset]}}
    again = WSClient(nodes[2].ws_url, conn_id, resume=resume)
    nodes[0].publish("resume", "frank", {"n": 7})
    got = again.messages(4, type_="message")
    drain(again, 0.3)
    got = of_type(again, "message")
    assert [(m["message"]["n"], m["catchup"]) for m in got[:3]] == [(4, True), (5, True), (6, True)]
    assert [m["message"]["n"] for m in got] == [4, 5, 6, 7]  # 7: live, or in the replay
    assert of_type(again, "gap") == []
    again.close()
    # The same over long-poll on the third node, resuming after 5.
    for n in (8, 9):
        nodes[0].publish("resume", "frank", {"n": n})
    polled = listen(nodes[1].url, conn_id, resume=json.dumps({"channels": {"resume": [epoch, 5]}}))
    assert [m["message"]["n"] for m in polled if m["type"] == "message"] == [6, 7, 8, 9]
    # A stale epoch is announced, never silently skipped.
    stale = listen(nodes[2].url, conn_id, resume=json.dumps({"channels": {"resume": ["old", 5]}}))
    assert stale[0]["type"] == "gap" and stale[0]["reason"] == "epoch"


@pytest.mark.timeout(60)
def test_kill_9_of_a_node(
    nodes: list[ServerProcess], redis_server: RedisServer, logs_dir: Path
) -> None:
    victim = ServerProcess(
        settings=node_settings(redis_server.url), log_path=logs_dir / "victim.log"
    ).start()
    try:
        nodes[0].post("/channel_config", {"kill-room": {"notify_presence": True}})
        watcher = WSClient(nodes[0].ws_url, nodes[0].connect("kwatcher", ["kill-room"]))
        doomed = WSClient(victim.ws_url, victim.connect("doomed", ["kill-room"]))
        mover_id = victim.connect("mover", ["kill-chat"])
        mover = WSClient(victim.ws_url, mover_id)
        watcher.messages(1, type_="presence")
        nodes[1].publish("kill-chat", "x", {"n": 1})
        last = mover.messages(1, type_="message")[-1]
        victim.kill()
        killed = time.monotonic()
        doomed.close()
        mover.close()
        for n in (2, 3):
            nodes[1].publish("kill-chat", "x", {"n": n})
        # The mover's client reconnects to another node at once and resumes exactly.
        resume = {"channels": {"kill-chat": [last["epoch"], last["offset"]]}}
        moved = WSClient(nodes[2].ws_url, mover_id, resume=resume)
        nodes[0].publish("kill-chat", "x", {"n": 4})
        got = moved.messages(3, type_="message")
        # 4 may be live or already in the replay, depending on when the attach read the window.
        assert [(m["message"]["n"], m["catchup"]) for m in got[:2]] == [(2, True), (3, True)]
        assert [m["message"]["n"] for m in got] == [2, 3, 4]
        # The doomed user's presence expires within the bound, and "parted" comes once.
        watcher.messages(2, type_="presence", timeout=NODE_TTL + 10)
        elapsed = time.monotonic() - killed
        # node_ttl + the GC interval, with room for a loaded test machine; far below the
        # idle rule (GC_CONNS_AFTER), which is not what collected it.
        assert elapsed < NODE_TTL + 7 < GC_CONNS_AFTER
        drain(watcher, 1.5)
        actions = [(p["user"], p["message"]["action"]) for p in of_type(watcher, "presence")]
        assert actions == [("doomed", "joined"), ("doomed", "parted")]
        # The mover, back on a live node, was not collected with the dead node's sockets.
        nodes[1].publish("kill-chat", "x", {"n": 5})
        assert [m["message"]["n"] for m in moved.messages(4, type_="message")] == [2, 3, 4, 5]
        info = nodes[1].post("/info", {"info": {"channels": ["kill-chat", "kill-room"]}})
        assert info["channels"]["kill-chat"]["users"] == ["mover"]
        assert info["channels"]["kill-room"]["users"] == ["kwatcher"]
        watcher.close()
        moved.close()
    finally:
        victim.stop()


def test_workers_share_one_port_with_reuse_port(redis_server: RedisServer, logs_dir: Path) -> None:
    port = free_port()
    workers = [
        ServerProcess(
            settings=node_settings(redis_server.url, reuse_port="true"),
            port=port,
            log_path=logs_dir / f"worker{i}.log",
        )
        for i in range(2)
    ]
    try:
        for worker in workers:
            worker.start()
        # The second start() returns as soon as the port answers, maybe from the first: the
        # kernel spreads new connections over both listeners once both are up.
        seen: set[str] = set()

        def both_answer() -> bool:
            with requests.Session() as session:  # a new TCP connection each time
                answer = session.get(workers[0].url + "/health", timeout=5).json()
            seen.add(answer["engine"]["node"])
            return len(seen) == 2

        wait_until(both_answer, timeout=20, what="both workers answering")
        assert all(worker.process and worker.process.poll() is None for worker in workers)
        # And they act as one: connect through the port, listen, publish through the port.
        conn_id = workers[0].connect("worker-user", ["shared"])
        client = WSClient(workers[0].ws_url, conn_id)
        for n in range(10):
            workers[1].publish("shared", "x", {"n": n})
        got = client.messages(10, type_="message")
        assert [m["message"]["n"] for m in got] == list(range(10))
        client.close()
    finally:
        for worker in workers:
            worker.stop()
