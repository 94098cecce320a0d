"""How the text of each ``channelstream.*`` setting is read: one parser per kind of value,
each raising ``ValueError`` with a sentence that says what was expected."""

from __future__ import annotations

import urllib.parse

from channelstream.engine.base import TRANSITIONS
from channelstream.errors import ConfigurationError

DEFAULT_SIGNATURE_CHECKER = "channelstream.security.check_signature"
# 0.7.1's name for its (only) signature checker, as its make_config wrote it: the same
# itsdangerous TimestampSigner check as ours.
SIGNATURE_CHECKER_071 = "channelstream.utils.DefaultSigner"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def words(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.replace(",", " ").split() if part)


def positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def webhook_url(value: str) -> str:
    value = value.strip()
    parts = urllib.parse.urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value


def event_names(value: str) -> tuple[str, ...]:
    names = words(value)
    if names == ("all",):
        return TRANSITIONS
    for name in names:
        if name not in TRANSITIONS:
            raise ValueError(f"{name!r} is no event: `all` or some of {', '.join(TRANSITIONS)}")
    return tuple(name for name in TRANSITIONS if name in names)


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def log_level(value: str) -> str:
    level = value.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def signature_checker(value: str) -> str:
    value = value.strip()
    return DEFAULT_SIGNATURE_CHECKER if value == SIGNATURE_CHECKER_071 else value


def listen_address(value: str) -> str:
    try:
        parse_listen(value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return value.strip()


def _database(text: str) -> None:
    if not text.isdigit():
        raise ValueError(f"the Redis database must be a number, got {text!r}")


def redis_url(value: str) -> str:
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


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"listen address must be host:port (port 1-65535), got {listen!r}")
    host = host.strip("[]") or "0.0.0.0"
    if any(char.isspace() or char in "/@" for char in host):
        raise ConfigurationError(f"listen address has a bad host: {listen!r}")
    return host, int(port)
