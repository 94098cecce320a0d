"""Engines hold the shared truth (channels, users, connections, streams) and carry every
published envelope to the hub of every node. ``base`` is the contract; ``memory`` the
embedded default; any other engine passes the same contract tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channelstream.engine.base import Engine
    from channelstream.settings import Settings


def create_engine(settings: Settings) -> Engine:
    """The engine the settings name; imported lazily so Redis is needed only when used."""
    if settings.engine == "redis":
        from channelstream.engine.redis import RedisEngine

        return RedisEngine(settings)
    from channelstream.engine.memory import MemoryEngine

    return MemoryEngine(settings)
