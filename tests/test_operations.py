"""Use cases against the memory engine, with recording transports attached through the hub."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from channelstream import operations, presenters
from channelstream.delivery.attach import attach, detach
from channelstream.errors import LimitReached, ValidationFailed
from channelstream.state import State
from tests.support.memory import RecordingTransport, connect, listen, make_state


@pytest.fixture
def state() -> State:
    return make_state()


def message(channel: str | None, user: str = "sender", **extra: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "user": user,
        "message": {"text": extra.pop("text", "hi")},
        "pm_users": extra.pop("pm_users", []),
        "exclude_users": extra.pop("exclude_users", []),
        "no_history": extra.pop("no_history", False),
        # A new one each time, as the API fills it: a repeated uuid is one message.
        "uuid": extra.pop("uuid", None) or str(uuid.uuid4()),
        "timestamp": "2026-11-28T23:16:22.364259",
        **extra,
    }


PRESENCE = {"c": {"notify_presence": True}}


def test_live_message_has_0_7_fields_and_offsets(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    transport = listen(state, conn_id)
    operations.publish_messages(state, [message("c"), message("c", text="two")])
    first, second = transport.of_type("message")
    assert first["catchup"] is False and first["edited"] is None
    assert first["channel"] == "c" and first["user"] == "sender"
    assert "pm_users" not in first and "exclude_users" not in first and "no_history" not in first
    assert second["offset"] == first["offset"] + 1 and second["epoch"] == first["epoch"]


def test_published_before_attach_is_caught_up(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    operations.publish_messages(state, [message("c", text="early")])
    transport = listen(state, conn_id)
    (caught,) = transport.of_type("message")
    assert caught["catchup"] is True and caught["message"] == {"text": "early"}


def test_reattach_replays_exactly_what_was_missed(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    local = attach(state, conn_id, first := RecordingTransport(), {})
    assert local is not None
    operations.publish_messages(state, [message("c", text="1")])
    detach(state, local)
    operations.publish_messages(state, [message("c", text="2"), message("c", text="3")])
    second = listen(state, conn_id)
    assert [m["message"]["text"] for m in first.of_type("message")] == ["1"]
    assert [m["message"]["text"] for m in second.of_type("message")] == ["2", "3"]


def test_resume_from_client_offsets(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    sent = operations.publish_messages(state, [message("c", text=str(n)) for n in range(5)])
    resume = {"c": (sent[1]["epoch"], sent[1]["offset"])}
    transport = listen(state, conn_id, resume)
    assert [m["message"]["text"] for m in transport.of_type("message")] == ["2", "3", "4"]
    assert transport.of_type("gap") == []


def test_resume_with_unknown_epoch_reports_gap(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    operations.publish_messages(state, [message("c")])
    transport = listen(state, conn_id, {"c": ("old-epoch", 7)})
    (gap,) = transport.of_type("gap")
    assert gap["channel"] == "c" and gap["reason"] == "epoch" and gap["offset"] == 1


def test_resume_beyond_window_reports_gap() -> None:
    state = make_state(catchup_size=3)
    conn_id = connect(state, "alice", ["c"])
    sent = operations.publish_messages(state, [message("c", text=str(n)) for n in range(6)])
    transport = listen(state, conn_id, {"c": (sent[0]["epoch"], sent[0]["offset"])})
    (gap,) = transport.of_type("gap")
    assert gap["reason"] == "window"
    assert [m["message"]["text"] for m in transport.of_type("message")] == ["3", "4", "5"]


def test_old_client_catchup_beyond_window_flags_first_event() -> None:
    state = make_state(catchup_size=2)
    conn_id = connect(state, "alice", ["c"])
    operations.publish_messages(state, [message("c", text=str(n)) for n in range(4)])
    transport = listen(state, conn_id)
    replayed = transport.of_type("message")
    assert [m["message"]["text"] for m in replayed] == ["2", "3"]
    assert replayed[0].get("gap") is True and "gap" not in replayed[1]
    assert transport.of_type("gap") == []


def test_exclude_users_wins_over_pm_users(state: State) -> None:
    alice = listen(state, connect(state, "alice", ["c"]))
    bob = listen(state, connect(state, "bob", ["c"]))
    carol = listen(state, connect(state, "carol", ["c"]))
    operations.publish_messages(
        state, [message("c", pm_users=["alice", "bob"], exclude_users=["bob"])]
    )
    assert len(alice.of_type("message")) == 1
    assert bob.of_type("message") == [] and carol.of_type("message") == []


def test_direct_message_reaches_every_connection_of_each_user(state: State) -> None:
    first = listen(state, connect(state, "alice", []))
    second = listen(state, connect(state, "alice", []))
    bob = listen(state, connect(state, "bob", []))
    operations.publish_messages(state, [message(None, pm_users=["alice"])])
    for transport in (first, second):
        (received,) = transport.of_type("message")
        assert received["channel"] is None
    assert bob.of_type("message") == []


def test_message_without_channel_or_pm_users_reaches_nobody(state: State) -> None:
    alice = listen(state, connect(state, "alice", ["c"]))
    kept = message("c")
    answer = operations.publish_messages(state, [message(None), kept])
    # Dropped from the answer too, as 0.7.1 did.
    assert answer == [kept] and len(alice.of_type("message")) == 1


def test_unknown_channel_is_accepted_but_not_created(state: State) -> None:
    operations.publish_messages(state, [message("nowhere")])
    assert "nowhere" not in state.engine.channel_names()


def test_presence_only_for_first_and_last_connection_never_to_self(state: State) -> None:
    watcher = listen(state, connect(state, "watcher", ["c"], channel_configs=PRESENCE))
    first = connect(state, "alice", ["c"])
    alice_view = listen(state, first)
    second = connect(state, "alice", ["c"])
    joined = watcher.of_type("presence")
    assert [p["message"]["action"] for p in joined] == ["joined"]
    assert joined[0]["user"] == "alice" and joined[0]["users"] == []
    assert alice_view.of_type("presence") == []
    for conn_id in (first, second):
        operations.disconnect(state, conn_id)
    state.clock.advance(1)  # type: ignore[attr-defined]
    operations.collect_idle_connections(state)
    assert [p["message"]["action"] for p in watcher.of_type("presence")] == ["joined", "parted"]
    assert watcher.of_type("presence")[1]["state"] is None


def test_presence_with_user_lists_carries_public_state(state: State) -> None:
    configs = {"c": {"notify_presence": True, "broadcast_presence_with_user_lists": True}}
    watcher = listen(state, connect(state, "watcher", ["c"], channel_configs=configs))
    connect(
        state, "alice", ["c"], user_state={"mood": "ok", "secret": 1}, state_public_keys=["mood"]
    )
    (joined,) = watcher.of_type("presence")
    assert joined["state"] == {"mood": "ok"}
    assert {"user": "alice", "state": {"mood": "ok"}} in joined["users"]


def test_user_state_change_goes_to_everyone_with_public_keys_only(state: State) -> None:
    configs = {"c": {"notify_state": True}}
    alice = listen(
        state, connect(state, "alice", ["c"], channel_configs=configs, state_public_keys=["typing"])
    )
    bob = listen(state, connect(state, "bob", ["c"]))
    _, changed = operations.set_user_state(state, "alice", {"typing": True, "pin": 4}, None)
    assert {"key": "pin", "value": 4} in changed
    for transport in (alice, bob):
        (change,) = transport.of_type("user_state_change")
        assert change["message"] == {
            "state": {"typing": True},
            "changed": [{"key": "typing", "value": True}],
        }


def test_user_state_public_keys_absent_keeps_empty_clears(state: State) -> None:
    connect(state, "alice", [], state_public_keys=["a"])
    user, _ = operations.set_user_state(state, "alice", {}, None)
    assert user.public_keys == ["a"]
    user, _ = operations.set_user_state(state, "alice", {}, [])
    assert user.public_keys == []


def test_user_state_for_unknown_user_is_422_naming_user(state: State) -> None:
    with pytest.raises(ValidationFailed) as raised:
        operations.set_user_state(state, "ghost", {"a": 1}, None)
    assert "user" in raised.value.body


def test_fresh_state_only_for_new_user_user_state_merges(state: State) -> None:
    connect(state, "alice", [], fresh_user_state={"a": 1}, user_state={"b": 2})
    _, user = operations.connect(
        state,
        username="alice",
        conn_id=None,
        channels=[],
        channel_configs={},
        fresh_user_state={"a": 9},
        user_state={"c": 3},
        state_public_keys=None,
    )
    assert user.state == {"a": 1, "b": 2, "c": 3}


def test_second_connect_with_same_conn_id_is_same_connection(state: State) -> None:
    conn_id = connect(state, "alice", ["a"])
    assert connect(state, "alice", ["b"], conn_id=conn_id) == conn_id
    assert len(state.engine.list_connections()) == 1
    assert state.engine.get_connection(conn_id).channels == {"a", "b"}  # type: ignore[union-attr]


def test_channel_configs_apply_only_to_created_channels(state: State) -> None:
    connect(state, "alice", ["c"])
    connect(state, "bob", ["c"], channel_configs={"c": {"store_history": True}})
    assert state.engine.channel_config("c").store_history is False  # type: ignore[union-attr]


def test_history_keeps_newest_messages_not_no_history_ones(state: State) -> None:
    connect(
        state, "alice", ["c"], channel_configs={"c": {"store_history": True, "history_size": 2}}
    )
    operations.publish_messages(
        state,
        [
            message("c", text="1"),
            message("c", text="2"),
            message("c", text="x", no_history=True),
            message("c", text="3"),
        ],
    )
    info = presenters.channels_info(state, ["c"])
    assert [m["message"]["text"] for m in info["channels"]["c"]["history"]] == ["2", "3"]


def test_edit_updates_history_and_catchup_delete_removes(state: State) -> None:
    conn_id = connect(state, "alice", ["c"], channel_configs={"c": {"store_history": True}})
    uuid_a = "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b00aa"
    uuid_b = "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b00bb"
    operations.publish_messages(state, [message("c", uuid=uuid_a), message("c", uuid=uuid_b)])
    operations.edit_messages(
        state,
        [
            {
                "uuid": uuid_a,
                "channel": "c",
                "message": {"text": "new"},
                "edited": "2026-11-29T00:00:00",
            }
        ],
    )
    operations.delete_messages(state, [{"uuid": uuid_b, "channel": "c"}])
    history = presenters.channels_info(state, ["c"])["channels"]["c"]["history"]
    assert [(m["uuid"], m["message"]) for m in history] == [(uuid_a, {"text": "new"})]
    transport = listen(state, conn_id)
    replayed = [m for m in transport.received if m["type"] == "message"]
    assert [(m["uuid"], m["message"]) for m in replayed] == [(uuid_a, {"text": "new"})]
    (edit,) = transport.of_type("message:edit")
    assert edit["message"] == {"text": "new"} and "pm_users" not in edit
    (delete,) = transport.of_type("message:delete")
    assert {k: delete[k] for k in ("uuid", "channel", "type")} == {
        "uuid": uuid_b,
        "channel": "c",
        "type": "message:delete",
    }


def test_gc_collects_idle_connections_and_closes_their_transport(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    transport = listen(state, conn_id)
    state.clock.advance(state.settings.gc_conns_after - 1)  # type: ignore[attr-defined]
    assert operations.collect_idle_connections(state) == 0
    state.clock.advance(2)  # type: ignore[attr-defined]
    assert operations.collect_idle_connections(state) == 1
    assert transport.closed == (1000, "disconnected")
    assert state.engine.get_connection(conn_id) is None


def test_gc_forgets_idle_users_and_empty_channels() -> None:
    state = make_state(gc_users_after=100, gc_channels_after=100)
    conn_id = connect(state, "alice", ["c"])
    operations.disconnect(state, conn_id)
    operations.collect_idle_connections(state)
    assert operations.collect_idle_users_and_channels(state) == (0, 0)
    state.clock.advance(101)  # type: ignore[attr-defined]
    assert operations.collect_idle_users_and_channels(state) == (1, 1)


def test_unsubscribe_stops_delivery(state: State) -> None:
    conn_id = connect(state, "alice", ["a", "b"])
    transport = listen(state, conn_id)
    conn = state.engine.get_connection(conn_id)
    assert conn is not None
    assert operations.unsubscribe(state, conn, ["a", "zzz"]) == ["a"]
    operations.publish_messages(state, [message("a"), message("b")])
    assert [m["channel"] for m in transport.of_type("message")] == ["b"]


def test_subscribe_while_attached_starts_delivery(state: State) -> None:
    conn_id = connect(state, "alice", [])
    transport = listen(state, conn_id)
    conn = state.engine.get_connection(conn_id)
    assert conn is not None
    assert operations.subscribe(state, conn, ["x"], {}) == ["x"]
    operations.publish_messages(state, [message("x")])
    assert len(transport.of_type("message")) == 1


# -- limits --------------------------------------------------------------------------
def test_a_new_connection_past_max_connections_per_user_is_429_and_changes_nothing() -> None:
    state = make_state(max_connections_per_user=2)
    first = connect(state, "alice", ["c"], user_state={"mood": "ok"})
    connect(state, "alice", ["c"])
    with pytest.raises(LimitReached) as caught:
        connect(state, "alice", ["other"], user_state={"mood": "changed"})
    assert caught.value.status == 429
    assert caught.value.body["limit"] == "max_connections_per_user"
    assert "alice holds 2 connections" in caught.value.body["username"][0]
    user = state.engine.get_user("alice")
    assert user is not None and user.state == {"mood": "ok"}  # the refused call changed nothing
    assert state.engine.channel_config("other") is None
    assert connect(state, "alice", ["c"], conn_id=first) == first  # the same conn_id again
    connect(state, "bob", ["c"])  # another user


def test_channels_past_max_channels_per_connection_are_422_and_nothing_is_joined() -> None:
    state = make_state(max_channels_per_connection=3)
    with pytest.raises(LimitReached) as caught:
        connect(state, "alice", ["a", "b", "c", "d"])
    assert caught.value.status == 422 and "would be in 4" in caught.value.body["channels"][0]
    assert state.engine.get_user("alice") is None and state.engine.channel_names() == []
    conn_id = connect(state, "alice", ["a", "b"])
    conn = operations.find_connection(state, conn_id)
    with pytest.raises(LimitReached):
        operations.subscribe(state, conn, ["c", "d"], {})
    assert operations.subscriptions(state, conn_id) == ["a", "b"]
    assert state.engine.channel_config("c") is None
    # What it holds already does not count twice; up to the limit is fine.
    assert operations.subscribe(state, conn, ["a", "b", "c"], {}) == ["c"]
    conn = operations.find_connection(state, conn_id)
    assert operations.subscribe(state, conn, ["a"], {}) == []
    with pytest.raises(LimitReached):  # naming it again at /connect: its channels count
        connect(state, "alice", ["d"], conn_id=conn_id)
    assert operations.subscriptions(state, conn_id) == ["a", "b", "c"]


def test_presence_grace_hides_a_departure_the_user_comes_back_from() -> None:
    state = make_state(presence_grace=5, gc_conns_after=15)
    watcher_id = connect(state, "watcher", ["c"], channel_configs=PRESENCE)
    watcher = listen(state, watcher_id)
    first = connect(state, "alice", ["c"])
    socket = listen(state, first)
    operations.disconnect(state, first)
    operations.collect_idle_connections(state)
    assert socket.closed == (1000, "disconnected")  # her socket goes at once
    # A page reload: she connects again (a new connection) within the grace.
    state.clock.advance(4)  # type: ignore[attr-defined]
    second = connect(state, "alice", ["c"])
    state.clock.advance(2)  # type: ignore[attr-defined]
    operations.collect_idle_connections(state)  # the grace is over: the stand-in goes
    assert [p["message"]["action"] for p in watcher.of_type("presence")] == ["joined"]
    assert state.engine.channel_users("c") == ["alice", "watcher"]
    connections = {conn.conn_id for conn in state.engine.list_connections()}
    assert connections == {watcher_id, second}
    # She leaves for good: parted once the grace has passed, not before.
    operations.disconnect(state, second)
    operations.collect_idle_connections(state)
    state.clock.advance(4.9)  # type: ignore[attr-defined]
    operations.collect_idle_connections(state)
    assert len(watcher.of_type("presence")) == 1
    assert state.engine.channel_users("c") == ["alice", "watcher"]  # still present meanwhile
    state.clock.advance(0.2)  # type: ignore[attr-defined]
    operations.collect_idle_connections(state)
    assert [p["message"]["action"] for p in watcher.of_type("presence")] == ["joined", "parted"]
    assert state.engine.channel_users("c") == ["watcher"]


def test_without_presence_grace_a_departure_shows_at_once_as_in_0_7() -> None:
    state = make_state()
    watcher = listen(state, connect(state, "watcher", ["c"], channel_configs=PRESENCE))
    first = connect(state, "alice", ["c"])
    operations.disconnect(state, first)
    operations.collect_idle_connections(state)
    connect(state, "alice", ["c"])
    actions = [p["message"]["action"] for p in watcher.of_type("presence")]
    assert actions == ["joined", "parted", "joined"]


def test_a_stand_in_holds_no_place_under_max_connections_per_user() -> None:
    # A reload with presence_grace: the departed page's stand-in must not keep the user
    # from connecting again.
    state = make_state(presence_grace=5, max_connections_per_user=1)
    first = connect(state, "alice", ["c"])
    operations.disconnect(state, first)
    operations.collect_idle_connections(state)
    second = connect(state, "alice", ["c"])
    assert {conn.conn_id for conn in state.engine.list_connections()} >= {second}
    with pytest.raises(LimitReached):
        connect(state, "alice", ["c"])  # the new connection does hold her place


def test_a_repeated_uuid_answers_the_first_publish_and_reaches_nobody_again(state: State) -> None:
    conn_id = connect(state, "alice", ["c"])
    transport = listen(state, conn_id)
    first = operations.publish_messages(state, [message("c", uuid=REPEATED)])
    later = {**message("c", uuid=REPEATED, text="changed"), "timestamp": "2026-11-29T00:00:00"}
    batch = operations.publish_messages(state, [later, message("c", uuid=REPEATED)])
    assert batch == first * 2
    assert [m["message"] for m in transport.of_type("message")] == [{"text": "hi"}]


def test_a_repeated_uuid_to_direct_recipients_reaches_each_once(state: State) -> None:
    readers = {user: listen(state, connect(state, user, [])) for user in ("bob", "carl")}
    direct = message(None, uuid=REPEATED, pm_users=["bob", "carl"])
    first = operations.publish_messages(state, [dict(direct)])
    assert operations.publish_messages(state, [dict(direct)]) == first
    for transport in readers.values():
        assert len(transport.of_type("message")) == 1


REPEATED = "6a5e6a66-0c9b-4c4e-8f5c-6b0f3d5b0dd0"
