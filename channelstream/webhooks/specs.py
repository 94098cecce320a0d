"""The settings of presence transitions: how long a departed connection's presence lasts
(``presence_grace``) and the webhook that reports the transitions, declared as every setting
is (``setting_specs`` lists them after the collection settings, and the README's table
follows that order)."""

from __future__ import annotations

import urllib.parse

from channelstream.engine.base import TRANSITIONS
from channelstream.setting_base import Setting


def _seconds(value: str) -> float:
    number = float(value)
    if not number >= 0:  # NaN too
        raise ValueError("must be 0 or more")
    return number


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be greater than 0")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be greater than 0")
    return number


def _url(value: str) -> str:
    value = value.strip()
    parts = urllib.parse.urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value


def _events(value: str) -> tuple[str, ...]:
    names = tuple(part for part in value.replace(",", " ").split() if part)
    if names == ("all",):
        return TRANSITIONS
    for name in names:
        if name not in TRANSITIONS:
            raise ValueError(f"{name!r} is no event: `all` or some of {', '.join(TRANSITIONS)}")
    return tuple(name for name in TRANSITIONS if name in names)


PRESENCE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "presence_grace",
        _seconds,
        "0",
        "Seconds a user's presence outlives a connection that went (closed, disconnected, "
        "idle, its node dead): a new connection of the user within them shows nothing to "
        "anyone (no `parted` + `joined`, no webhook events); else `parted` follows when they "
        "end. 0: at once, as 0.7 (docs/webhooks.md).",
    ),
    Setting(
        "webhook_url",
        _url,
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
        _positive,
        "5",
        "Seconds a webhook request may take to connect, and then to answer.",
    ),
    Setting(
        "webhook_retry_for",
        _positive,
        "300",
        "Seconds one failing batch is retried (with backoff) before it is given up.",
    ),
    Setting(
        "webhook_events",
        _events,
        "all",
        "Events the webhook sends: `all`, or some of user_online, user_offline, "
        "channel_occupied, channel_vacated, user_joined, user_parted.",
    ),
    Setting(
        "webhook_max_pending",
        _count,
        "10000",
        "Events that may wait for the webhook (cluster-wide with Redis); beyond, the oldest "
        "are dropped, counted and logged.",
    ),
)
