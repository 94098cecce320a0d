"""The bounds our HTTP server keeps a client within, as the settings give them."""

from __future__ import annotations

import dataclasses

import pytest

from channelstream.http_request import DEFAULT_LIMITS, HttpLimits


def test_the_defaults_are_the_settings_defaults() -> None:
    assert DEFAULT_LIMITS == HttpLimits(
        header_timeout=10.0, keepalive_timeout=75.0, body_timeout=30.0
    )


def test_limits_cannot_change_under_a_running_server() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.header_timeout = 1.0  # type: ignore[misc]
