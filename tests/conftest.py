from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test gets a timeout, so a hang fails fast instead of eating the run.
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(60))


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
