"""When the hub flushes: at the end of the current loop iteration when flushes are cheap,
later (never more than MAX_DELAY) when the last one was expensive."""

from __future__ import annotations

import logging
import time

import gevent
import pytest

from channelstream.realtime.scheduling import CoalescingSchedule


def test_a_cheap_flush_runs_once_the_loop_is_free_not_inline() -> None:
    schedule = CoalescingSchedule()
    ran: list[float] = []
    schedule(lambda: ran.append(time.perf_counter()))
    assert ran == []  # the caller finishes its work first
    gevent.sleep(0)
    assert len(ran) == 1


def test_after_an_expensive_flush_the_next_waits_about_as_long() -> None:
    schedule = CoalescingSchedule(max_delay=0.05)
    schedule(lambda: time.sleep(0.03))  # costs 30 ms
    gevent.sleep(0.01)
    assert schedule.last_cost >= 0.03
    ran: list[float] = []
    started = time.perf_counter()
    schedule(lambda: ran.append(time.perf_counter()))
    gevent.sleep(0)
    assert ran == []  # not this iteration: it waits for more events to gather
    gevent.sleep(0.1)
    assert ran and 0.015 <= ran[0] - started < 0.09


def test_the_wait_is_capped() -> None:
    schedule = CoalescingSchedule(max_delay=0.01)
    schedule.last_cost = 5.0  # a pathological flush must not stall delivery for seconds
    ran: list[float] = []
    started = time.perf_counter()
    schedule(lambda: ran.append(time.perf_counter()))
    gevent.sleep(0.1)
    assert ran and ran[0] - started < 0.05


def test_a_failing_flush_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    schedule = CoalescingSchedule()

    def broken() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="channelstream.realtime.scheduling"):
        schedule(broken)
        gevent.sleep(0)
    assert "flushing events failed" in caplog.text
    ran: list[int] = []
    schedule(lambda: ran.append(1))  # the schedule still works
    gevent.sleep(0.05)
    assert ran == [1]
