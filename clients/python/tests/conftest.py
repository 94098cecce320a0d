"""Fixtures of the client's tests: a real channelstream server process (from the server's
test support), and a small misbehaving HTTP server for the retry policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from client_flavours import FLAVOURS, Factory, factory
from client_support import NEW_KEY, ROTATING_SECRET, ScriptedServer
from tests.support.server import ServerProcess


@pytest.fixture(scope="session")
def channelstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the client's tests, in the middle of a key rotation."""
    log = tmp_path_factory.mktemp("client-logs") / "channelstream.log"
    settings = {"secret": ROTATING_SECRET, "gc_conns_after": 30, "heartbeat_interval": 1}
    with ServerProcess(settings=settings, log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that accepts only request-bound signatures."""
    log = tmp_path_factory.mktemp("client-logs") / "strict.log"
    settings = {"secret": NEW_KEY, "legacy_signatures": "false", "gc_conns_after": 30}
    with ServerProcess(settings=settings, log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that refuses this machine's address (allow_posting_from elsewhere)."""
    log = tmp_path_factory.mktemp("client-logs") / "fenced.log"
    settings = {"secret": NEW_KEY, "allow_posting_from": "10.255.0.1"}
    with ServerProcess(settings=settings, log_path=log) as server:
        yield server


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture(params=FLAVOURS)
def make_client(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """``make_client(url, secret, **options)``: a Client, or an AsyncClient driven on its own
    loop (each test runs once with each); closed after the test."""
    made: list[Any] = []
    yield factory(request.param, made)
    for client in made:
        client.close()
