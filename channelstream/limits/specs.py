"""The settings of the limits, declared as every setting is (``setting_specs`` lists them
after the WebSocket settings, and the README's table follows that order). A count or a rate
of 0 turns its limit off."""

from __future__ import annotations

from channelstream.setting_base import Setting


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 (no limit) or more")
    return number


def _rate(value: str) -> float:
    number = float(value)
    if not number >= 0:  # NaN too
        raise ValueError("must be 0 (no limit) or more")
    return number


def _burst(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


LIMIT_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "max_connections_per_user",
        _count,
        "0",
        "Most connections one user may hold at once, across every node (`0`: no limit); a "
        "`/connect` for a new `conn_id` past it gets 429 (the same `conn_id` again is no new "
        "connection).",
    ),
    Setting(
        "max_channels_per_connection",
        _count,
        "0",
        "Most channels one connection may be in (`0`: no limit); a `/connect` or `/subscribe` "
        "that would take it past gets 422 and changes nothing.",
    ),
    Setting(
        "max_connections",
        _count,
        "0",
        "Most WebSockets and held long-polls this node serves at once (`0`: no limit); past "
        "it `/ws` and `/listen` get 503 with `Retry-After`, before any upgrade.",
    ),
    Setting(
        "upgrades_per_second_per_address",
        _rate,
        "50",
        "WebSocket upgrades and new long-polls one client address may start per second on "
        "this node, on average (a token bucket; `0`: no limit); past it 429 with "
        "`Retry-After`, before any upgrade.",
    ),
    Setting(
        "upgrades_burst_per_address",
        _burst,
        "500",
        "How many upgrades one client address may start at once (the bucket's size).",
    ),
    Setting(
        "client_messages_per_second",
        _rate,
        "10",
        "Frames (messages, pings) one WebSocket client may send per second, on average (a "
        "token bucket; `0`: no limit); past it the socket is closed with 1008.",
    ),
    Setting(
        "client_messages_burst",
        _burst,
        "100",
        "How many frames one WebSocket client may send at once (the bucket's size).",
    ),
)
