"""Token buckets: the rate, the burst, and the memory they keep bounded."""

from __future__ import annotations

import pytest

from channelstream.limits.buckets import AddressBuckets, PollCredits, Rate
from tests.support.memory import Clock


def test_a_bucket_allows_its_burst_at_once_then_its_rate() -> None:
    rate = Rate(per_second=2, burst=3)
    bucket = rate.bucket(now=0.0)
    assert [rate.take(bucket, 0.0) for _ in range(4)] == [True, True, True, False]
    assert rate.wait(bucket) == pytest.approx(0.5)
    assert not rate.take(bucket, 0.4)
    assert rate.take(bucket, 0.5)  # one token every half second
    assert rate.take(bucket, 100.0) and bucket.tokens == 2  # never more than the burst


def test_a_clock_that_goes_back_refills_nothing() -> None:
    rate = Rate(per_second=1, burst=1)
    bucket = rate.bucket(now=10.0)
    assert rate.take(bucket, 10.0)
    assert not rate.take(bucket, 5.0)
    assert not rate.take(bucket, 10.5)


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (1, 0), (-1, 5)])
def test_a_rate_needs_a_positive_rate_and_burst(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError):
        Rate(per_second, burst)


def test_each_address_has_its_own_bucket() -> None:
    clock = Clock(0.0)
    buckets = AddressBuckets(Rate(per_second=1, burst=2), clock)
    assert [buckets.take("10.0.0.1") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("10.0.0.1") == pytest.approx(1.0)  # seconds to wait
    assert buckets.take("10.0.0.2") == 0.0


def test_an_idle_address_is_forgotten_once_its_bucket_is_full_again() -> None:
    clock = Clock(0.0)
    buckets = AddressBuckets(Rate(per_second=10, burst=20), clock)  # full after 2 s
    for number in range(100):
        buckets.take(f"10.0.0.{number}")
    clock.advance(1.9)
    buckets.take("10.0.1.1")
    assert len(buckets) == 101
    clock.advance(0.2)
    buckets.take("10.0.1.2")
    assert len(buckets) == 2  # the first hundred filled up: as good as new, gone


def test_no_more_addresses_than_the_cap_are_kept() -> None:
    clock = Clock(0.0)
    buckets = AddressBuckets(Rate(per_second=1, burst=5), clock, max_addresses=50)
    for number in range(1000):
        buckets.take(f"address-{number}")
    assert len(buckets) == 50


def test_the_least_recently_used_go_first() -> None:
    clock = Clock(0.0)
    buckets = AddressBuckets(Rate(per_second=1, burst=1), clock, max_addresses=2)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # a used again: b is now the oldest
    buckets.take("c")
    assert buckets.take("a") > 0  # still remembered, and empty


def test_an_ended_poll_lets_exactly_one_next_poll_through_within_its_time() -> None:
    clock = Clock(0.0)
    polls = PollCredits(within=10, clock=clock)
    assert not polls.follows("c1")
    polls.ended("c1")
    assert polls.follows("c1")
    assert not polls.follows("c1")  # used up
    polls.ended("c1")
    clock.advance(10.5)
    assert not polls.follows("c1")


def test_ended_polls_are_forgotten_after_their_time() -> None:
    clock = Clock(0.0)
    polls = PollCredits(within=10, clock=clock, max_entries=100)
    for number in range(50):
        polls.ended(f"c{number}")
    clock.advance(11)
    polls.ended("late")
    assert len(polls) == 1
    for number in range(500):
        polls.ended(f"d{number}")
    assert len(polls) == 100
