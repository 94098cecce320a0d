from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess
from tests.support.webapp import App, make

# Tests that start other processes (a server, a redis-server, a browser, pip) live here or
# use these fixtures; `make unit` runs the rest, in this process only.
PROCESS_DIRS = ("e2e", "browser", "cluster")
PROCESS_FIXTURES = {"server", "channelstream", "strict", "fenced", "redis_server", "fresh_redis"}
PROCESS_MARKS = ("redis", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # Every test gets a timeout, so a hang fails fast instead of eating the run.
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(60))
        parts = item.path.parts
        if (
            any(part in parts for part in PROCESS_DIRS)
            or item.path.name == "test_client_install.py"
            or PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
            or any(item.get_closest_marker(mark) for mark in PROCESS_MARKS)
        ):
            item.add_marker(pytest.mark.process)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="module")
def server(logs_dir: Path) -> Iterator[ServerProcess]:
    """One real server process per test module (short GC for collection tests)."""
    node = ServerProcess(
        settings={"gc_conns_after": 2, "gc_conns_interval": 0.2, "heartbeat_interval": 1},
        log_path=logs_dir / "server.log",
    )
    with node:
        yield node


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throwaway redis-server for the in-process engine tests (tests flush it)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def app() -> Iterator[App]:
    """channelstream in this process, driven by WebTest (tests/support/webapp.py)."""
    running = make()
    yield running
    running.runtime.stop()
