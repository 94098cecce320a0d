"""A real redis-server and three channelstream processes sharing it (no sticky sessions)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import waiting
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

# Short enough for the tests; a node killed with -9 loses its sockets' presence within
# NODE_TTL + the GC interval, long before the idle rule (GC_CONNS_AFTER) would.
NODE_TTL = 3
GC_CONNS_AFTER = 30


def node_settings(redis_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "engine": "redis",
        "redis_url": redis_url,
        "node_ttl": NODE_TTL,
        "gc_conns_after": GC_CONNS_AFTER,
        "gc_conns_interval": 0.25,
        "heartbeat_interval": 1,
        "catchup_size": 200,
        "log_level": "INFO",
        **extra,
    }


@contextlib.contextmanager
def cluster(
    redis_url: str, logs: Path, count: int = 3, name: str = "node", **extra: Any
) -> Iterator[list[ServerProcess]]:
    nodes = [
        ServerProcess(settings=node_settings(redis_url, **extra), log_path=logs / f"{name}{i}.log")
        for i in range(count)
    ]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def nodes(redis_server: RedisServer, logs_dir: Path) -> Iterator[list[ServerProcess]]:
    with cluster(redis_server.url, logs_dir) as running:
        yield running


# Cluster events (Redis restarts, node expiry) take longer than one node's.
wait_until = functools.partial(waiting.wait_until, timeout=10)


def health(node: ServerProcess) -> int:
    try:
        return requests.get(node.url + "/health", timeout=3).status_code
    except requests.RequestException:
        return 0
