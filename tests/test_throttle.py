"""The sign-in throttle: free failures, a doubling window, per address and per user name."""

from __future__ import annotations

from channelstream.throttle import (
    ADDRESS_FREE,
    FIRST_LOCKOUT,
    FORGET_AFTER,
    MAX_KEYS,
    MAX_LOCKOUT,
    NAME_FREE,
    SignInThrottle,
)
from tests.support.memory import Clock


def test_an_address_gets_its_free_failures_then_a_doubling_window() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(ADDRESS_FREE - 1):
        throttle.failed("10.0.0.1", "admin")
        assert throttle.retry_after("10.0.0.1", "admin") == 0
    throttle.failed("10.0.0.1", "admin")
    assert throttle.retry_after("10.0.0.1", "admin") == FIRST_LOCKOUT
    clock.advance(FIRST_LOCKOUT)
    assert throttle.retry_after("10.0.0.1", "admin") == 0
    throttle.failed("10.0.0.1", "admin")
    assert throttle.retry_after("10.0.0.1", "admin") == 2 * FIRST_LOCKOUT
    # Another address with another name is free.
    assert throttle.retry_after("10.0.0.2", "other") == 0


def test_the_window_is_capped() -> None:
    throttle = SignInThrottle(Clock())
    for _ in range(ADDRESS_FREE + 30):
        throttle.failed("10.0.0.1", "admin")
    assert throttle.retry_after("10.0.0.1", "admin") == MAX_LOCKOUT


def test_a_user_name_is_counted_across_addresses() -> None:
    throttle = SignInThrottle(Clock())
    for index in range(NAME_FREE):
        throttle.failed(f"10.0.1.{index}", "admin")
    assert throttle.retry_after("10.9.9.9", "admin") == FIRST_LOCKOUT
    assert throttle.retry_after("10.9.9.9", "someone") == 0


def test_success_forgets_the_address_and_time_forgets_everything() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(ADDRESS_FREE - 1):
        throttle.failed("10.0.0.1", "admin")
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1", "admin")
    assert throttle.retry_after("10.0.0.1", "admin") == 0
    for _ in range(ADDRESS_FREE):
        throttle.failed("10.0.0.2", "x")
    clock.advance(FORGET_AFTER + 1)
    throttle.failed("10.0.0.2", "x")
    assert throttle.retry_after("10.0.0.2", "x") == 0  # counting anew


def test_memory_is_bounded_whatever_is_sprayed() -> None:
    throttle = SignInThrottle(Clock())
    for index in range(MAX_KEYS):
        throttle.failed(f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}", "admin")
    assert len(throttle._keys) <= MAX_KEYS
