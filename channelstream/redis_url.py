"""The shape of a Redis URL, checked when the settings are read, so that a typo is one clear
line at start rather than a failure when the Redis engine first connects."""

from __future__ import annotations

import urllib.parse

REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")


def _database(text: str) -> None:
    if not text.isdigit():
        raise ValueError(f"the Redis database must be a number, got {text!r}")


def check_redis_url(value: str) -> str:
    """Check the URL's shape here, so that a typo is one clear line at start (whether Redis
    answers is checked when the Redis engine starts)."""
    value = value.strip()
    scheme, sep, _ = value.partition("://")
    if not sep or scheme not in REDIS_SCHEMES:
        raise ValueError(f"must start with one of {', '.join(s + '://' for s in REDIS_SCHEMES)}")
    parts = urllib.parse.urlsplit(value)
    try:
        for host in parts.netloc.rpartition("@")[2].split(","):
            _ = urllib.parse.urlsplit(f"//{host}").port  # raises on a port that is no number
    except ValueError:
        raise ValueError(f"the port must be a number in {value!r}") from None
    for db in urllib.parse.parse_qs(parts.query).get("db", []):
        _database(db)
    path = [piece for piece in parts.path.split("/") if piece]
    if scheme.endswith("+sentinel"):
        if not path:
            raise ValueError("a Sentinel URL names the service: .../service[/db]")
        path = path[1:]
    elif scheme == "unix":
        path = []  # the socket's path
    if len(path) > 1:
        raise ValueError(f"the path names one Redis database, got {parts.path!r}")
    if path:
        _database(path[0])
    return value
