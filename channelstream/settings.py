"""Every ``channelstream.*`` setting, parsed once into a frozen, typed object.

Each key is declared once in ``setting_specs.SETTINGS`` with its type, default and meaning;
the README's settings table is generated from (and tested against) that list. Any key can be
overridden by the environment variable ``CHANNELSTREAM_<NAME>`` so that a container needs no
ini edits. Only ``channelstream.*`` keys are ours.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from channelstream.errors import ConfigurationError
from channelstream.setting_specs import (
    ENV_PREFIX,
    IGNORED_071_SETTINGS,
    MIN_SECRET_LENGTH,
    PLACEHOLDER_SECRETS,
    PREFIX,
    SECRET_NAMES,
    SETTINGS,
    Setting,
    parse_listen,
)

# Read from here by the rest of the package and the tests.
__all__ = [
    "ENV_PREFIX",
    "PREFIX",
    "SECRET_NAMES",
    "SETTINGS",
    "Setting",
    "Settings",
    "environ_listen",
    "parse_listen",
    "parse_settings",
]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Settings:
    secret: str
    admin_user: str
    admin_secret: str
    cookie_secret: str
    admin_trend_minutes: int
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
    presence_grace: float
    webhook_url: str
    webhook_secret: str
    webhook_timeout: float
    webhook_retry_for: float
    webhook_events: tuple[str, ...]
    webhook_max_pending: int
    heartbeat_interval: float
    ping_timeout: float
    longpoll_timeout: float
    catchup_size: int
    idempotency_window: float
    max_history_size: int
    max_body_size: int
    max_channels_per_call: int
    max_users_per_message: int
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    ws_max_message_size: int
    max_queued_bytes: int
    max_connections_per_user: int
    max_channels_per_connection: int
    max_connections: int
    upgrades_per_second_per_address: float
    upgrades_burst_per_address: int
    client_messages_per_second: float
    client_messages_burst: int
    listen: str
    backlog: int
    reuse_port: bool
    log_level: str
    log_format: str
    access_log: str
    metrics_dir: str

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every API key, the signing one first (``secret`` holds them space-separated)."""
        return tuple(self.secret.split())

    @property
    def webhook_keys(self) -> tuple[str, ...]:
        """The keys webhook requests are signed with: webhook_secret's, or the API's first."""
        return tuple(self.webhook_secret.split()) or self.secrets[:1]

    def redacted(self) -> dict[str, Any]:
        """The settings with secrets masked, for logs and the admin view."""
        values = dataclasses.asdict(self)
        for setting in SETTINGS:
            if (setting.secret or setting.masked) and values[setting.name]:
                values[setting.name] = "***"
        # A webhook URL may carry a token in its query or credentials before its host.
        url = urllib.parse.urlsplit(self.webhook_url)
        if url.query or "@" in url.netloc:
            values["webhook_url"] = f"{url.scheme}://{url.hostname}{url.path} (redacted)"
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
    """The configured text of a setting and where it came from, or None if unset. Only
    ``channelstream.NAME`` is ours: a host application's own ``secret`` or ``listen`` key
    must never be taken for one of our settings."""
    if name == "listen" and (found := environ_listen(environ)) is not None:
        return found
    env_name = ENV_PREFIX + name.upper()
    if env_name in environ:
        return environ[env_name], env_name
    key = PREFIX + name
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
    if settings.webhook_url and not settings.webhook_keys:
        raise ConfigurationError(
            "channelstream.webhook_url needs a key to sign with: set "
            "channelstream.webhook_secret (or channelstream.secret)"
        )
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
        # Optional (the API's key signs webhooks without it), but a real key when set.
        webhook_keys = settings.webhook_secret.split()
        if any(key in PLACEHOLDER_SECRETS for key in webhook_keys):
            problems.append("channelstream.webhook_secret is a placeholder")
        elif any(len(key) < MIN_SECRET_LENGTH for key in webhook_keys):
            problems.append(
                f"channelstream.webhook_secret is shorter than {MIN_SECRET_LENGTH} characters"
            )
        if problems:
            variables = ", ".join(
                ENV_PREFIX + name.upper()
                for name in (*SECRET_NAMES, "webhook_secret")
                if any(f"channelstream.{name} " in problem for problem in problems)
            )
            raise ConfigurationError(
                f"{'; '.join(problems)}: production needs real secrets, in the ini or in "
                f"{variables} (channelstream_utils make_config writes fresh ones)"
            )
