"""Every ``channelstream.*`` setting, declared once: its name, how its text is parsed, its
default and what it means (the README's settings table is tested against this list), and
the 0.7.1 settings that have no equivalent. ``settings`` reads them into ``Settings``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from channelstream import setting_parsers as parse
from channelstream.setting_parsers import DEFAULT_SIGNATURE_CHECKER

PREFIX = "channelstream."
ENV_PREFIX = "CHANNELSTREAM_"

# Values that ship in development.ini and docs; production refuses to start with them.
PLACEHOLDER_SECRETS = frozenset({"", "secret", "changeme", "admin_secret", "cookie_secret"})
# Production refuses shorter secrets: 16 random characters are out of reach of guessing,
# and make_config writes 43.
MIN_SECRET_LENGTH = 16


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: str
    doc: str
    # A secret make_config generates and production checks (and logs mask).
    secret: bool = False
    # Masked in logs and the admin view, but optional (neither generated nor required).
    masked: bool = False


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
        parse.words,
        "127.0.0.1",
        "Client addresses allowed to call the server API; `0.0.0.0` means any.",
    ),
    Setting(
        "trusted_proxies",
        parse.words,
        "",
        "Proxy addresses whose X-Forwarded-For names the real client address.",
    ),
    Setting("allow_cors", parse.words, "*", "Origins allowed by CORS (`*` means any)."),
    Setting(
        "accept_query_secret",
        parse.boolean,
        "true",
        "Also accept 0.7's signature in a `?secret=` query parameter, as 0.7.1 did (only "
        "while `legacy_signatures` is on).",
    ),
    Setting(
        "legacy_signatures",
        parse.boolean,
        "true",
        "Accept 0.7's signature (itsdangerous, `x-channelstream-secret` header or `?secret=`) "
        "beside the request-bound `x-channelstream-signature`; `false` accepts only the latter.",
    ),
    Setting(
        "signature_checker",
        parse.signature_checker,
        DEFAULT_SIGNATURE_CHECKER,
        "Dotted name of the callable `(settings, signed_value) -> None` that checks a 0.7 "
        "signature.",
    ),
    Setting(
        "signature_max_age",
        parse.positive_int,
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
        parse.redis_url,
        "redis://127.0.0.1:6379/0",
        "Redis URL for the redis engine: `redis://`, `rediss://`, `unix://`, or "
        "`redis+sentinel://host:26379[,host:port...]/service[/db]` for Sentinel.",
    ),
    Setting(
        "node_ttl",
        parse.positive_float,
        "10",
        "Seconds a node's heartbeat key lives in Redis (redis engine): the connections of a "
        "node that dies lose their presence (`parted` is sent) within about this plus "
        "`gc_conns_interval`.",
    ),
    Setting(
        "gc_conns_after",
        parse.positive_float,
        "15",
        "Seconds without activity after which a connection is collected.",
    ),
    Setting(
        "gc_conns_interval",
        parse.positive_float,
        "1",
        "Seconds between connection garbage-collection passes.",
    ),
    Setting(
        "gc_users_after",
        parse.positive_float,
        "86400",
        "Seconds after its last activity that a user without connections is forgotten.",
    ),
    Setting(
        "gc_channels_after",
        parse.positive_float,
        "86400",
        "Seconds after its last activity that an empty channel is collected.",
    ),
    Setting(
        "gc_interval",
        parse.positive_float,
        "60",
        "Seconds between user and channel garbage-collection passes.",
    ),
    Setting(
        "presence_grace",
        parse.non_negative_float,
        "0",
        "Seconds a user's presence outlives a connection that went (closed, disconnected, "
        "idle, its node dead): a new connection of the user within them shows nothing to "
        "anyone (no `parted` + `joined`, no webhook events); else `parted` follows when they "
        "end. 0: at once, as 0.7 (docs/webhooks.md).",
    ),
    Setting(
        "webhook_url",
        parse.webhook_url,
        "",
        "Where presence events are POSTed (docs/webhooks.md); empty: no webhook.",
    ),
    Setting(
        "webhook_secret",
        str,
        "",
        "Key(s) that sign webhook requests (several, whitespace-separated, while rotating: "
        "a `v1` for each); empty: the first of `channelstream.secret`.",
        masked=True,
    ),
    Setting(
        "webhook_timeout",
        parse.positive_float,
        "5",
        "Seconds a webhook request may take to connect, and then to answer.",
    ),
    Setting(
        "webhook_retry_for",
        parse.positive_float,
        "300",
        "Seconds one failing batch is retried (with backoff) before it is given up.",
    ),
    Setting(
        "webhook_events",
        parse.event_names,
        "all",
        "Events the webhook sends: `all`, or some of user_online, user_offline, "
        "channel_occupied, channel_vacated, user_joined, user_parted.",
    ),
    Setting(
        "webhook_max_pending",
        parse.positive_int,
        "10000",
        "Events that may wait for the webhook (cluster-wide with Redis); beyond, the oldest "
        "are dropped, counted and logged.",
    ),
    Setting(
        "heartbeat_interval",
        parse.positive_float,
        "5",
        "Seconds between `[]` heartbeats (and WebSocket pings) to attached sockets.",
    ),
    Setting(
        "ping_timeout",
        parse.positive_float,
        "30",
        "Seconds a WebSocket may stay silent (no pong, no message) before it is closed.",
    ),
    Setting(
        "longpoll_timeout",
        parse.positive_float,
        "5",
        "Seconds a `/listen` request is held when there is nothing to send.",
    ),
    Setting(
        "catchup_size",
        parse.positive_int,
        "500",
        "Events kept per channel (and per user's direct stream) for catch-up and resume.",
    ),
    Setting(
        "max_history_size",
        parse.positive_int,
        "1000",
        "Upper bound on any channel's `history_size`.",
    ),
    Setting(
        "max_body_size",
        parse.positive_int,
        "1048576",
        "Largest request body in bytes; a larger one gets 413.",
    ),
    Setting(
        "ws_max_message_size",
        parse.positive_int,
        "65536",
        "Largest message a WebSocket client may send, in bytes; a larger one closes with 1009.",
    ),
    Setting(
        "max_queued_bytes",
        parse.positive_int,
        "4194304",
        "Bytes that may wait for one slow WebSocket before it is closed with 4008.",
    ),
    Setting(
        "listen",
        parse.listen_address,
        "0.0.0.0:8000",
        "Address the server runner listens on (`host:port`).",
    ),
    Setting("backlog", parse.positive_int, "2048", "Listen backlog of the server socket."),
    Setting(
        "reuse_port",
        parse.boolean,
        "false",
        "Set SO_REUSEPORT so several worker processes can listen on one port.",
    ),
    Setting(
        "log_level",
        parse.log_level,
        "INFO",
        "Level of the `channelstream` loggers (DEBUG, INFO, WARNING, ERROR, CRITICAL).",
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
