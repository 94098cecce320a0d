"""A held /listen: answers at once with what is waiting, gathers a moment after the first
event, answers [] when nothing comes, and never waits once closed."""

from __future__ import annotations

import time

import gevent

from channelstream.concurrency import GreenSignal
from channelstream.model.event import Event, EventBatch
from channelstream.realtime.longpoll import FULL, GATHER_BUSY, LongPollTransport


def batch(*numbers: int) -> EventBatch:
    return EventBatch([Event({"n": n}, channel="room") for n in numbers])


def timed(transport: LongPollTransport, timeout: float) -> tuple[list[bytes], float]:
    started = time.monotonic()
    bodies = transport.wait(timeout)
    return bodies, time.monotonic() - started


def test_nothing_arrives_and_the_poll_answers_empty_after_its_timeout() -> None:
    bodies, took = timed(LongPollTransport(GreenSignal()), 0.2)
    assert bodies == [] and 0.18 <= took < 1


def test_what_is_waiting_goes_out_after_a_short_gathering() -> None:
    transport = LongPollTransport(GreenSignal())
    transport.send_bodies([b'{"n":1}'])
    bodies, took = timed(transport, 5)
    assert bodies == [b'{"n":1}']
    assert took < GATHER_BUSY + 0.2


def test_an_event_wakes_a_held_poll_which_gathers_what_follows() -> None:
    transport = LongPollTransport(GreenSignal())

    def publisher() -> None:
        gevent.sleep(0.05)
        transport.send_batch(batch(1))
        transport.send_batch(batch(2))  # within the gathering moment

    gevent.spawn(publisher)
    bodies, took = timed(transport, 5)
    assert bodies == [b'{"n":1}', b'{"n":2}']
    assert 0.04 <= took < 1


def test_a_full_answer_does_not_wait_to_gather() -> None:
    transport = LongPollTransport(GreenSignal())
    transport.send_batch(batch(*range(FULL)))
    bodies, took = timed(transport, 5)
    assert len(bodies) == FULL and took < GATHER_BUSY


def test_a_closed_poll_answers_at_once_and_reports_dead() -> None:
    transport = LongPollTransport(GreenSignal())
    assert transport.heartbeat(0, 30) is True

    def closer() -> None:
        gevent.sleep(0.05)
        transport.close(1000, "disconnected")

    gevent.spawn(closer)
    bodies, took = timed(transport, 5)
    assert bodies == [] and took < 1
    assert transport.heartbeat(0, 30) is False
    assert timed(transport, 5)[1] < 0.1
