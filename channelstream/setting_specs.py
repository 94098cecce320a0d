"""Every ``channelstream.*`` setting, declared once: its name, how its text is parsed, its
default and what it means (the README's settings table is tested against this list), and
the 0.7.1 settings that have no equivalent. ``settings`` reads them into ``Settings``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from channelstream.errors import ConfigurationError
from channelstream.limits.specs import LIMIT_SETTINGS
from channelstream.redis_url import check_redis_url
from channelstream.setting_base import Setting
from channelstream.webhooks.specs import PRESENCE_SETTINGS

PREFIX = "channelstream."
ENV_PREFIX = "CHANNELSTREAM_"

# Values that ship in development.ini and docs; production refuses to start with them.
PLACEHOLDER_SECRETS = frozenset({"", "secret", "changeme", "admin_secret", "cookie_secret"})
# Production refuses shorter secrets: 16 random characters are out of reach of guessing,
# and make_config writes 43.
MIN_SECRET_LENGTH = 16
DEFAULT_SIGNATURE_CHECKER = "channelstream.security.check_signature"
# 0.7.1's name for its (only) signature checker, as its make_config wrote it: the same
# itsdangerous TimestampSigner check as ours.
SIGNATURE_CHECKER_071 = "channelstream.utils.DefaultSigner"
# The longest idempotency_window: what publishes within it leave in memory (the engine's
# or Redis's) grows with it, and a backend's retries are over long before a day.
MAX_IDEMPOTENCY_WINDOW = 86400
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
ACCESS_LOG_FORMATS = ("combined", "common", "off")


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


def _idempotency_window(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"must be a number of seconds (0 for none), got {value!r}") from None
    if not math.isfinite(number) or not 0 <= number <= MAX_IDEMPOTENCY_WINDOW:
        raise ValueError(f"must be 0 or more seconds, at most {MAX_IDEMPOTENCY_WINDOW}")
    return number


def _trend_minutes(value: str) -> int:
    # An hour of one-second samples is 3,600 numbers a series: kept small, as every poll of
    # the admin panel carries the series whole.
    number = int(value)
    if not 1 <= number <= 60:
        raise ValueError("must be 1 to 60")
    return number


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return chosen

    return parse


def _signature_checker(value: str) -> str:
    value = value.strip()
    return DEFAULT_SIGNATURE_CHECKER if value == SIGNATURE_CHECKER_071 else value


def _listen(value: str) -> str:
    try:
        parse_listen(value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return value.strip()


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
        "admin_trend_minutes",
        _trend_minutes,
        "10",
        "Minutes of trends (connections, messages/s, deliveries/s, each channel's rate) the "
        "admin panel's charts show, sampled each second by every node (1 to 60).",
    ),
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
        _signature_checker,
        DEFAULT_SIGNATURE_CHECKER,
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
    Setting(
        "engine",
        str,
        "memory",
        "`memory` (one node), `redis` (several nodes), or the dotted name of a callable "
        "`(settings) -> engine` (docs/engines.md).",
    ),
    Setting(
        "redis_url",
        check_redis_url,
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
    *PRESENCE_SETTINGS,
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
        "idempotency_window",
        _idempotency_window,
        "120",
        "Seconds during which a message whose `uuid` was already published to the same "
        "channel (or to the same direct recipient) is neither delivered nor kept again; the "
        "answer carries the first one, so a backend may retry a publish. 0: off; at most "
        "86400 (docs/wire-extensions.md).",
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
    *LIMIT_SETTINGS,
    Setting(
        "listen", _listen, "0.0.0.0:8000", "Address the server runner listens on (`host:port`)."
    ),
    Setting("backlog", _positive_int, "2048", "Listen backlog of the server socket."),
    Setting(
        "reuse_port",
        _bool,
        "false",
        "Set SO_REUSEPORT so several worker processes can listen on one port.",
    ),
    Setting(
        "log_level",
        _log_level,
        "INFO",
        "Level of the `channelstream` loggers (DEBUG, INFO, WARNING, ERROR, CRITICAL).",
    ),
    Setting(
        "log_format",
        _choice(LOG_FORMATS),
        "text",
        "`json` makes every log line one JSON object (for log shippers); `text` keeps the "
        "ini's formatters.",
    ),
    Setting(
        "access_log",
        _choice(ACCESS_LOG_FORMATS),
        "combined",
        "One `channelstream.access` line per request, written off the request path: "
        "`combined`, `common` (Apache's formats) or `off`; `?secret=` values redacted.",
    ),
    Setting(
        "metrics_dir",
        str,
        "",
        "A directory shared by worker processes on one port (`reuse_port`): each writes its "
        "figures there and `/metrics` reports them summed, as one node. Empty: this "
        "process alone.",
    ),
)

# The settings that hold secrets: generated by make_config, checked in production.
SECRET_NAMES = tuple(setting.name for setting in SETTINGS if setting.secret)

# 0.7.1 settings without an equivalent here: why each may go, and the values that mean
# what we do anyway (its defaults, which its make_config writes), so no warning is due.
IGNORED_071_SETTINGS = {
    "debug": ("0.7.1 did nothing with it", ("", "false", "0")),
    "enforce_https": (
        "terminate TLS in the proxy in front (docs/deployment.md)",
        ("", "false", "0"),
    ),
    "http_scheme": ("the proxy in front sets the scheme (docs/deployment.md)", ("",)),
    "validate_requests": (
        "signatures always expire after channelstream.signature_max_age",
        ("", "true", "1"),
    ),
    # In 0.7.1's defaults but never read from its ini:
    "wake_connections_after": ("see channelstream.longpoll_timeout", ()),
    "demo": ("the demo applications live in demo/", ()),
}


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"listen address must be host:port (port 1-65535), got {listen!r}")
    host = host.strip("[]") or "0.0.0.0"
    if any(char.isspace() or char in "/@" for char in host):
        raise ConfigurationError(f"listen address has a bad host: {listen!r}")
    return host, int(port)
