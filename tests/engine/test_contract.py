"""THE engine contract (channelstream/engine/base.py), run against every engine.

Each test runs twice: on the memory engine and on the Redis engine (a real redis-server).
Times are explicit numbers, so the engines' clocks never matter.
"""

from __future__ import annotations

from collections.abc import Sequence

from channelstream.engine.base import (
    Disconnected,
    JoinResult,
    LeaveResult,
    Subscribed,
    Unsubscribed,
    channel_stream,
    direct_stream,
)
from channelstream.model.channel import ChannelConfig
from channelstream.model.event import Event
from tests.engine.conftest import CATCHUP, Harness, channel_info

NOW = 1_000.0


def message(n: int, **extra: object) -> dict[str, object]:
    return {
        "type": "message",
        "uuid": f"00000000-0000-0000-0000-{n:012d}",
        "user": "alice",
        "message": {"n": n},
        "catchup": False,
        "edited": None,
        **extra,
    }


def publish(h: Harness, channel: str, n: int, history: bool = False, **rules: object) -> Event:
    event = Event(message(n), channel=channel, **rules)  # type: ignore[arg-type]
    stamped = h.engine.publish(event, now=NOW, history=history)
    assert stamped is not None
    return stamped


def events_of(envelopes: Sequence[object]) -> list[Event]:
    return [e for e in envelopes if isinstance(e, Event)]


# -- lifecycle and delivery ----------------------------------------------------------
def test_health_is_ok(harness: Harness) -> None:
    assert harness.engine.health()["ok"] is True


def test_published_events_reach_deliver_in_offset_order(harness: Harness) -> None:
    harness.engine.ensure_channel("a", None, NOW)
    harness.engine.ensure_channel("b", None, NOW)
    for n in range(1, 41):
        publish(harness, "a" if n % 2 else "b", n)
    got = events_of(harness.wait_for(40))
    assert len(got) == 40
    for name in ("a", "b"):
        offsets = [e.offset for e in got if e.channel == name]
        assert offsets == list(range(1, 21))
    assert [e.payload["message"]["n"] for e in got] == list(range(1, 41))
    first = got[0]
    assert first.payload["offset"] == 1 and first.payload["epoch"] == first.epoch
    assert first.channel == "a" and first.direct_to is None
    assert first.body == first.body  # encodable, made once
    assert harness.settle() == harness.got  # nothing more, nothing doubled
    assert len(harness.got) == 40


def test_stop_ends_delivery(harness: Harness) -> None:
    harness.engine.ensure_channel("a", None, NOW)
    publish(harness, "a", 1)
    harness.wait_for(1)
    harness.engine.stop()
    publish(harness, "a", 2)  # the shared state still takes it; this node no longer listens
    assert len(events_of(harness.settle(0.3))) == 1
    assert harness.engine.position(channel_stream("a"))[1] == 2


def test_delivery_rules_travel_with_the_event(harness: Harness) -> None:
    harness.engine.ensure_channel("a", None, NOW)
    publish(harness, "a", 1, pm_users=frozenset({"bob"}), exclude_users=frozenset({"eve"}))
    (event,) = events_of(harness.wait_for(1))
    assert event.pm_users == frozenset({"bob"})
    assert event.exclude_users == frozenset({"eve"})
    assert event.reaches("bob") and not event.reaches("eve") and not event.reaches("carl")


def test_broadcast_envelopes_arrive_in_order_with_events(harness: Harness) -> None:
    harness.engine.ensure_channel("a", None, NOW)
    harness.engine.broadcast(Subscribed("c1", {"a": ("e", 3)}))
    publish(harness, "a", 1)
    harness.engine.broadcast(Unsubscribed("c1", ("a", "b")))
    harness.engine.broadcast(Disconnected("c1"))
    got = harness.wait_for(4)
    assert got[0] == Subscribed("c1", {"a": ("e", 3)})
    assert isinstance(got[1], Event) and got[1].offset == 1
    assert got[2] == Unsubscribed("c1", ("a", "b"))
    assert got[3] == Disconnected("c1")


# -- publish, offsets, epochs --------------------------------------------------------
def test_publish_stamps_offset_and_epoch_per_stream(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.ensure_channel("b", None, NOW)
    one = publish(harness, "a", 1)
    two = publish(harness, "a", 2)
    other = publish(harness, "b", 3)
    assert (one.offset, two.offset, other.offset) == (1, 2, 1)
    assert one.epoch == two.epoch and one.epoch
    assert other.epoch != one.epoch
    assert engine.position(channel_stream("a")) == (one.epoch, 2)
    info = channel_info(engine, "a", include_history=False, include_users=False)
    assert info is not None and (info["epoch"], info["offset"]) == (one.epoch, 2)


def test_publish_many_is_publish_in_order(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    items = [
        (Event(message(1), channel="a"), True),
        (Event(message(2), channel="nope"), False),
        (Event(message(3), channel=None, direct_to="bob"), False),
        (Event(message(4), channel="a"), False),
    ]
    stamped = engine.publish_many(items, now=NOW)
    assert [None if e is None else (e.channel, e.direct_to, e.offset) for e in stamped] == [
        ("a", None, 1),
        None,
        (None, "bob", 1),
        ("a", None, 2),
    ]
    got = events_of(harness.wait_for(3))
    assert [e.payload["message"]["n"] for e in got] == [1, 3, 4]
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and [h["message"]["n"] for h in info["history"]] == [1]
    assert engine.counters()["total_unique_messages"] == 3
    assert engine.publish_many([], now=NOW) == []


def test_publish_to_an_unknown_channel_answers_none(harness: Harness) -> None:
    assert harness.engine.publish(Event(message(1), channel="nope"), now=NOW) is None
    assert harness.engine.channel_config("nope") is None
    assert harness.settle() == []
    assert harness.engine.counters()["total_unique_messages"] == 0


def test_direct_streams_number_each_users_copy(harness: Harness) -> None:
    engine = harness.engine
    first = engine.position(direct_stream("bob"))
    assert first[1] == 0 and first[0]
    assert engine.position(direct_stream("bob")) == first  # stable once it exists
    a = engine.publish(Event(message(1), channel=None, direct_to="bob"), now=NOW)
    b = engine.publish(Event(message(2), channel=None, direct_to="bob"), now=NOW)
    c = engine.publish(Event(message(3), channel=None, direct_to="carl"), now=NOW)
    assert a is not None and b is not None and c is not None
    assert (a.offset, b.offset, c.offset) == (1, 2, 1)
    assert a.epoch == first[0]
    got = events_of(harness.wait_for(3))
    assert [(e.direct_to, e.channel, e.offset) for e in got] == [
        ("bob", None, 1),
        ("bob", None, 2),
        ("carl", None, 1),
    ]
    replay = engine.replay(direct_stream("bob"), (first[0], 0))
    assert [e.offset for e in replay.events] == [1, 2] and replay.gap is None
    assert replay.events[0].direct_to == "bob"


def test_counters_count_messages_only(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    publish(harness, "a", 1)
    presence = Event({"type": "presence", "uuid": "p"}, channel="a")
    engine.publish(presence, now=NOW)
    engine.publish(Event(message(2), channel=None, direct_to="bob"), now=NOW)
    assert engine.counters()["total_unique_messages"] == 2


def test_counters_count_the_users_and_channels_the_shared_state_knows(harness: Harness) -> None:
    engine = harness.engine
    before = engine.counters()
    engine.ensure_channel("counted-a", None, NOW)
    engine.ensure_channel("counted-b", None, NOW)
    engine.upsert_user("counted-user", now=NOW)
    after = engine.counters()
    assert after["channels"] - before["channels"] == 2
    assert after["users"] - before["users"] == 1


# -- replay ----------------------------------------------------------------------------
def test_replay_after_an_offset_is_exact(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    stamped = [publish(harness, "a", n) for n in range(1, 5)]
    epoch = stamped[0].epoch
    nothing = engine.replay(channel_stream("a"), None)
    assert nothing.events == [] and nothing.position == (epoch, 4) and nothing.gap is None
    replay = engine.replay(channel_stream("a"), (epoch, 2))
    assert [e.offset for e in replay.events] == [3, 4]
    assert replay.gap is None and replay.position == (epoch, 4)
    assert [e.payload for e in replay.events] == [s.payload for s in stamped[2:]]
    assert replay.events[0].body == stamped[2].body
    assert engine.replay(channel_stream("a"), (epoch, 4)).events == []


def test_replay_from_another_epoch_is_a_gap(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    publish(harness, "a", 1)
    publish(harness, "a", 2)
    replay = engine.replay(channel_stream("a"), ("not-this-epoch", 1))
    assert replay.gap == "epoch"
    assert [e.offset for e in replay.events] == [1, 2]


def test_replay_beyond_the_window_is_a_gap(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    for n in range(1, CATCHUP + 4):  # 8 events, the window keeps 5: 4..8; 3 is the floor
        publish(harness, "a", n)
    epoch = engine.position(channel_stream("a"))[0]
    exact = engine.replay(channel_stream("a"), (epoch, 3))
    assert exact.gap is None and [e.offset for e in exact.events] == [4, 5, 6, 7, 8]
    missing = engine.replay(channel_stream("a"), (epoch, 2))
    assert missing.gap == "window" and [e.offset for e in missing.events] == [4, 5, 6, 7, 8]
    assert missing.position == (epoch, 8)


def test_replay_of_an_unknown_channel(harness: Harness) -> None:
    replay = harness.engine.replay(channel_stream("nope"), ("e", 1))
    assert replay.events == [] and replay.position == ("", 0)
    assert harness.engine.position(channel_stream("nope")) == ("", 0)


def test_channels_without_store_frames_keep_no_window(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_frames": False}, NOW)
    one = publish(harness, "a", 1)
    publish(harness, "a", 2)
    replay = engine.replay(channel_stream("a"), (one.epoch, 0))
    assert replay.events == [] and replay.position == (one.epoch, 2)
    assert len(events_of(harness.wait_for(2))) == 2  # still delivered live


# -- history, edit, delete -------------------------------------------------------------
def test_history_keeps_the_newest_messages(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True, "history_size": 3}, NOW)
    for n in range(1, 6):
        publish(harness, "a", n, history=True)
    publish(harness, "a", 6, history=False)
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None
    assert [item["message"]["n"] for item in info["history"]] == [3, 4, 5]
    assert info["history"][0]["offset"] == 3 and info["history"][0]["epoch"] == info["epoch"]
    hidden = channel_info(engine, "a", include_history=False, include_users=False)
    assert hidden is not None and hidden["history"] == []
    engine.configure_channel("a", {"history_size": 2}, NOW)
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None
    assert [item["message"]["n"] for item in info["history"]] == [4, 5]


def test_history_only_when_the_channel_stores_it(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    publish(harness, "a", 1, history=True)
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and info["history"] == []


def test_edit_changes_history_and_window_in_place(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    one = publish(harness, "a", 1, history=True)
    publish(harness, "a", 2, history=True)
    uuid = one.uuid
    assert uuid is not None
    changes = {"message": {"n": 10}, "edited": "2026-01-01T00:00:00", "channel": "x", "junk": 1}
    assert engine.edit_message(channel_stream("a"), uuid, changes) is True
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None
    edited = info["history"][0]
    assert edited["message"] == {"n": 10} and edited["edited"] == "2026-01-01T00:00:00"
    assert "channel" not in edited
    assert "junk" not in edited and edited["offset"] == 1
    replay = engine.replay(channel_stream("a"), (one.epoch, 0))
    assert [e.payload["message"] for e in replay.events] == [{"n": 10}, {"n": 2}]
    assert replay.events[0].offset == 1 and "junk" not in replay.events[0].payload
    assert engine.edit_message(channel_stream("a"), "no-such-uuid", changes) is False
    assert engine.edit_message(channel_stream("nope"), uuid, changes) is False


def test_edit_touches_messages_only(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.publish(Event({"type": "presence", "uuid": "p1"}, channel="a"), now=NOW)
    assert engine.edit_message(channel_stream("a"), "p1", {"message": {}}) is False


def test_edit_and_delete_in_a_direct_stream(harness: Harness) -> None:
    engine = harness.engine
    stamped = engine.publish(Event(message(1), channel=None, direct_to="bob"), now=NOW)
    assert stamped is not None and stamped.uuid is not None
    stream = direct_stream("bob")
    assert engine.edit_message(stream, stamped.uuid, {"message": {"n": 5}}) is True
    replay = engine.replay(stream, (stamped.epoch, 0))
    assert replay.events[0].payload["message"] == {"n": 5}
    assert replay.events[0].direct_to == "bob"
    assert engine.delete_message(stream, stamped.uuid) is True
    assert engine.replay(stream, (stamped.epoch, 0)).events == []
    assert engine.delete_message(stream, stamped.uuid) is False


def test_delete_removes_from_history_and_window(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    one = publish(harness, "a", 1, history=True)
    publish(harness, "a", 2, history=True)
    assert one.uuid is not None
    assert engine.delete_message(channel_stream("a"), one.uuid) is True
    info = channel_info(engine, "a", include_history=True, include_users=False)
    assert info is not None and [i["message"]["n"] for i in info["history"]] == [2]
    replay = engine.replay(channel_stream("a"), (one.epoch, 0))
    assert [e.offset for e in replay.events] == [2] and replay.gap is None
    assert engine.delete_message(channel_stream("a"), one.uuid) is False
    # Deleting does not reuse offsets.
    assert publish(harness, "a", 3).offset == 3


# -- users ---------------------------------------------------------------------------
def test_upsert_user_creates_then_merges(harness: Harness) -> None:
    engine = harness.engine
    found = engine.upsert_user(
        "alice", now=NOW, fresh_state={"a": 1, "b": "x"}, changes={"b": "y"}, public_keys=["a"]
    )
    assert found is not None
    user, changed = found
    assert user.state == {"a": 1, "b": "y"} and user.public_keys == ["a"]
    assert changed == [{"key": "b", "value": "y"}]
    assert user.public_state == {"a": 1} and user.last_active == NOW
    found = engine.upsert_user(
        "alice", now=NOW + 1, fresh_state={"a": 99}, changes={"c": None, "a": 1}
    )
    assert found is not None
    user, changed = found
    assert user.state == {"a": 1, "b": "y", "c": None}  # fresh state only for a new user
    assert changed == [{"key": "c", "value": None}]
    assert user.public_keys == ["a"]  # None keeps the public keys
    found = engine.upsert_user("alice", now=NOW + 2, public_keys=[])
    assert found is not None and found[0].public_keys == []
    stored = engine.get_user("alice")
    assert stored is not None and stored.state == {"a": 1, "b": "y", "c": None}
    assert stored.last_active == NOW + 2


def test_upsert_without_create(harness: Harness) -> None:
    engine = harness.engine
    assert engine.upsert_user("ghost", now=NOW, changes={"a": 1}, create=False) is None
    assert engine.get_user("ghost") is None
    engine.upsert_user("alice", now=NOW)
    found = engine.upsert_user("alice", now=NOW, changes={"a": 1.5, "b": True}, create=False)
    assert found is not None and found[0].state == {"a": 1.5, "b": True}


def test_records_are_copies(harness: Harness) -> None:
    engine = harness.engine
    engine.upsert_user("alice", now=NOW, fresh_state={"a": 1})
    user = engine.get_user("alice")
    assert user is not None
    user.state["a"] = 2
    assert engine.get_user("alice").state == {"a": 1}  # type: ignore[union-attr]
    conn = engine.add_connection("c1", "alice", NOW)
    conn.channels.add("x")
    assert engine.get_connection("c1").channels == set()  # type: ignore[union-attr]


def test_get_users_answers_the_known_ones_in_order(harness: Harness) -> None:
    engine = harness.engine
    engine.upsert_user("bob", now=NOW, fresh_state={"b": 1})
    engine.upsert_user("alice", now=NOW + 1, fresh_state={"a": 1}, public_keys=["a"])
    users = engine.get_users(["alice", "ghost", "bob"])
    assert [(u.username, u.state, u.public_keys, u.last_active) for u in users] == [
        ("alice", {"a": 1}, ["a"], NOW + 1),
        ("bob", {"b": 1}, [], NOW),
    ]
    assert engine.get_users([]) == []


def test_user_states_answer_the_known_ones_in_order_as_copies(harness: Harness) -> None:
    engine = harness.engine
    engine.upsert_user("bob", now=NOW, fresh_state={"b": 1, "hidden": 0}, public_keys=["b"])
    engine.upsert_user("alice", now=NOW, fresh_state={"a": 1})
    everything = engine.user_states(["alice", "ghost", "bob"], public=False)
    assert everything == [("alice", {"a": 1}), ("bob", {"b": 1, "hidden": 0})]
    assert engine.user_states(["bob", "alice"], public=True) == [("bob", {"b": 1}), ("alice", {})]
    everything[0][1]["a"] = 2
    assert engine.get_user("alice").state == {"a": 1}  # type: ignore[union-attr]
    assert engine.user_states([], public=False) == []


def test_list_and_collect_users(harness: Harness) -> None:
    engine = harness.engine
    engine.upsert_user("old", now=NOW)
    engine.upsert_user("busy", now=NOW)
    engine.upsert_user("recent", now=NOW + 100)
    engine.add_connection("c1", "busy", NOW)
    before = engine.position(direct_stream("old"))
    assert sorted(u.username for u in engine.list_users()) == ["busy", "old", "recent"]
    assert engine.collect_users(NOW + 50) == ["old"]
    assert engine.get_user("old") is None
    assert sorted(u.username for u in engine.list_users()) == ["busy", "recent"]
    # The forgotten user's direct stream is gone: a new one has a new epoch.
    assert engine.position(direct_stream("old"))[0] != before[0]


def test_touch_marks_connection_and_user_active(harness: Harness) -> None:
    engine = harness.engine
    engine.upsert_user("alice", now=NOW)
    engine.add_connection("c1", "alice", NOW)
    engine.add_connection("c2", "alice", NOW)
    engine.touch_connection("c1", NOW + 10)
    assert engine.get_connection("c1").last_active == NOW + 10  # type: ignore[union-attr]
    assert engine.get_user("alice").last_active == NOW + 10  # type: ignore[union-attr]
    engine.touch_connections(["c1", "c2", "unknown"], NOW + 20)
    assert {c.conn_id: c.last_active for c in engine.list_connections()} == {
        "c1": NOW + 20,
        "c2": NOW + 20,
    }
    engine.touch_connection("unknown", NOW)  # no error


# -- connections ---------------------------------------------------------------------
def test_add_connection_is_idempotent(harness: Harness) -> None:
    engine = harness.engine
    engine.upsert_user("alice", now=NOW)
    conn = engine.add_connection("c1", "alice", NOW)
    assert (conn.conn_id, conn.username, conn.channels, conn.last_active) == (
        "c1",
        "alice",
        set(),
        NOW,
    )
    assert conn.disconnected is False
    assert conn.positions == {None: engine.position(direct_stream("alice"))}
    assert engine.mark_disconnected("c1") is True
    again = engine.add_connection("c1", "alice", NOW + 5)
    assert again.disconnected is False and again.last_active == NOW + 5
    assert [c.conn_id for c in engine.list_connections()] == ["c1"]


def test_add_connection_refuses_a_new_one_past_max_per_user(harness: Harness) -> None:
    engine = harness.engine
    for conn_id in ("c1", "c2"):
        assert engine.add_connection(conn_id, "alice", NOW, max_per_user=2) is not None
    assert engine.add_connection("c3", "alice", NOW, max_per_user=2) is None
    assert engine.get_connection("c3") is None  # nothing of it was kept
    assert engine.add_connection("c1", "alice", NOW + 1, max_per_user=2) is not None  # again
    assert engine.add_connection("b1", "bob", NOW, max_per_user=2) is not None
    assert engine.add_connection("c3", "alice", NOW) is not None  # 0: no limit
    # Connections on their way out do not count; removed ones neither.
    engine.mark_disconnected("c1")
    engine.mark_disconnected("c2")
    assert engine.add_connection("c4", "alice", NOW, max_per_user=2) is not None
    assert engine.add_connection("c5", "alice", NOW, max_per_user=2) is None
    engine.remove_connection("c3", NOW)
    assert engine.add_connection("c5", "alice", NOW, max_per_user=2) is not None
    held = sorted(c.conn_id for c in engine.list_connections() if c.username == "alice")
    assert held == ["c1", "c2", "c4", "c5"]


def test_connection_positions_start_at_the_direct_stream(harness: Harness) -> None:
    engine = harness.engine
    engine.publish(Event(message(1), channel=None, direct_to="alice"), now=NOW)
    conn = engine.add_connection("c1", "alice", NOW)
    epoch, offset = conn.positions[None]
    assert offset == 1 and epoch == engine.position(direct_stream("alice"))[0]


def test_a_connections_first_direct_message_after_being_idle(harness: Harness) -> None:
    engine = harness.engine
    conn = engine.add_connection("c1", "alice", NOW)
    assert conn is not None
    start = conn.positions[None]
    stream = direct_stream("alice")
    # Nothing was ever sent to alice: no message to edit or delete, nothing to replay.
    never = "00000000-0000-0000-0000-000000000009"
    assert engine.edit_message(stream, never, {"message": {}}) is False
    assert engine.delete_message(stream, never) is False
    nothing = engine.replay(stream, start)
    assert nothing.events == [] and nothing.gap is None and nothing.position == start
    stamped = engine.publish(Event(message(1), channel=None, direct_to="alice"), now=NOW)
    assert stamped is not None and (stamped.epoch, stamped.offset) == (start[0], start[1] + 1)
    replay = engine.replay(stream, start)
    assert replay.gap is None and [e.offset for e in replay.events] == [start[1] + 1]


def test_save_positions_merges(harness: Harness) -> None:
    engine = harness.engine
    engine.add_connection("c1", "alice", NOW)
    engine.save_positions("c1", {"a": ("e1", 3)})
    engine.save_positions("c1", {"b": ("e2", 4), None: ("d", 7)})
    engine.save_positions("c1", {"a": ("e1", 5)})
    conn = engine.get_connection("c1")
    assert conn is not None
    assert conn.positions == {"a": ("e1", 5), "b": ("e2", 4), None: ("d", 7)}
    engine.save_positions("unknown", {"a": ("e", 1)})
    assert engine.get_connection("unknown") is None


def test_mark_disconnected_and_collectable(harness: Harness) -> None:
    engine = harness.engine
    engine.add_connection("gone", "alice", NOW + 100)
    engine.add_connection("idle", "alice", NOW)
    engine.add_connection("live", "bob", NOW + 100)
    assert engine.mark_disconnected("gone") is True
    assert engine.mark_disconnected("unknown") is False
    assert engine.get_connection("gone").disconnected is True  # type: ignore[union-attr]
    assert sorted(engine.collectable_connections(NOW + 50)) == ["gone", "idle"]


def test_remove_connection(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.add_connection("c1", "alice", NOW)
    engine.join_channel("a", "c1", "alice", NOW)
    removed = engine.remove_connection("c1", NOW)
    assert removed is not None and removed.conn_id == "c1" and removed.channels == {"a"}
    assert engine.get_connection("c1") is None
    assert engine.list_connections() == []
    assert engine.remove_connection("c1", NOW) is None
    assert engine.collectable_connections(NOW + 1000) == []


# -- channels ------------------------------------------------------------------------
def test_ensure_channel_creates_once(harness: Harness) -> None:
    engine = harness.engine
    config, created = engine.ensure_channel("a", {"notify_presence": True}, NOW)
    assert created is True and config == ChannelConfig(notify_presence=True)
    config, created = engine.ensure_channel("a", {"store_history": True}, NOW)
    assert created is False and config == ChannelConfig(notify_presence=True)
    assert engine.channel_config("a") == ChannelConfig(notify_presence=True)
    assert engine.channel_config("b") is None
    assert engine.channel_names() == ["a"]


def test_history_size_is_bounded(harness: Harness) -> None:
    engine = harness.engine
    config, _ = engine.ensure_channel("a", {"history_size": 10_000}, NOW)
    assert config.history_size == 50
    assert engine.configure_channel("a", {"history_size": 999}, NOW).history_size == 50


def test_configure_channel_creates_or_changes(harness: Harness) -> None:
    engine = harness.engine
    assert engine.configure_channel("a", {"notify_state": True}, NOW) == ChannelConfig(
        notify_state=True
    )
    changed = engine.configure_channel("a", {"store_history": True, "notify_state": None}, NOW)
    assert changed == ChannelConfig(notify_state=True, store_history=True)
    assert engine.channel_config("a") == changed


def test_channel_positions_answer_every_existing_channel_in_one_call(harness: Harness) -> None:
    engine = harness.engine
    for name in ("a", "b"):
        engine.ensure_channel(name, None, NOW)
    for n in range(3):
        publish(harness, "a", n + 1)
    publish(harness, "b", 9)
    harness.wait_for(4)
    positions = engine.channel_positions(["a", "b", "nope"])
    assert set(positions) == {"a", "b"}
    assert positions["a"][1] == 3 and positions["b"][1] == 1
    assert positions["a"] == engine.position(channel_stream("a"))
    snapshot = engine.channel_snapshot("b", include_history=False, include_users=False)
    assert snapshot is not None and positions["b"] == snapshot.position
    assert engine.channel_positions([]) == {}


def test_channel_info(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", {"store_history": True}, NOW)
    for conn_id, user in (("c1", "bob"), ("c2", "alice"), ("c3", "bob")):
        engine.add_connection(conn_id, user, NOW)
        engine.join_channel("a", conn_id, user, NOW + 1)
    info = channel_info(engine, "a", include_history=True, include_users=True)
    assert info is not None
    assert set(info) >= {
        "uuid",
        "name",
        "long_name",
        "settings",
        "history",
        "last_active",
        "total_connections",
        "total_users",
        "users",
    }
    assert info["name"] == "a" and info["long_name"] is None
    assert info["settings"] == ChannelConfig(store_history=True).as_dict()
    assert info["total_connections"] == 3 and info["total_users"] == 2
    assert info["users"] == ["alice", "bob"]
    assert info["last_active"] == "1970-01-01T00:16:41.000000"
    hidden = channel_info(engine, "a", include_history=False, include_users=False)
    assert hidden is not None and hidden["users"] == [] and hidden["total_users"] == 0
    assert hidden["uuid"] == info["uuid"]
    assert channel_info(engine, "nope", include_history=True, include_users=True) is None
    assert engine.channel_users("a") == ["alice", "bob"]
    assert engine.channel_users("nope") == []
    # Joining twice counts once; leaving (twice) counts once.
    engine.join_channel("a", "c1", "bob", NOW + 2)
    engine.leave_channel("a", "c3", "bob", NOW + 2)
    engine.leave_channel("a", "c3", "bob", NOW + 2)
    again = channel_info(engine, "a", include_history=False, include_users=True)
    assert again is not None
    assert again["total_connections"] == 2 and again["users"] == ["alice", "bob"]


def test_join_and_leave_report_first_and_last_per_user(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    publish(harness, "a", 1)
    epoch = engine.position(channel_stream("a"))[0]
    engine.add_connection("c1", "alice", NOW)
    engine.add_connection("c2", "alice", NOW)
    assert engine.join_channel("a", "c1", "alice", NOW) == JoinResult(True, True, (epoch, 1))
    publish(harness, "a", 2)
    assert engine.join_channel("a", "c2", "alice", NOW) == JoinResult(True, False, (epoch, 2))
    assert engine.join_channel("a", "c2", "alice", NOW) == JoinResult(False, False, (epoch, 2))
    conn = engine.get_connection("c2")
    assert conn is not None and conn.channels == {"a"} and conn.positions["a"] == (epoch, 2)
    assert engine.leave_channel("a", "c1", "alice", NOW) == LeaveResult(True, False)
    assert engine.leave_channel("a", "c1", "alice", NOW) == LeaveResult(False, False)
    assert engine.get_connection("c1").channels == set()  # type: ignore[union-attr]
    assert engine.leave_channel("a", "c2", "alice", NOW) == LeaveResult(True, True)
    assert engine.channel_users("a") == []
    assert engine.leave_channel("nope", "c2", "alice", NOW) == LeaveResult(False, False)


def test_user_channels(harness: Harness) -> None:
    engine = harness.engine
    for name in ("a", "b", "c"):
        engine.ensure_channel(name, None, NOW)
    engine.add_connection("c1", "alice", NOW)
    engine.add_connection("c2", "alice", NOW)
    engine.add_connection("c3", "bob", NOW)
    engine.join_channel("b", "c1", "alice", NOW)
    engine.join_channel("a", "c2", "alice", NOW)
    engine.join_channel("b", "c2", "alice", NOW)
    engine.join_channel("c", "c3", "bob", NOW)
    assert engine.user_channels("alice") == ["a", "b"]
    assert engine.user_channels("bob") == ["c"]
    assert engine.user_channels("nobody") == []
    engine.leave_channel("a", "c2", "alice", NOW)
    assert engine.user_channels("alice") == ["b"]


def test_join_a_connection_without_a_record(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    result = engine.join_channel("a", "loose", "alice", NOW)
    assert result.joined and result.first_for_user
    assert engine.channel_users("a") == ["alice"]
    assert engine.get_connection("loose") is None


def test_collect_channels(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("old", None, NOW)
    engine.ensure_channel("busy", None, NOW)
    engine.ensure_channel("recent", None, NOW + 100)
    engine.add_connection("c1", "alice", NOW)
    engine.join_channel("busy", "c1", "alice", NOW)
    publish(harness, "old", 1)
    epoch = engine.position(channel_stream("old"))[0]
    assert engine.collect_channels(NOW + 50) == ["old"]
    assert sorted(engine.channel_names()) == ["busy", "recent"]
    assert channel_info(engine, "old", include_history=True, include_users=True) is None
    engine.ensure_channel("old", None, NOW + 200)
    assert engine.position(channel_stream("old")) != (epoch, 1)
    assert engine.position(channel_stream("old"))[1] == 0


def test_publish_marks_the_channel_active(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.publish(Event(message(1), channel="a"), now=NOW + 100)
    assert engine.collect_channels(NOW + 50) == []
    info = channel_info(engine, "a", include_history=False, include_users=False)
    assert info is not None and info["last_active"] == "1970-01-01T00:18:20.000000"


def test_leaving_marks_the_channel_active(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.add_connection("c1", "alice", NOW)
    engine.join_channel("a", "c1", "alice", NOW)
    assert engine.collect_channels(NOW + 50) == []  # it has a member
    engine.leave_channel("a", "c1", "alice", NOW + 100)
    assert engine.collect_channels(NOW + 50) == []
    assert engine.collect_channels(NOW + 150) == ["a"]
