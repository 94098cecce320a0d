"""Publishing by uuid once only (``Broker.publish`` in channelstream/engine/base.py), run
against every engine (memory, and Redis on a real redis-server): a message whose uuid the
same stream saw within ``idempotency_window`` is neither stored nor handed to the nodes
again, and the answer is the original event."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from channelstream.engine.base import Engine, channel_stream, direct_stream
from channelstream.engine.memory import MemoryEngine
from channelstream.engine.redis import RedisEngine
from channelstream.model.event import Event
from tests.engine.conftest import Harness, channel_info, engine_settings, make_redis_engine
from tests.engine.test_contract import NOW, events_of, message
from tests.support.redis_server import RedisServer

WINDOW = 30


def fields(event: Event | None) -> tuple[object, ...]:
    """What an answer is made of: the payload, where it went, its place in its stream."""
    assert event is not None
    return (event.payload, event.channel, event.direct_to, event.epoch, event.offset)


def test_a_repeated_uuid_answers_the_original_and_is_not_published_again(
    harness: Harness,
) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    first = engine.publish(Event(message(1), channel="a"), now=NOW, history=True)
    again = Event(message(1, message={"n": "retried"}, timestamp="later"), channel="a")
    second = engine.publish(again, now=NOW + 1, history=True)
    assert fields(second) == fields(first)
    assert second is not None and second.payload["message"] == {"n": 1}
    publish_marker(engine)
    got = events_of(harness.wait_for(2))
    assert [e.payload["message"] for e in got] == [{"n": 1}, {"n": "marker"}]
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and [item["message"] for item in info["history"]] == [{"n": 1}]
    assert first is not None
    replay = engine.replay(channel_stream("a"), (first.epoch, 0))
    assert [e.offset for e in replay.events] == [1, 2]  # the original and the marker
    assert engine.counters()["total_unique_messages"] == 2


def publish_marker(engine: Engine) -> None:
    """A last message: once it arrived, whatever was published before it has too."""
    engine.publish(Event(message(999, message={"n": "marker"}), channel="a"), now=NOW + 2)


def test_the_same_uuid_in_another_stream_is_another_message(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.ensure_channel("b", None, NOW)
    one = engine.publish(Event(message(1), channel="a"), now=NOW)
    other = engine.publish(Event(message(1), channel="b"), now=NOW)
    direct = engine.publish(Event(message(1), channel=None, direct_to="bob"), now=NOW)
    assert one is not None and other is not None and direct is not None
    assert (one.channel, other.channel, direct.direct_to) == ("a", "b", "bob")
    assert len(events_of(harness.wait_for(3))) == 3


def test_a_direct_message_is_once_per_recipient_stream(harness: Harness) -> None:
    engine = harness.engine
    to_bob = engine.publish(Event(message(1), channel=None, direct_to="bob"), now=NOW)
    to_carl = engine.publish(Event(message(1), channel=None, direct_to="carl"), now=NOW)
    retried = [
        engine.publish(Event(message(1), channel=None, direct_to=user), now=NOW + 1)
        for user in ("bob", "carl")
    ]
    assert [fields(e) for e in retried] == [fields(to_bob), fields(to_carl)]
    assert retried[0] is not None and retried[0].direct_to == "bob"
    engine.publish(Event(message(2), channel=None, direct_to="bob"), now=NOW + 2)
    got = events_of(harness.wait_for(3))
    assert [(e.direct_to, e.offset) for e in got] == [("bob", 1), ("carl", 1), ("bob", 2)]
    assert to_bob is not None
    replay = engine.replay(direct_stream("bob"), (to_bob.epoch, 0))
    assert [e.offset for e in replay.events] == [1, 2]


def test_a_uuid_repeated_in_one_batch_is_the_first_one(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    items = [
        (Event(message(1), channel="a"), True),
        (Event(message(2), channel="a"), True),
        (Event(message(1, message={"n": "again"}), channel="a"), True),
    ]
    first, second, third = engine.publish_many(items, now=NOW)
    assert fields(third) == fields(first)
    assert first is not None and second is not None and second.offset == 2
    publish_marker(engine)
    got = events_of(harness.wait_for(3))
    assert [e.payload["message"]["n"] for e in got] == [1, 2, "marker"]
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and [item["message"]["n"] for item in info["history"]] == [1, 2]


def test_edits_and_deletes_reach_the_original(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    first = engine.publish(Event(message(1), channel="a"), now=NOW, history=True)
    engine.publish(Event(message(1), channel="a"), now=NOW, history=True)
    assert first is not None and first.uuid is not None
    assert engine.edit_message(channel_stream("a"), first.uuid, {"message": {"n": 5}}) is True
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and [item["message"] for item in info["history"]] == [{"n": 5}]
    replay = engine.replay(channel_stream("a"), (first.epoch, 0))
    assert [e.payload["message"] for e in replay.events] == [{"n": 5}]
    # The answer to a retry stays what the publish answered; the edit is the edit's own news.
    retried = engine.publish(Event(message(1), channel="a"), now=NOW + 1, history=True)
    assert retried is not None and retried.payload["message"] == {"n": 1}
    assert retried.offset == first.offset
    assert engine.delete_message(channel_stream("a"), first.uuid) is True
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and info["history"] == []
    # A retry of a deleted message does not bring it back.
    engine.publish(Event(message(1), channel="a"), now=NOW + 2, history=True)
    assert engine.replay(channel_stream("a"), (first.epoch, 0)).events == []


def test_other_events_with_a_message_uuid_are_published(harness: Harness) -> None:
    """Edits and deletes travel with the uuid of the message they change: never refused."""
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    original = engine.publish(Event(message(1), channel="a"), now=NOW)
    assert original is not None
    uuid = original.uuid
    for _ in range(2):
        edit = {"uuid": uuid, "type": "message:edit", "message": {"n": 2}, "catchup": False}
        assert engine.publish(Event(edit, channel="a"), now=NOW) is not None
        delete = {"uuid": uuid, "type": "message:delete", "channel": "a", "catchup": False}
        assert engine.publish(Event(delete, channel="a"), now=NOW) is not None
    got = events_of(harness.wait_for(5))
    assert [e.type for e in got] == ["message"] + ["message:edit", "message:delete"] * 2
    assert [e.offset for e in got] == [1, 2, 3, 4, 5]


MakeHarness = Callable[[float], Harness]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def windowed(request: pytest.FixtureRequest) -> Iterator[MakeHarness]:
    """``windowed(seconds)``: an engine with that idempotency_window, started."""
    made: list[Harness] = []

    def make(window: float) -> Harness:
        if request.param == "memory":
            engine: Engine = MemoryEngine(engine_settings(idempotency_window=window))
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            client = server.client()
            client.flushall()
            client.close()
            settings = engine_settings(server.url, engine="redis", idempotency_window=window)
            engine = make_redis_engine(server, settings=settings)
        made.append(Harness(engine))
        return made[-1]

    yield make
    for running in made:
        running.engine.stop()


def test_once_the_window_passed_the_uuid_is_a_new_message(windowed: MakeHarness) -> None:
    harness = windowed(WINDOW)
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    first = engine.publish(Event(message(1), channel="a"), now=NOW)
    inside = engine.publish(Event(message(1), channel="a"), now=NOW + WINDOW - 1)
    after = engine.publish(Event(message(1), channel="a"), now=NOW + WINDOW + 1)
    assert first is not None and inside is not None and after is not None
    assert (first.offset, inside.offset, after.offset) == (1, 1, 2)
    # The window starts again from the publish that went out.
    again = engine.publish(Event(message(1), channel="a"), now=NOW + WINDOW + 2)
    assert again is not None and again.offset == 2
    assert len(events_of(harness.wait_for(2))) == 2


def test_a_window_of_0_publishes_every_time(windowed: MakeHarness) -> None:
    harness = windowed(0)
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    offsets = []
    for _ in range(3):
        stamped = engine.publish(Event(message(1), channel="a"), now=NOW)
        assert stamped is not None
        offsets.append(stamped.offset)
    assert offsets == [1, 2, 3]
    assert len(events_of(harness.wait_for(3))) == 3


def test_what_is_remembered_is_bounded_by_the_window(windowed: MakeHarness) -> None:
    """The memory engine forgets what left the window at the next publish; Redis keeps
    each uuid in a key that expires with the window."""
    engine = windowed(WINDOW).engine
    engine.ensure_channel("a", None, NOW)
    for n in range(1, 51):
        engine.publish(Event(message(n), channel="a"), now=NOW)
    assert remembered(engine) == 50
    engine.publish(Event(message(51), channel="a"), now=NOW + WINDOW + 1)
    if isinstance(engine, MemoryEngine):
        assert remembered(engine) == 1
    else:
        assert isinstance(engine, RedisEngine)
        ttls = [engine.redis.pttl(key) for key in engine.redis.scan_iter(engine.prefix + "i:*")]
        assert ttls and all(0 < ttl <= WINDOW * 1000 for ttl in ttls)


def remembered(engine: Engine) -> int:
    if isinstance(engine, MemoryEngine):
        return engine.seen.size()
    assert isinstance(engine, RedisEngine)
    return sum(1 for _ in engine.redis.scan_iter(engine.prefix + "i:*"))
