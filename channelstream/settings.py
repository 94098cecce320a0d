"""Every ``channelstream.*`` setting, parsed once into a frozen, typed object.

Each key is declared once in ``SETTINGS`` with its type, default and meaning; the README's
settings table is generated from (and tested against) this list. Any key can be overridden by
the environment variable ``CHANNELSTREAM_<NAME>`` so that a container needs no ini edits.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from channelstream.errors import ConfigurationError

log = logging.getLogger(__name__)

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
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")


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


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _signature_checker(value: str) -> str:
    value = value.strip()
    return DEFAULT_SIGNATURE_CHECKER if value == SIGNATURE_CHECKER_071 else value


def _listen(value: str) -> str:
    try:
        parse_listen(value)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return value.strip()


def _database(text: str) -> None:
    if not text.isdigit():
        raise ValueError(f"the Redis database must be a number, got {text!r}")


def _redis_url(value: str) -> str:
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
    Setting("engine", str, "memory", "`memory` (one node) or `redis` (several nodes)."),
    Setting(
        "redis_url",
        _redis_url,
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


# Environment names that are not settings but are read: the `channelstream` command's ini
# file, and 0.7.1's names for the listen address (CHANNELSTREAM_LISTEN wins over them).
OTHER_ENVIRONMENT_NAMES = frozenset({"INI", "HOST", "PORT"})


def environ_listen(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The listen address the environment sets, and which variables set it: 0.7.1's
    CHANNELSTREAM_HOST and CHANNELSTREAM_PORT (0.0.0.0 and 8000 when one is missing, as
    0.7.1 defaulted them), unless CHANNELSTREAM_LISTEN names it whole."""
    if ENV_PREFIX + "LISTEN" in environ:
        return environ[ENV_PREFIX + "LISTEN"], ENV_PREFIX + "LISTEN"
    host, port = environ.get(ENV_PREFIX + "HOST"), environ.get(ENV_PREFIX + "PORT")
    if host is None and port is None:
        return None
    host = host or "0.0.0.0"
    text = f"[{host}]:{port or 8000}" if ":" in host else f"{host}:{port or 8000}"
    return text, f"{ENV_PREFIX}HOST/{ENV_PREFIX}PORT"


def raw_value(
    name: str, ini: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str] | None:
    """The configured text of a setting and where it came from, or None if unset."""
    if name == "listen" and (found := environ_listen(environ)) is not None:
        return found
    env_name = ENV_PREFIX + name.upper()
    if env_name in environ:
        return environ[env_name], env_name
    for key in (PREFIX + name, name):
        if key in ini:
            return str(ini[key]), key
    return None


def parse_settings(ini: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Parse ``channelstream.*`` keys (and their environment overrides) into Settings.

    A ``channelstream.`` key that is no setting is refused (a misspelt setting would
    otherwise be ignored in silence, and the default used); an unknown ``CHANNELSTREAM_``
    variable is only warned about, since the environment is shared with other programs."""
    environ = os.environ if environ is None else environ
    unknown = unknown_keys(ini)
    if unknown:
        raise ConfigurationError("; ".join(unknown))
    for warning in unknown_variables(environ):
        log.warning("%s", warning)
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


def _nearest(name: str, names: Iterable[str], prefix: str) -> str:
    """ " (did you mean X?)" for the closest of `names`, compared without their prefix."""
    bare = {known.removeprefix(prefix): known for known in names}
    close = difflib.get_close_matches(name.removeprefix(prefix), list(bare), n=1, cutoff=0.6)
    return f" (did you mean {bare[close[0]]}?)" if close else ""


def unknown_keys(ini: Mapping[str, Any]) -> list[str]:
    """A sentence for each ``channelstream.*`` key of the ini that is no setting."""
    known = {PREFIX + setting.name for setting in SETTINGS}
    return [
        f"{key} is not a setting{_nearest(key, known, PREFIX)}"
        for key in sorted(ini)
        if key.startswith(PREFIX) and key not in known
    ]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A sentence for each ``CHANNELSTREAM_*`` variable that no setting reads."""
    from channelstream.legacy import IGNORED_071_SETTINGS

    settings = {ENV_PREFIX + setting.name.upper() for setting in SETTINGS}
    read = settings | {ENV_PREFIX + name for name in OTHER_ENVIRONMENT_NAMES}
    ignored = {ENV_PREFIX + name.upper(): facts for name, facts in IGNORED_071_SETTINGS.items()}
    found = []
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX) or variable in read:
            continue
        if variable in ignored:
            why, harmless = ignored[variable]
            if environ[variable].strip().lower() not in harmless:
                found.append(f"{variable} (a 0.7.1 setting) is ignored: {why}")
        else:
            hint = _nearest(variable, settings, ENV_PREFIX)
            found.append(f"{variable} is ignored: no such setting{hint}")
    return found


def _check(settings: Settings) -> None:
    if settings.environment not in ("production", "development"):
        raise ConfigurationError("channelstream.environment must be production or development")
    if settings.engine not in ("memory", "redis"):
        raise ConfigurationError("channelstream.engine must be memory or redis")
    if settings.environment == "production":
        problems = []
        for name in SECRET_NAMES:
            # `secret` holds every API key (rotation): each one must be real.
            values = (settings.secrets or ("",)) if name == "secret" else (getattr(settings, name),)
            if any(value in PLACEHOLDER_SECRETS for value in values):
                problems.append(f"channelstream.{name} is a placeholder")
            elif any(len(value) < MIN_SECRET_LENGTH for value in values):
                problems.append(
                    f"channelstream.{name} is shorter than {MIN_SECRET_LENGTH} characters"
                )
        if problems:
            variables = ", ".join(
                ENV_PREFIX + name.upper()
                for name in SECRET_NAMES
                if any(f"channelstream.{name} " in problem for problem in problems)
            )
            raise ConfigurationError(
                f"{'; '.join(problems)}: production needs real secrets, in the ini or in "
                f"{variables} (channelstream_utils make_config writes fresh ones)"
            )


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"listen address must be host:port (port 1-65535), got {listen!r}")
    host = host.strip("[]") or "0.0.0.0"
    if any(char.isspace() or char in "/@" for char in host):
        raise ConfigurationError(f"listen address has a bad host: {listen!r}")
    return host, int(port)
