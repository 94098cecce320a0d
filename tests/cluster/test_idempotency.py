"""Idempotent publish across a cluster: a backend's publish whose answer was lost is retried
(by the Python client) through another node, and every reader, on every node, gets the
message once; Redis decides, inside the publish script, which publish was the first."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channelstream_client import Client, RetryPolicy
from tests.cluster.conftest import cluster
from tests.cluster.test_cluster import drain, of_type
from tests.support.clients import WSClient
from tests.support.flaky_proxy import FlakyProxy
from tests.support.redis_server import RedisServer
from tests.support.server import SECRET, ServerProcess

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

FAST = RetryPolicy(retries=2, backoff=0.01, max_backoff=0.05)


@pytest.fixture(scope="module")
def two_nodes(redis_server: RedisServer, logs_dir: Path) -> Iterator[list[ServerProcess]]:
    with cluster(redis_server.url, logs_dir, count=2, name="idem") as running:
        yield running


@pytest.fixture
def balancer(two_nodes: list[ServerProcess]) -> Iterator[FlakyProxy]:
    """Round robin over the two nodes, losing answers on demand."""
    proxy = FlakyProxy([node.url for node in two_nodes])
    yield proxy
    proxy.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def readers(nodes: list[ServerProcess], channels: list[str], **body: Any) -> list[WSClient]:
    """A WebSocket reader on each node."""
    return [
        WSClient(node.ws_url, node.connect(unique("reader"), channels, **body)) for node in nodes
    ]


def texts_before_end(client: WSClient) -> list[str]:
    client.read_until(
        lambda: any(m["message"].get("text") == "end" for m in of_type(client, "message")),
        timeout=10,
        what="the end marker",
    )
    drain(client, 0.3)
    return [m["message"]["text"] for m in of_type(client, "message")]


@pytest.mark.parametrize("loss", ["drop", "503"])
def test_a_publish_retried_through_another_node_is_delivered_once(
    two_nodes: list[ServerProcess], balancer: FlakyProxy, loss: str
) -> None:
    channel = unique("retried")
    configs = {channel: {"store_history": True}}
    clients = readers(two_nodes, [channel], channel_configs=configs)
    try:
        with Client(balancer.url, SECRET, retry=FAST) as backend:
            balancer.lose(loss)  # node0 publishes, its answer never reaches the backend
            answer = backend.publish({"channel": channel, "user": "b", "message": {"text": "x"}})
            assert [(node, action) for node, _, _, action in balancer.forwarded] == [
                (0, loss),
                (1, "pass"),
            ]
            backend.publish({"channel": channel, "user": "b", "message": {"text": "end"}})
        for client in clients:
            assert texts_before_end(client) == ["x", "end"]
            (delivered,) = [m for m in of_type(client, "message") if m["message"]["text"] == "x"]
            assert (delivered["uuid"], delivered["offset"]) == (answer["uuid"], answer["offset"])
            assert delivered["timestamp"] == answer["timestamp"]
    finally:
        for client in clients:
            client.close()
    info = two_nodes[1].post("/info", {"info": {"channels": [channel]}})
    assert [item["message"]["text"] for item in info["channels"][channel]["history"]] == [
        "x",
        "end",
    ]


def test_the_same_publish_on_two_nodes_answers_alike(two_nodes: list[ServerProcess]) -> None:
    """Channel and direct messages, sent to one node and then whole to the other."""
    channel, user = unique("both"), unique("bob")
    clients = readers(two_nodes, [channel]) + [
        WSClient(node.ws_url, node.connect(user, [])) for node in two_nodes
    ]
    batch = [
        {"channel": channel, "user": "b", "message": {"text": "x"}, "uuid": str(uuid.uuid4())},
        {"user": "b", "pm_users": [user], "message": {"text": "x"}, "uuid": str(uuid.uuid4())},
    ]
    try:
        first = two_nodes[0].post("/message", batch)
        time.sleep(0.05)  # another default timestamp, were the message published again
        second = two_nodes[1].post("/message", batch)
        assert second == first
        ends = [
            {"channel": channel, "user": "b", "message": {"text": "end"}},
            {"user": "b", "pm_users": [user], "message": {"text": "end"}},
        ]
        two_nodes[0].post("/message", ends)
        for client in clients:
            assert texts_before_end(client) == ["x", "end"]
    finally:
        for client in clients:
            client.close()


def test_the_same_publish_on_two_nodes_at_once_is_one_message(
    two_nodes: list[ServerProcess],
) -> None:
    channel = unique("race")
    clients = readers(two_nodes, [channel])
    messages = [
        {"channel": channel, "user": "b", "message": {"text": f"m{n}"}, "uuid": str(uuid.uuid4())}
        for n in range(20)
    ]
    answers: dict[int, list[Any]] = {0: [], 1: []}

    def send(index: int) -> None:
        for message in messages:
            answers[index].append(two_nodes[index].post("/message", [message])[0])

    threads = [threading.Thread(target=send, args=(index,)) for index in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert answers[0] == answers[1]
        two_nodes[0].post(
            "/message", [{"channel": channel, "user": "b", "message": {"text": "end"}}]
        )
        for client in clients:
            assert texts_before_end(client) == [f"m{n}" for n in range(20)] + ["end"]
    finally:
        for client in clients:
            client.close()
