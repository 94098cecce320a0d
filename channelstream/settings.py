"""Every ``channelstream.*`` setting, parsed once into a frozen, typed object.

Each key is declared once in ``SETTINGS`` with its type, default and meaning; the README's
settings table is generated from (and tested against) this list. Any key can be overridden by
the environment variable ``CHANNELSTREAM_<NAME>`` so that a container needs no ini edits.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from channelstream.errors import ConfigurationError

PREFIX = "channelstream."
ENV_PREFIX = "CHANNELSTREAM_"

# Values that ship in development.ini and docs; production refuses to start with them.
PLACEHOLDER_SECRETS = frozenset({"", "secret", "changeme", "admin_secret", "cookie_secret"})


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.replace(",", " ").split() if part)


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: str
    doc: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "secret",
        str,
        "",
        "Keys of the server API signatures, separated by whitespace: every one verifies, the "
        "first is the one to sign with. To rotate, put the new key first, move the backends "
        "over, then drop the old one (docs/signing.md).",
        secret=True,
    ),
    Setting("admin_user", str, "admin", "User name for the admin panel."),
    Setting("admin_secret", str, "", "Password for the admin panel.", secret=True),
    Setting("cookie_secret", str, "", "Key that signs the admin session cookie.", secret=True),
    Setting(
        "environment",
        str,
        "production",
        "`production` refuses placeholder secrets; `development` allows them.",
    ),
    Setting(
        "allow_posting_from",
        _list,
        "127.0.0.1",
        "Client addresses allowed to call the server API; `0.0.0.0` means any.",
    ),
    Setting(
        "trusted_proxies",
        _list,
        "",
        "Proxy addresses whose X-Forwarded-For names the real client address.",
    ),
    Setting("allow_cors", _list, "*", "Origins allowed by CORS (`*` means any)."),
    Setting(
        "accept_query_secret",
        _bool,
        "true",
        "Also accept 0.7's signature in a `?secret=` query parameter, as 0.7.1 did (only "
        "while `legacy_signatures` is on).",
    ),
    Setting(
        "legacy_signatures",
        _bool,
        "true",
        "Accept 0.7's signature (itsdangerous, `x-channelstream-secret` header or `?secret=`) "
        "beside the request-bound `x-channelstream-signature`; `false` accepts only the latter.",
    ),
    Setting(
        "signature_checker",
        str,
        "channelstream.security.check_signature",
        "Dotted name of the callable `(settings, signed_value) -> None` that checks a 0.7 "
        "signature.",
    ),
    Setting(
        "signature_max_age",
        _positive_int,
        "60",
        "Seconds a server API signature stays valid (a request-bound one: this far from the "
        "server's clock either way).",
    ),
    Setting("engine", str, "memory", "`memory` (one node) or `redis` (several nodes)."),
    Setting(
        "redis_url",
        str,
        "redis://127.0.0.1:6379/0",
        "Redis URL for the redis engine: `redis://`, `rediss://`, `unix://`, or "
        "`redis+sentinel://host:26379[,host:port...]/service[/db]` for Sentinel.",
    ),
    Setting(
        "node_ttl",
        _positive_float,
        "10",
        "Seconds a node's heartbeat key lives in Redis (redis engine): the connections of a "
        "node that dies lose their presence (`parted` is sent) within about this plus "
        "`gc_conns_interval`.",
    ),
    Setting(
        "gc_conns_after",
        _positive_float,
        "15",
        "Seconds without activity after which a connection is collected.",
    ),
    Setting(
        "gc_conns_interval",
        _positive_float,
        "1",
        "Seconds between connection garbage-collection passes.",
    ),
    Setting(
        "gc_users_after",
        _positive_float,
        "86400",
        "Seconds after its last activity that a user without connections is forgotten.",
    ),
    Setting(
        "gc_channels_after",
        _positive_float,
        "86400",
        "Seconds after its last activity that an empty channel is collected.",
    ),
    Setting(
        "gc_interval",
        _positive_float,
        "60",
        "Seconds between user and channel garbage-collection passes.",
    ),
    Setting(
        "heartbeat_interval",
        _positive_float,
        "5",
        "Seconds between `[]` heartbeats (and WebSocket pings) to attached sockets.",
    ),
    Setting(
        "ping_timeout",
        _positive_float,
        "30",
        "Seconds a WebSocket may stay silent (no pong, no message) before it is closed.",
    ),
    Setting(
        "longpoll_timeout",
        _positive_float,
        "5",
        "Seconds a `/listen` request is held when there is nothing to send.",
    ),
    Setting(
        "catchup_size",
        _positive_int,
        "500",
        "Events kept per channel (and per user's direct stream) for catch-up and resume.",
    ),
    Setting(
        "max_history_size",
        _positive_int,
        "1000",
        "Upper bound on any channel's `history_size`.",
    ),
    Setting(
        "max_body_size",
        _positive_int,
        "1048576",
        "Largest request body in bytes; a larger one gets 413.",
    ),
    Setting(
        "max_channels_per_call",
        _positive_int,
        "1000",
        "Most channels one API call may name (`channels`, `exclude_channels`, "
        "`channel_configs`, `/channel_config`); more gets 422.",
    ),
    Setting(
        "max_users_per_message",
        _positive_int,
        "1000",
        "Most users one message may name in `pm_users` or in `exclude_users`; more gets 422.",
    ),
    Setting(
        "header_timeout",
        _positive_float,
        "10",
        "Seconds a client gets to send a request's line and headers (from its connection, "
        "or from the first byte of a keep-alive request); then it is closed (408).",
    ),
    Setting(
        "body_timeout",
        _positive_float,
        "30",
        "Seconds a client gets to send a request's body once its headers are in; then 408.",
    ),
    Setting(
        "keepalive_timeout",
        _positive_float,
        "75",
        "Seconds an idle keep-alive connection stays open between two requests.",
    ),
    Setting(
        "ws_max_message_size",
        _positive_int,
        "65536",
        "Largest message a WebSocket client may send, in bytes; a larger one closes with 1009.",
    ),
    Setting(
        "max_queued_bytes",
        _positive_int,
        "4194304",
        "Bytes that may wait for one slow WebSocket before it is closed with 4008.",
    ),
    Setting("listen", str, "0.0.0.0:8000", "Address the server runner listens on (`host:port`)."),
    Setting("backlog", _positive_int, "2048", "Listen backlog of the server socket."),
    Setting(
        "reuse_port",
        _bool,
        "false",
        "Set SO_REUSEPORT so several worker processes can listen on one port.",
    ),
    Setting(
        "log_level", str, "INFO", "Level of the `channelstream` loggers (DEBUG, INFO, WARNING...)."
    ),
)

# The settings that hold secrets: generated by make_config, checked in production.
SECRET_NAMES = tuple(setting.name for setting in SETTINGS if setting.secret)


@dataclasses.dataclass(frozen=True)
class Settings:
    secret: str
    admin_user: str
    admin_secret: str
    cookie_secret: str
    environment: str
    allow_posting_from: tuple[str, ...]
    trusted_proxies: tuple[str, ...]
    allow_cors: tuple[str, ...]
    accept_query_secret: bool
    legacy_signatures: bool
    signature_checker: str
    signature_max_age: int
    engine: str
    redis_url: str
    node_ttl: float
    gc_conns_after: float
    gc_conns_interval: float
    gc_users_after: float
    gc_channels_after: float
    gc_interval: float
    heartbeat_interval: float
    ping_timeout: float
    longpoll_timeout: float
    catchup_size: int
    max_history_size: int
    max_body_size: int
    max_channels_per_call: int
    max_users_per_message: int
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    ws_max_message_size: int
    max_queued_bytes: int
    listen: str
    backlog: int
    reuse_port: bool
    log_level: str

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every API key, the signing one first (``secret`` holds them space-separated)."""
        return tuple(self.secret.split())

    def redacted(self) -> dict[str, Any]:
        """The settings with secrets masked, for logs and the admin view."""
        values = dataclasses.asdict(self)
        for setting in SETTINGS:
            if setting.secret and values[setting.name]:
                values[setting.name] = "***"
        return values


def raw_value(
    name: str, ini: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str] | None:
    """The configured text of a setting and where it came from, or None if unset."""
    env_name = ENV_PREFIX + name.upper()
    if env_name in environ:
        return environ[env_name], env_name
    for key in (PREFIX + name, name):
        if key in ini:
            return str(ini[key]), key
    return None


def parse_settings(ini: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Parse ``channelstream.*`` keys (and their environment overrides) into Settings."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        found = raw_value(setting.name, ini, environ)
        text, source = found if found else (setting.default, "default")
        try:
            values[setting.name] = setting.parse(text)
        except ValueError as exc:
            raise ConfigurationError(f"{source}: {exc}") from None
    settings = Settings(**values)
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    if settings.environment not in ("production", "development"):
        raise ConfigurationError("channelstream.environment must be production or development")
    if settings.engine not in ("memory", "redis"):
        raise ConfigurationError("channelstream.engine must be memory or redis")
    if settings.environment == "production":
        for name in SECRET_NAMES:
            values = (settings.secrets or ("",)) if name == "secret" else (getattr(settings, name),)
            if any(value in PLACEHOLDER_SECRETS for value in values):
                raise ConfigurationError(
                    f"channelstream.{name} is a placeholder; set a real secret in the ini or "
                    f"in {ENV_PREFIX}{name.upper()} (channelstream_utils make_config makes one)"
                )
    parse_listen(settings.listen)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigurationError(f"listen address must be host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)
