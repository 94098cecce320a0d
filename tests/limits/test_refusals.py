"""Refusals: counted by limit, logged at most once a minute per address."""

from __future__ import annotations

import logging

import pytest

from channelstream.limits.refusals import LIMITS, UPGRADES, Refusals
from tests.support.memory import Clock


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "channelstream.limits"]


def test_every_limit_is_counted_from_zero() -> None:
    refusals = Refusals(Clock())
    assert refusals.counts == dict.fromkeys(LIMITS, 0)
    refusals.refused(UPGRADES, "10.0.0.1", "too fast")
    refusals.refused(UPGRADES, "10.0.0.2", "too fast")
    refusals.refused("max_connections", "10.0.0.1", "full")
    assert refusals.counts[UPGRADES] == 2 and refusals.counts["max_connections"] == 1


def test_listeners_hear_every_refusal() -> None:
    refusals = Refusals(Clock())
    heard: list[str] = []
    refusals.listeners.append(heard.append)
    for _ in range(3):
        refusals.refused(UPGRADES, "10.0.0.1", "too fast")
    assert heard == [UPGRADES] * 3


def test_one_line_a_minute_per_address_and_the_next_says_what_went_unlogged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "channelstream.limits")
    clock = Clock(0.0)
    refusals = Refusals(clock)
    for _ in range(150):  # one every half second, for 75 s
        refusals.refused(UPGRADES, "10.0.0.1", "too fast")
        clock.advance(0.5)
    refusals.refused(UPGRADES, "10.0.0.2", "too fast")  # another address logs at once
    assert lines(caplog) == [
        "refused 10.0.0.1 (upgrades_per_second_per_address): too fast",
        # At 60 s the address may log again: its line says what the minute held.
        "refused 10.0.0.1 (upgrades_per_second_per_address): too fast; unlogged since its "
        "last line: 119 by upgrades_per_second_per_address",
        "refused 10.0.0.2 (upgrades_per_second_per_address): too fast",
    ]
    assert refusals.counts[UPGRADES] == 151


def test_an_address_whose_minute_ended_is_summed_up_rather_than_forgotten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "channelstream.limits")
    clock = Clock(0.0)
    refusals = Refusals(clock)
    for _ in range(5):
        refusals.refused(UPGRADES, "10.0.0.1", "too fast")
    clock.advance(61)
    refusals.refused("max_connections", "10.0.0.2", "full")
    assert lines(caplog)[1:] == [
        "refused 10.0.0.2 (max_connections): full",
        "refused 10.0.0.1: unlogged since its last line: 4 by upgrades_per_second_per_address",
    ]
    assert len(refusals) == 1


def test_memory_stays_bounded_whatever_addresses_come() -> None:
    refusals = Refusals(Clock(0.0), max_addresses=100)
    for number in range(5000):
        refusals.refused(UPGRADES, f"address-{number}", "too fast")
    assert len(refusals) == 100
