"""The limits' settings: off by default where 0.7 had no limit, 0 turns a limit off, and
nonsense stops the start naming the setting."""

from __future__ import annotations

import pytest

from channelstream.errors import ConfigurationError
from channelstream.settings import parse_settings

DEV = {"channelstream.environment": "development"}


def test_defaults_leave_0_7s_behaviour_and_fit_the_js_clients_heartbeat() -> None:
    settings = parse_settings(DEV, environ={})
    assert settings.max_connections_per_user == 0
    assert settings.max_channels_per_connection == 0
    assert settings.max_connections == 0
    # The JS client sends one heartbeat every 10 s: a hundred times within the rate.
    assert settings.client_messages_per_second >= 100 * 0.1
    assert settings.upgrades_burst_per_address >= 100  # an office behind one NAT


def test_zero_turns_a_rate_off_and_values_are_typed() -> None:
    settings = parse_settings(
        {**DEV, "channelstream.upgrades_per_second_per_address": "0"},
        environ={"CHANNELSTREAM_CLIENT_MESSAGES_PER_SECOND": "2.5"},
    )
    assert settings.upgrades_per_second_per_address == 0
    assert settings.client_messages_per_second == 2.5


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("max_connections_per_user", "-1", "0 \\(no limit\\) or more"),
        ("max_connections", "many", "invalid literal"),
        ("upgrades_per_second_per_address", "nan", "0 \\(no limit\\) or more"),
        ("client_messages_burst", "0", "1 or more"),
    ],
)
def test_nonsense_names_the_setting(name: str, value: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=f"channelstream.{name}: .*{complaint}"):
        parse_settings({**DEV, f"channelstream.{name}": value}, environ={})
