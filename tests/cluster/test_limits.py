"""max_connections_per_user holds for the cluster: two nodes on one real redis-server,
connects raced on both at once, never admit past the limit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cluster.conftest import cluster
from tests.support.clients import WSClient
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = pytest.mark.redis

MOST = 3


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer, logs_dir: Path) -> Iterator[list[ServerProcess]]:
    with cluster(
        redis_server.url, logs_dir, count=2, name="limits", max_connections_per_user=MOST
    ) as nodes:
        yield nodes


def test_connects_raced_on_two_nodes_never_pass_the_per_user_limit(
    pair: list[ServerProcess],
) -> None:
    rounds, per_round = 4, 16

    def attempt(args: tuple[str, int]) -> tuple[int, str | None]:
        username, index = args
        node = pair[index % 2]
        answer = node.call("POST", "/connect", {"username": username, "channels": ["race"]})
        return answer.status_code, answer.json().get("conn_id")

    with ThreadPoolExecutor(per_round) as pool:
        for round_ in range(rounds):
            username = f"racer{round_}"
            answers = list(pool.map(attempt, [(username, i) for i in range(per_round)]))
            statuses = sorted(status for status, _ in answers)
            assert statuses == [200] * MOST + [429] * (per_round - MOST), username
    admitted = [conn for status, conn in answers if status == 200]
    assert admitted and all(admitted)
    # The same conn_id again, on either node, is no new connection; another user is free.
    for node in pair:
        again = node.connect(username, ["race"], conn_id=admitted[0])
        assert again == admitted[0]
    other = pair[1].connect("bystander", ["race"])
    # The admitted ones work on any node.
    clients = [WSClient(pair[i % 2].ws_url, conn) for i, conn in enumerate([*admitted, other])]
    pair[0].publish("race", "sender", {"n": 1})
    for client in clients:
        client.messages(1, type_="message")
        client.close()
