"""An event: its payload encoded once, its delivery rules apart from it."""

from __future__ import annotations

from channelstream import jsonenc
from channelstream.model.event import Event, EventBatch


def test_stamping_sets_the_place_and_resets_the_encodings() -> None:
    event = Event({"type": "message"}, channel="room")
    first = event.body
    event.stamp("e1", 4)
    assert (event.epoch, event.offset) == ("e1", 4)
    assert jsonenc.loads(event.body) == {"type": "message", "offset": 4, "epoch": "e1"}
    assert event.body is not first and event.body is event.body  # made once


def test_the_replayed_encoding_says_catchup() -> None:
    event = Event({"type": "message", "catchup": False}, channel="room")
    assert jsonenc.loads(event.replayed())["catchup"] is True
    assert jsonenc.loads(event.body)["catchup"] is False


def test_delivery_rules_exclusion_wins() -> None:
    event = Event({}, channel="c", pm_users=frozenset({"a", "b"}), exclude_users=frozenset({"b"}))
    assert event.reaches("a") and not event.reaches("b") and not event.reaches("c")
    assert Event({}, channel="c").reaches("anyone")


def test_a_batch_is_plain_only_without_rules() -> None:
    plain = Event({}, channel="c")
    ruled = Event({}, channel="c", exclude_users=frozenset({"x"}))
    assert EventBatch([plain]).plain and EventBatch([plain, plain]).plain
    assert not EventBatch([ruled]).plain and not EventBatch([plain, ruled]).plain


def test_with_payload_keeps_the_rules() -> None:
    event = Event({"n": 1}, channel=None, direct_to="bob", pm_users=frozenset({"bob"}))
    other = event.with_payload({"n": 2})
    assert other.payload == {"n": 2} and other.direct_to == "bob" and other.pm_users == {"bob"}
