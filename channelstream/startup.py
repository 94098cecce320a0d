"""Checks a node makes once, before it serves: each failure is a ConfigurationError whose
one sentence names the setting and the cause (the app factory prints it and exits 1).

Settings whose values can be wrong on their own are checked where they are parsed
(``settings.py``); these need the outside world: an importable signature checker, a Redis
server that answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channelstream.errors import ConfigurationError

if TYPE_CHECKING:
    from pyramid.config import Configurator

    from channelstream.settings import Settings

# Seconds to wait for Redis at start: a server that is up answers at once.
REDIS_CONNECT_TIMEOUT = 3


def signature_checker(config: Configurator, dotted: str) -> Callable[..., Any]:
    try:
        checker = config.maybe_dotted(dotted)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"channelstream.signature_checker: cannot import {dotted!r} ({exc})"
        ) from None
    if isinstance(checker, type):
        # 0.7.1's interface: a class built with the secret, with an unsign() method.
        raise ConfigurationError(
            f"channelstream.signature_checker: {dotted!r} is a class (0.7.1's interface); "
            "channelstream calls a function (settings, signed_value) -> None "
            "(docs/upgrading.md)"
        )
    if not callable(checker):
        raise ConfigurationError(f"channelstream.signature_checker: {dotted!r} is not callable")
    return checker


def require_redis(settings: Settings) -> None:
    """A node refuses to start while Redis does not answer (a service manager restarts it);
    once running, it rides out Redis outages (docs/cluster.md)."""
    import redis

    from channelstream.engine.redis.client import make_client, safe_url

    try:
        client = make_client(
            settings.redis_url,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_CONNECT_TIMEOUT,
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError, ValueError) as exc:
        raise ConfigurationError(
            f"channelstream.redis_url: cannot reach Redis at {safe_url(settings.redis_url)} "
            f"({type(exc).__name__}: {exc})"
        ) from None
