"""The engine contract's outbox (``Outbox`` in channelstream/engine/base.py) and
``retire_connection``, run against every engine (memory, and Redis on a real redis-server):
which calls record which presence transitions, in which order, the cap, the lease."""

from __future__ import annotations

import time

from channelstream.engine.base import TRANSITIONS, Engine
from tests.engine.conftest import Harness

NOW = 1_000.0
ALL = frozenset(TRANSITIONS)


def recorded(engine: Engine) -> list[tuple[str, str | None, str | None]]:
    """What was recorded since the last call (read, then removed)."""
    batch = engine.take_transitions("tester", lease=5, limit=1000)
    assert batch is not None
    if batch.transitions:
        engine.drop_transitions(batch.epoch, batch.transitions[-1].seq)
    return [(item.name, item.channel, item.user) for item in batch.transitions]


def start(engine: Engine, names: frozenset[str] = ALL, cap: int = 1000) -> None:
    engine.keep_transitions(names, cap)
    engine.ensure_channel("a", None, NOW)
    engine.ensure_channel("b", None, NOW)


def test_each_transition_is_recorded_once_in_the_order_the_state_changed(
    harness: Harness,
) -> None:
    engine = harness.engine
    start(engine)
    engine.add_connection("c1", "alice", NOW)
    engine.join_channel("a", "c1", "alice", NOW)
    engine.add_connection("c2", "alice", NOW + 1)  # not her first: nothing
    engine.join_channel("a", "c2", "alice", NOW + 1)  # nor in the channel
    engine.add_connection("c3", "bob", NOW + 2)
    engine.join_channel("a", "c3", "bob", NOW + 2)  # the channel is occupied already
    engine.join_channel("a", "c3", "bob", NOW + 2)  # joined already: nothing
    engine.leave_channel("a", "c1", "alice", NOW + 3)  # c2 still holds her presence
    assert engine.remove_connection("c1", NOW + 3) is not None  # and she is online on c2
    engine.leave_channel("a", "c2", "alice", NOW + 4)
    engine.remove_connection("c2", NOW + 4)
    engine.leave_channel("a", "c3", "bob", NOW + 5)
    engine.remove_connection("c3", NOW + 5)
    engine.remove_connection("c3", NOW + 5)  # gone already: nothing
    batch = engine.take_transitions("tester", lease=5, limit=3)
    assert batch is not None and batch.dropped == 0
    assert [item.seq for item in batch.transitions] == [1, 2, 3]
    assert [item.time_ms for item in batch.transitions] == [1_000_000] * 3
    assert recorded(engine) == [
        ("user_online", None, "alice"),
        ("channel_occupied", "a", None),
        ("user_joined", "a", "alice"),
        ("user_online", None, "bob"),
        ("user_joined", "a", "bob"),
        ("user_parted", "a", "alice"),
        ("user_offline", None, "alice"),
        ("user_parted", "a", "bob"),
        ("channel_vacated", "a", None),
        ("user_offline", None, "bob"),
    ]
    assert recorded(engine) == []


def test_only_the_kept_names_are_recorded_and_nothing_before_keep(harness: Harness) -> None:
    engine = harness.engine
    engine.ensure_channel("a", None, NOW)
    engine.add_connection("early", "zoe", NOW)  # before keep_transitions: not recorded
    engine.keep_transitions(frozenset({"user_offline", "channel_occupied"}), 100)
    engine.add_connection("c1", "alice", NOW)
    engine.join_channel("a", "c1", "alice", NOW)
    engine.leave_channel("a", "c1", "alice", NOW)
    engine.remove_connection("c1", NOW)
    assert recorded(engine) == [("channel_occupied", "a", None), ("user_offline", None, "alice")]


def test_names_of_any_characters_travel_intact(harness: Harness) -> None:
    engine = harness.engine
    engine.keep_transitions(ALL, 100)
    name, user = 'ro"om\n/ü\\', "a,l\ti'ce\u2028"
    engine.ensure_channel(name, None, NOW)
    engine.add_connection("c1", user, NOW)
    engine.join_channel(name, "c1", user, NOW)
    assert recorded(engine) == [
        ("user_online", None, user),
        ("channel_occupied", name, None),
        ("user_joined", name, user),
    ]


def test_the_cap_drops_the_oldest_and_counts_them(harness: Harness) -> None:
    engine = harness.engine
    start(engine, frozenset({"user_online"}), cap=3)
    for n in range(5):
        engine.add_connection(f"c{n}", f"user{n}", NOW)
    batch = engine.take_transitions("tester", lease=5, limit=10)
    assert batch is not None
    assert [item.user for item in batch.transitions] == ["user2", "user3", "user4"]
    assert batch.dropped == 2
    again = engine.take_transitions("tester", lease=5, limit=10)
    assert again is not None and again.dropped == 0  # counted once, then reset
    state = engine.outbox_state()
    assert (state.pending, state.dropped) == (3, 2)


def test_delivered_transitions_go_by_seq_and_only_in_their_epoch(harness: Harness) -> None:
    engine = harness.engine
    start(engine, frozenset({"user_online"}))
    for n in range(4):
        engine.add_connection(f"c{n}", f"user{n}", NOW)
    batch = engine.take_transitions("tester", lease=5, limit=2)
    assert batch is not None
    assert engine.drop_transitions("another-epoch", 10) == 0
    assert engine.drop_transitions(batch.epoch, batch.transitions[-1].seq) == 2
    assert engine.outbox_state().pending == 2
    assert [user for _, _, user in recorded(engine)] == ["user2", "user3"]


def test_one_holder_at_a_time_until_its_lease_ends_or_it_lets_go(harness: Harness) -> None:
    engine = harness.engine
    start(engine, frozenset({"user_online"}))
    engine.add_connection("c1", "alice", NOW)
    assert engine.take_transitions("one", lease=0.3, limit=10) is not None
    assert engine.take_transitions("two", lease=5, limit=10) is None
    renewed = engine.take_transitions("one", lease=0.3, limit=0)
    assert renewed is not None and renewed.transitions == []
    time.sleep(0.4)  # the lease lapsed: another holder may take over
    taken = engine.take_transitions("two", lease=5, limit=10)
    assert taken is not None and [item.user for item in taken.transitions] == ["alice"]
    assert engine.take_transitions("one", lease=5, limit=10) is None
    engine.release_outbox("one")  # not the holder: changes nothing
    assert engine.take_transitions("one", lease=5, limit=10) is None
    engine.release_outbox("two")
    assert engine.take_transitions("one", lease=5, limit=10) is not None


def test_the_report_keeps_values_and_adds_counters(harness: Harness) -> None:
    engine = harness.engine
    assert engine.outbox_state().report == {}
    engine.report_outbox({"sender": "one", "last_error": "503"}, {"sent": 3})
    engine.report_outbox({"last_error": ""}, {"sent": 2, "failures": 1})
    assert engine.outbox_state().report == {
        "sender": "one",
        "last_error": "",
        "sent": "5",
        "failures": "1",
    }


def test_a_retired_connection_leaves_a_stand_in_that_holds_its_presence(
    harness: Harness,
) -> None:
    engine = harness.engine
    start(engine)
    engine.add_connection("c1", "alice", NOW)
    engine.join_channel("a", "c1", "alice", NOW)
    engine.join_channel("b", "c1", "alice", NOW)
    assert len(recorded(engine)) == 5
    retired = engine.retire_connection("c1", "grace:1", NOW + 50)
    assert retired is not None and retired.conn_id == "c1" and retired.channels == {"a", "b"}
    assert engine.get_connection("c1") is None
    held = engine.get_connection("grace:1")
    assert held is not None and held.username == "alice" and held.channels == {"a", "b"}
    assert held.last_active == NOW + 50 and not held.disconnected
    # For everybody she is still there: in both channels, as one connection each.
    assert engine.channel_users("a") == ["alice"] and engine.user_channels("alice") == ["a", "b"]
    snapshot = engine.channel_snapshot("a", include_history=False, include_users=True)
    assert snapshot is not None and snapshot.total_connections == 1
    assert engine.collectable_connections(NOW + 49) == []
    assert engine.collectable_connections(NOW + 51) == ["grace:1"]
    # She comes back: not a first connection, not a first join; nothing is recorded.
    engine.add_connection("c2", "alice", NOW + 1)
    assert engine.join_channel("a", "c2", "alice", NOW + 1).first_for_user is False
    assert recorded(engine) == []
    # The stand-in is collected as any connection is; only what she left for good shows.
    assert engine.leave_channel("a", "grace:1", "alice", NOW + 51).last_for_user is False
    assert engine.leave_channel("b", "grace:1", "alice", NOW + 51).last_for_user is True
    assert engine.remove_connection("grace:1", NOW + 51) is not None
    assert recorded(engine) == [("user_parted", "b", "alice"), ("channel_vacated", "b", None)]
    assert engine.retire_connection("c1", "grace:2", NOW) is None


def test_a_stand_in_is_not_held_against_max_per_user(harness: Harness) -> None:
    engine = harness.engine
    start(engine)
    engine.add_connection("c1", "alice", NOW, max_per_user=1)
    engine.retire_connection("c1", "grace:1", NOW + 50)
    assert engine.add_connection("c2", "alice", NOW, max_per_user=1) is not None
    assert engine.add_connection("c3", "alice", NOW, max_per_user=1) is None
