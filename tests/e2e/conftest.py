"""Fixtures of the end-to-end suite: real server processes, shared per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess

# Collection is slow enough here that no API test loses its connection by accident.
API_SETTINGS = {"gc_conns_after": 30, "gc_conns_interval": 0.5, "heartbeat_interval": 1}


@pytest.fixture(scope="module")
def node(logs_dir: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """One server per module with relaxed collection (for API and delivery tests)."""
    log = logs_dir / f"{request.module.__name__.rsplit('.', 1)[-1]}.log"
    with ServerProcess(settings=API_SETTINGS, log_path=log) as server:
        yield server
