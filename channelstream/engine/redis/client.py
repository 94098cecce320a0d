"""How the Redis engine talks to Redis: clients from URLs (Sentinel included), the errors
that mean "Redis is away", and the shared ground of the engine's parts (its client, key
prefix and scripts)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import redis
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from channelstream.engine.redis import scripts
from channelstream.settings import Settings

# What a call raises while Redis is away (or too slow): API calls answer 503, touches are
# skipped, the subscriber reconnects.
RedisErrors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def make_client(url: str, **options: Any) -> redis.Redis:
    """A client for ``redis://``, ``rediss://`` and ``unix://`` URLs (redis-py's own), or for
    ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]`` (and
    ``rediss+sentinel://``): the master of `service` as the sentinels name it, followed
    through failovers. The password is the master's; sentinels without auth are assumed."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme.endswith("+sentinel"):
        return redis.Redis.from_url(url, **options)
    from redis.sentinel import Sentinel

    parts = urllib.parse.urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    sentinels = []
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        if not colon or not port.isdigit():
            name, port = host, "26379"
        sentinels.append((name.strip("[]"), int(port)))
    path = [piece for piece in parts.path.split("/") if piece]
    if not path:
        raise ValueError("a redis+sentinel URL names the service: .../service[/db]")
    timeouts = {
        key: options[key] for key in ("socket_connect_timeout", "socket_timeout") if key in options
    }
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts, **timeouts)
    return sentinel.master_for(
        urllib.parse.unquote(path[0]),
        db=int(path[1]) if len(path) > 1 else 0,
        username=urllib.parse.unquote(username) or None,
        password=urllib.parse.unquote(password) or None,
        ssl=scheme.startswith("rediss"),
        **{key: value for key, value in options.items() if key not in timeouts},
    )


def command_client(url: str) -> redis.Redis:
    """The pool every command uses: it fails fast (API calls answer 503 rather than hang)."""
    return make_client(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        # One quick second try: a pooled connection may be stale after a Redis restart.
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[redis.exceptions.ConnectionError],
    )


def subscriber_client(url: str) -> redis.Redis:
    """The subscriber's own single connection: no hidden retries, so that every
    reconnection is seen (and followed by a re-sync)."""
    return make_client(
        url,
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=5,
        retry=Retry(NoBackoff(), 0),
    )


def safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


SCRIPT_NAMES = tuple(name for name in dir(scripts) if name.isupper() and name[0] != "_")


class RedisPart:
    """What every part of the Redis engine stands on: set up once by ``RedisEngine``."""

    settings: Settings
    redis: Redis
    # Every key starts with it (see the package's docstring for the layout).
    prefix: str
    node_id: str
    # KEYS[1] of every script, and the pub/sub channel the publish script publishes on.
    bus_key: str

    def _setup(self, settings: Settings, client: Redis, prefix: str, node_id: str) -> None:
        self.settings = settings
        self.redis = client
        self.prefix = prefix
        self.node_id = node_id
        # Pub/sub channels are shared by every database of a Redis server: the bus is named
        # after the database, so that deployments in different databases stay apart.
        db = client.connection_pool.connection_kwargs.get("db", 0)
        self.bus_key = f"{prefix}bus:{db}"
        self._scripts = {
            name: client.register_script(getattr(scripts, name)) for name in SCRIPT_NAMES
        }

    def _run(self, name: str, *args: Any) -> Any:
        return self._scripts[name](keys=[self.bus_key], args=[self.prefix, *args])
