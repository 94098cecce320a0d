"""The Redis engine: its broker and presence parts on one client, its bus, its lifecycle."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import redis

from channelstream.engine.base import EngineEvents
from channelstream.engine.redis.bus import Bus
from channelstream.engine.redis.client import RedisErrors, command_client
from channelstream.engine.redis.lifeline import Lifeline
from channelstream.engine.redis.presence import RedisPresence
from channelstream.engine.redis.streams import RedisBroker
from channelstream.settings import Settings

if TYPE_CHECKING:
    from channelstream.engine.base import Engine

log = logging.getLogger("channelstream.engine.redis")

DEFAULT_PREFIX = "{channelstream}:"


class RedisEngine(RedisBroker, RedisPresence):
    def __init__(
        self,
        settings: Settings,
        *,
        prefix: str = DEFAULT_PREFIX,
        node_id: str | None = None,
        node_ttl: float | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        self._setup(
            settings,
            client or command_client(settings.redis_url),
            prefix,
            node_id or uuid.uuid4().hex[:16],
        )
        self.node_ttl = node_ttl or settings.node_ttl
        if self.node_ttl <= 0:
            raise ValueError("node_ttl must be greater than 0")
        # The recovery window after a data loss is the cluster's own bound on "a node that
        # does not answer is gone": node_ttl.
        self.lifeline = Lifeline(self, self.node_ttl)
        self.bus = Bus(self, self.node_ttl, self.lifeline)

    # -- lifecycle -------------------------------------------------------------------
    def start(self, events: EngineEvents) -> None:
        self.bus.start(events)

    def stop(self) -> None:
        self.bus.stop()
        self.redis.connection_pool.disconnect()

    def error_count(self) -> int:
        return self.bus.errors

    def health(self) -> dict[str, Any]:
        bus = self.bus
        answer: dict[str, Any] = {
            "engine": "redis",
            "node": self.node_id,
            "subscribed": bus.subscribed,
            "outages": bus.outages,
        }
        try:
            self.redis.ping()
            ok = bus.subscribed
        except RedisErrors as exc:
            ok = False
            answer["error"] = type(exc).__name__
        if not ok and bus.last_error:
            answer.setdefault("error", bus.last_error)
        answer["ok"] = ok
        return answer


if TYPE_CHECKING:

    def _keeps_the_contract(settings: Settings) -> Engine:
        return RedisEngine(settings)
