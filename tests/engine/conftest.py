"""Engines under test: the memory engine and the Redis engine on a throwaway redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from channelstream import presenters
from channelstream.engine.base import Control, Engine, Envelope
from channelstream.engine.memory import MemoryEngine
from channelstream.engine.redis import RedisEngine
from channelstream.model.event import Event
from channelstream.settings import Settings, parse_settings
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

CATCHUP = 5


def engine_settings(redis_url: str = "redis://127.0.0.1:1/0", **extra: Any) -> Settings:
    return parse_settings(
        {
            "channelstream.environment": "development",
            "channelstream.redis_url": redis_url,
            "channelstream.catchup_size": str(CATCHUP),
            "channelstream.max_history_size": "50",
            **{f"channelstream.{k}": str(v) for k, v in extra.items()},
        },
        environ={},
    )


def channel_info(engine: Engine, name: str, **include: bool) -> dict[str, Any] | None:
    """0.7's channel info, as the API answers it: the engine's snapshot, presented."""
    snapshot = engine.channel_snapshot(
        name,
        include_history=include.get("include_history", True),
        include_users=include.get("include_users", True),
    )
    return None if snapshot is None else presenters.channel_info(snapshot)


class Recorder:
    """EngineEvents that keep every envelope, in the order they arrived."""

    def __init__(self) -> None:
        self.got: list[Envelope] = []
        self.resubscribed = 0

    def on_event(self, event: Event) -> None:
        self.got.append(event)

    def on_control(self, envelope: Control) -> None:
        self.got.append(envelope)

    def on_resubscribed(self) -> None:
        self.resubscribed += 1

    def wants(self, channel: str) -> bool:
        return True


class Harness:
    """An engine started with a recorder, and a way to wait for deliveries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.recorder = Recorder()
        self.got = self.recorder.got
        engine.start(self.recorder)

    def wait_for(self, count: int, timeout: float = 5) -> list[Envelope]:
        wait_until(
            lambda: len(self.got) >= count, timeout, what=f"{count} envelopes", interval=0.005
        )
        return list(self.got)

    def settle(self, seconds: float = 0.1) -> list[Envelope]:
        """What was delivered once nothing more is in flight (the bus is asynchronous)."""
        if isinstance(self.engine, RedisEngine):
            time.sleep(seconds)
        return list(self.got)


def make_redis_engine(server: RedisServer, **kwargs: Any) -> RedisEngine:
    settings = kwargs.pop("settings", None) or engine_settings(server.url, engine="redis")
    return RedisEngine(settings, **kwargs)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "memory":
        engine: Engine = MemoryEngine(engine_settings())
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        flush = server.client()
        flush.flushall()
        flush.close()
        engine = make_redis_engine(server)
    running = Harness(engine)
    yield running
    engine.stop()


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> Iterator[Callable[..., RedisEngine]]:
    """Redis engines (nodes) on an emptied Redis; all are stopped afterwards."""
    client = redis_server.client()
    client.flushall()
    client.close()
    made: list[RedisEngine] = []

    def make(**kwargs: Any) -> RedisEngine:
        engine = make_redis_engine(redis_server, **kwargs)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.stop()
