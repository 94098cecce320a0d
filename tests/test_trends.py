"""The admin's trends on their own: the rings, the rates, and samples of a real hub and
memory engine under a clock the test moves."""

from __future__ import annotations

import pytest

from channelstream import operations
from channelstream.schemas.messages import MessageSchema
from channelstream.state import State
from channelstream.trends import MAX_TRENDED_CHANNELS, SERIES, Ring, Trends, rate
from tests.support.memory import Clock, RecordingTransport, connect, listen, make_state


class LongPoll(RecordingTransport):
    kind = "longpoll"


def publish(state: State, channel: str, count: int) -> None:
    body = [{"channel": channel, "user": "bot", "message": {"n": n}} for n in range(count)]
    operations.publish_messages(state, MessageSchema(many=True).load(body))


def trends_of(state: State, minutes: int = 1) -> Trends:
    return Trends(state.hub, state.engine, state.clock, minutes)


def advance(state: State, seconds: float) -> None:
    clock = state.clock
    assert isinstance(clock, Clock)
    clock.advance(seconds)


# -- the ring ---------------------------------------------------------------------------
def test_a_ring_keeps_the_last_numbers_oldest_first_in_fixed_memory() -> None:
    ring = Ring(3)
    assert ring.values() == [] and ring.last() == 0.0 and len(ring) == 0
    ring.push(1)
    ring.push(2)
    assert ring.values() == [1.0, 2.0] and ring.last() == 2.0
    for value in (3, 4, 5):
        ring.push(value)
    assert ring.values() == [3.0, 4.0, 5.0] and ring.last() == 5.0
    assert len(ring) == 3 == ring.size
    for value in range(100):
        ring.push(value)
    assert ring.values() == [97.0, 98.0, 99.0]
    assert len(ring._values) == 3  # never grew
    with pytest.raises(ValueError, match="at least one"):
        Ring(0)


def test_rates_are_per_second_and_never_negative() -> None:
    assert rate(30, 10, 2.0) == 10.0
    assert rate(10, 10, 1.0) == 0.0
    assert rate(5, 10, 1.0) == 0.0  # a counter that started again
    assert rate(20, 10, 0.0) == 0.0


# -- sampling ---------------------------------------------------------------------------
def test_samples_count_connections_by_transport_and_rates_from_the_hub() -> None:
    state = make_state()
    trends = trends_of(state)
    sockets = [connect(state, f"u{n}", ["room"]) for n in range(3)]
    for conn_id in sockets[:2]:
        listen(state, conn_id)
    poller = connect(state, "p", ["room"])
    from channelstream.delivery.attach import attach

    assert attach(state, poller, LongPoll(), {}) is not None
    trends.sample()  # the first sample: where the counters stand, no rate yet
    assert trends.summary()["messages"] == [0.0]
    publish(state, "room", 10)
    advance(state, 2.0)
    trends.sample()
    summary = trends.summary()
    assert summary["connections"] == [3, 3]
    assert summary["websocket"] == [2, 2] and summary["longpoll"] == [1, 1]
    # Ten events in two seconds; each reached three local connections.
    assert summary["messages"][-1] == 5.0
    assert summary["deliveries"][-1] == 15.0
    assert summary["end"] == state.clock()
    assert summary["interval"] == 1.0 and summary["minutes"] == 1
    assert trends.hub_connections() == {"websocket": 2, "longpoll": 1}
    # Nothing published since: the rates fall to 0.
    advance(state, 1.0)
    trends.sample()
    assert trends.summary()["messages"][-1] == 0.0


def test_the_series_hold_the_configured_minutes_and_no_more() -> None:
    state = make_state()
    trends = trends_of(state, minutes=2)
    for _ in range(500):
        advance(state, 1.0)
        trends.sample()
    summary = trends.summary()
    for name in SERIES:
        assert len(summary[name]) == 120, name


def test_each_channel_has_its_rate_from_its_stream_offset() -> None:
    state = make_state()
    trends = trends_of(state)
    connect(state, "a", ["busy", "quiet"])
    publish(state, "busy", 3)  # before the first sample: not counted as a rate
    trends.sample()
    assert trends.channel_rate("busy") == 0.0
    publish(state, "busy", 8)
    publish(state, "quiet", 1)
    advance(state, 2.0)
    trends.sample()
    assert trends.channel_rate("busy") == 4.0
    assert trends.channel_rate("quiet") == 0.5
    assert trends.channel_series("busy") == [0.0, 4.0]
    # A channel made after the trends started: all of its stream is new.
    connect(state, "b", ["later"])
    publish(state, "later", 5)
    advance(state, 1.0)
    trends.sample()
    assert trends.channel_rate("later") == 5.0
    assert trends.channel_rate("nope") == 0.0 and trends.channel_series("nope") == []


def test_a_collected_channel_takes_its_trend_with_it() -> None:
    state = make_state()
    trends = trends_of(state)
    conn_id = connect(state, "a", ["gone"])
    trends.sample()
    assert "gone" in trends.channels
    operations.disconnect(state, conn_id)
    operations.collect_idle_connections(state)
    advance(state, state.settings.gc_channels_after + 1)
    operations.collect_idle_users_and_channels(state)
    trends.sample()
    assert "gone" not in trends.channels


def test_at_most_so_many_channels_are_trended() -> None:
    state = make_state()
    trends = trends_of(state)
    for n in range(MAX_TRENDED_CHANNELS + 5):
        state.engine.ensure_channel(f"c{n}", None, state.clock())
    trends.sample()
    assert len(trends.channels) == MAX_TRENDED_CHANNELS


def test_an_engine_that_fails_leaves_the_node_series_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = make_state()
    trends = trends_of(state)
    connect(state, "a", ["room"])
    trends.sample()

    def unavailable(names: list[str]) -> dict[str, object]:
        raise ConnectionError("redis is away")

    state.engine.channel_positions = unavailable  # type: ignore[method-assign,assignment]
    with caplog.at_level("WARNING", logger="channelstream.trends"):
        for _ in range(3):
            advance(state, 1.0)
            trends.sample()
    assert len(trends.summary()["connections"]) == 4
    # Said once, not once a second.
    assert [r.getMessage() for r in caplog.records].count(
        "channel rates not sampled, the engine failed: redis is away"
    ) == 1


def test_a_ring_of_zeros_holds_no_array_until_a_number_that_is_not_zero() -> None:
    ring = Ring(3)
    ring.push(0)
    ring.push(0.0)
    assert ring._values is None  # an idle channel's series costs no array
    assert ring.values() == [0.0, 0.0] and ring.last() == 0.0 and len(ring) == 2
    ring.push(7)
    assert ring._values is not None and len(ring._values) == 3
    assert ring.values() == [0.0, 0.0, 7.0] and ring.last() == 7.0
    ring.push(0)
    assert ring.values() == [0.0, 7.0, 0.0] and ring.last() == 0.0
