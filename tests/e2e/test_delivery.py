"""What clients receive: message fields, direct messages, presence, state changes, edits,
history and offsets, over real WebSockets."""

from __future__ import annotations

import datetime
import threading
import uuid
from typing import Any

import pytest

from tests.e2e.helpers import before_text, clients, name, of_type, open_ws, texts, wait_for_text
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(30)

DELIVERY_KEYS = ("pm_users", "exclude_users", "no_history")


def connect(server: ServerProcess, user: str, channels: list[str], **body: Any) -> str:
    return str(server.post("/connect", {"username": user, "channels": channels, **body})["conn_id"])


def presence_config(**extra: bool) -> dict[str, Any]:
    return {"notify_presence": True, **extra}


def test_message_fields(node: ServerProcess) -> None:
    channel = name("fields")
    conn_id = connect(node, name("reader"), [channel])
    with clients(open_ws(node, conn_id)) as (client,):
        sent = node.publish(
            channel,
            "alice",
            {"text": "hello", "n": [1, 2]},
            exclude_users=[name("someone")],
            no_history=True,
            junk="ignored",
        )
        (got,) = client.messages(1, type_="message")
    assert got["type"] == "message"
    assert got["channel"] == channel
    assert got["user"] == "alice"
    assert got["message"] == {"text": "hello", "n": [1, 2]}
    assert got["uuid"] == sent["uuid"]
    assert got["uuid"] == str(uuid.UUID(got["uuid"]))
    stamp = datetime.datetime.fromisoformat(got["timestamp"])
    assert stamp.tzinfo is None
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - stamp).total_seconds()) < 60
    assert got["catchup"] is False
    assert got["edited"] is None
    for key in (*DELIVERY_KEYS, "junk"):
        assert key not in got
    assert isinstance(got["offset"], int)
    assert isinstance(got["epoch"], str)


def test_uppercase_uuid_delivered_lowercase(node: ServerProcess) -> None:
    channel = name("upper")
    conn_id = connect(node, name("reader"), [channel])
    given = str(uuid.uuid4())
    with clients(open_ws(node, conn_id)) as (client,):
        node.publish(channel, "u", {"text": "x"}, uuid=given.upper())
        (got,) = client.messages(1, type_="message")
    assert got["uuid"] == given


def test_exclude_users_wins_over_pm_users(node: ServerProcess) -> None:
    channel = name("pm")
    alice, bob, carol = name("alice"), name("bob"), name("carol")
    socks = [open_ws(node, connect(node, user, [channel])) for user in (alice, bob, carol)]
    with clients(*socks) as (a, b, c):
        node.publish(
            channel, "sender", {"text": "private"}, pm_users=[alice, bob], exclude_users=[bob]
        )
        node.publish(channel, "sender", {"text": "everyone"}, exclude_users=[carol])
        node.publish(channel, "sender", {"text": "sentinel"})
        assert texts(before_text(a, "sentinel")) == ["private", "everyone"]
        assert texts(before_text(b, "sentinel")) == ["everyone"]
        assert texts(before_text(c, "sentinel")) == []
        private = of_type(a.received, "message")[0]
        assert private["channel"] == channel
        for key in DELIVERY_KEYS:
            assert key not in private


def test_direct_message_reaches_every_connection_of_each_listed_user(
    node: ServerProcess,
) -> None:
    dave, erin, frank = name("dave"), name("erin"), name("frank")
    channel = name("dm")
    socks = [
        open_ws(node, connect(node, dave, [])),
        open_ws(node, connect(node, dave, [channel])),
        open_ws(node, connect(node, erin, [channel])),
        open_ws(node, connect(node, frank, [channel])),
    ]
    with clients(*socks) as (dave1, dave2, erin1, frank1):
        node.publish(None, "sender", {"text": "direct"}, pm_users=[dave, erin])
        node.publish(
            None, "sender", {"text": "not erin"}, pm_users=[dave, erin], exclude_users=[erin]
        )
        node.publish(None, "sender", {"text": "sentinel"}, pm_users=[dave, erin, frank])
        for client, expected in (
            (dave1, ["direct", "not erin"]),
            (dave2, ["direct", "not erin"]),
            (erin1, ["direct"]),
            (frank1, []),
        ):
            assert texts(before_text(client, "sentinel")) == expected
        got = of_type(dave1.received, "message")[0]
        assert got["channel"] is None
        assert got["user"] == "sender"
        assert got["catchup"] is False
        for key in DELIVERY_KEYS:
            assert key not in got


def test_presence_first_and_last_connection_only(node: ServerProcess) -> None:
    channel = name("presence")
    watcher, joiner = name("watcher"), name("joiner")
    configs = {channel: presence_config()}
    watch = open_ws(node, connect(node, watcher, [channel], channel_configs=configs))
    with clients(watch):
        first_conn = connect(
            node,
            joiner,
            [channel],
            user_state={"color": "blue", "secret": "s"},
            state_public_keys=["color"],
        )
        first = open_ws(node, first_conn)
        second_conn = connect(node, joiner, [channel], state_public_keys=["color"])
        second = open_ws(node, second_conn)
        with clients(first, second):
            node.publish(channel, "x", {"text": "s1"})
            events = before_text(watch, "s1")
            joined = of_type(events, "presence")
            assert len(joined) == 1, events
            item = joined[0]
            assert item["user"] == joiner
            assert item["channel"] == channel
            assert item["message"] == {"action": "joined"}
            assert item["state"] == {"color": "blue"}
            assert item["users"] == []
            assert item["catchup"] is False
            assert isinstance(item["offset"], int)
            # Leaving with one of two connections says nothing.
            node.post("/unsubscribe", {"conn_id": first_conn, "channels": [channel]})
            node.publish(channel, "x", {"text": "s2"})
            assert of_type(before_text(watch, "s2"), "presence") == joined
            node.post("/unsubscribe", {"conn_id": second_conn, "channels": [channel]})
            node.publish(channel, "x", {"text": "s3"})
            parted = of_type(before_text(watch, "s3"), "presence")[1:]
            assert len(parted) == 1
            assert parted[0]["user"] == joiner
            assert parted[0]["message"] == {"action": "parted"}
            assert parted[0]["state"] is None
            assert parted[0]["users"] == []
            # The joiner's own sockets never heard about itself.
            for own in (first, second):
                own_events = before_text(own, "s1")
                assert [p for p in of_type(own_events, "presence") if p["user"] == joiner] == []


def test_presence_never_sent_to_the_user_it_is_about(node: ServerProcess) -> None:
    channel = name("self")
    user = name("me")
    configs = {channel: presence_config()}
    mine = open_ws(node, connect(node, user, [channel], channel_configs=configs))
    with clients(mine):
        other = open_ws(node, connect(node, user, [channel]))
        with clients(other):
            stranger = connect(node, name("stranger"), [channel])
            node.post("/unsubscribe", {"conn_id": stranger, "channels": [channel]})
            node.publish(channel, "x", {"text": "sentinel"})
            for client in (mine, other):
                seen = of_type(before_text(client, "sentinel"), "presence")
                assert [p["user"] for p in seen] != [] and all(p["user"] != user for p in seen)
                assert [p["message"]["action"] for p in seen] == ["joined", "parted"]


def test_presence_with_user_lists(node: ServerProcess) -> None:
    channel = name("lists")
    watcher, joiner = name("w"), name("j")
    configs = {channel: presence_config(broadcast_presence_with_user_lists=True)}
    watch = open_ws(
        node,
        connect(
            node,
            watcher,
            [channel],
            channel_configs=configs,
            user_state={"mood": "ok", "hidden": 1},
            state_public_keys=["mood"],
        ),
    )
    with clients(watch):
        conn = connect(
            node, joiner, [channel], user_state={"mood": "fine"}, state_public_keys=["mood"]
        )
        node.post("/unsubscribe", {"conn_id": conn, "channels": [channel]})
        node.publish(channel, "x", {"text": "sentinel"})
        joined, parted = of_type(before_text(watch, "sentinel"), "presence")
    assert joined["message"] == {"action": "joined"}
    expected: list[dict[str, Any]] = [
        {"user": watcher, "state": {"mood": "ok"}},
        {"user": joiner, "state": {"mood": "fine"}},
    ]
    assert sorted(joined["users"], key=lambda u: str(u["user"])) == sorted(
        expected, key=lambda u: str(u["user"])
    )
    assert parted["message"] == {"action": "parted"}
    assert parted["users"] == [{"user": watcher, "state": {"mood": "ok"}}]


def test_no_presence_without_notify_presence(node: ServerProcess) -> None:
    channel = name("quiet")
    watch = open_ws(node, connect(node, name("w"), [channel]))
    with clients(watch):
        conn = connect(node, name("j"), [channel])
        node.post("/unsubscribe", {"conn_id": conn, "channels": [channel]})
        node.publish(channel, "x", {"text": "sentinel"})
        assert before_text(watch, "sentinel") == []


def test_user_state_change_with_notify_state(node: ServerProcess) -> None:
    channel, quiet = name("state"), name("nostate")
    user, other = name("changer"), name("observer")
    configs = {channel: {"notify_state": True}}
    mine = open_ws(
        node,
        connect(
            node,
            user,
            [channel, quiet],
            channel_configs=configs,
            user_state={"status": "here", "token": "t0"},
            state_public_keys=["status"],
        ),
    )
    theirs = open_ws(node, connect(node, other, [channel]))
    bystander = open_ws(node, connect(node, name("bystander"), [quiet]))
    with clients(mine, theirs, bystander):
        node.post("/user_state", {"user": user, "user_state": {"status": "away", "token": "t1"}})
        # A change of private keys only still tells the channel, with nothing public changed.
        node.post("/user_state", {"user": user, "user_state": {"token": "t2"}})
        # No change at all: nothing is sent.
        node.post("/user_state", {"user": user, "user_state": {"token": "t2"}})
        node.publish(channel, "x", {"text": "sentinel"})
        node.publish(quiet, "x", {"text": "sentinel"})
        for client in (mine, theirs):
            changes = of_type(before_text(client, "sentinel"), "user_state_change")
            assert 1 <= len(changes) <= 2, changes
            first = changes[0]
            assert first["user"] == user
            assert first["channel"] == channel
            assert first["message"] == {
                "state": {"status": "away"},
                "changed": [{"key": "status", "value": "away"}],
            }
            for change in changes:
                assert "token" not in str(change["message"])
        assert of_type(before_text(bystander, "sentinel"), "user_state_change") == []


def test_history_rules(node: ServerProcess) -> None:
    channel = name("history")
    configs = {channel: {"store_history": True, "history_size": 3, "notify_presence": True}}
    watch = open_ws(node, connect(node, name("h"), [channel], channel_configs=configs))
    with clients(watch):
        conn = connect(node, name("presence-maker"), [channel])
        for number in range(1, 6):
            node.publish(channel, "u", {"text": f"m{number}"}, no_history=number == 5)
        node.post("/unsubscribe", {"conn_id": conn, "channels": [channel]})
        node.publish(None, "u", {"text": "direct"}, pm_users=["u"])
        history = node.post("/info", {"info": {"channels": [channel]}})["channels"][channel][
            "history"
        ]
        assert [item["message"]["text"] for item in history] == ["m2", "m3", "m4"]
        assert {item["type"] for item in history} == {"message"}
        # no_history messages are still delivered live.
        wait_for_text(watch, "m5")
        node.post("/channel_config", {channel: {"history_size": 1}})
        shrunk = node.post("/info", {"info": {"channels": [channel]}})["channels"][channel]
        assert [item["message"]["text"] for item in shrunk["history"]] == ["m4"]


def test_no_history_without_store_history(node: ServerProcess) -> None:
    channel = name("nohist")
    connect(node, name("h"), [channel])
    node.publish(channel, "u", {"text": "m"})
    history = node.post("/info", {"info": {"channels": [channel]}})["channels"][channel]
    assert history["history"] == []


def test_offsets_increase_by_one_per_channel_event(node: ServerProcess) -> None:
    channel, other_channel = name("offsets"), name("other")
    user = name("o")
    configs = {
        channel: {"notify_presence": True, "notify_state": True, "store_history": True},
    }
    conn = connect(node, user, [channel, other_channel], channel_configs=configs)
    with clients(open_ws(node, conn)) as (client,):
        first = node.publish(channel, "u", {"text": "a"})
        node.publish(other_channel, "u", {"text": "elsewhere"})
        peer = connect(node, name("peer"), [channel])
        node.post("/user_state", {"user": user, "user_state": {"k": 1}})
        node.call("PATCH", "/message", [{"uuid": first["uuid"], "channel": channel}])
        node.call("DELETE", "/message", [{"uuid": first["uuid"], "channel": channel}])
        node.post("/unsubscribe", {"conn_id": peer, "channels": [channel]})
        node.publish(channel, "u", {"text": "z"})
        events = [item for item in client.messages(8, timeout=5) if item.get("channel") == channel]
        wait_for_text(client, "z")
    types = [item["type"] for item in events]
    assert types == [
        "message",
        "presence",
        "user_state_change",
        "message:edit",
        "message:delete",
        "presence",
        "message",
    ]
    offsets = [item["offset"] for item in events]
    assert offsets == list(range(offsets[0], offsets[0] + len(events)))
    # Offset 1 is the user's own "joined" presence, which is never sent to that user.
    assert offsets[0] == 2
    assert len({item["epoch"] for item in events}) == 1
    assert first["offset"] == 2


def test_direct_stream_offsets(node: ServerProcess) -> None:
    user = name("ds")
    with clients(open_ws(node, connect(node, user, []))) as (client,):
        for number in range(3):
            node.publish(None, "u", {"text": f"d{number}"}, pm_users=[user])
        got = client.messages(3, type_="message")
    offsets = [item["offset"] for item in got]
    assert offsets == [offsets[0], offsets[0] + 1, offsets[0] + 2]
    assert len({item["epoch"] for item in got}) == 1


def test_subscribe_while_attached_delivers_live(node: ServerProcess) -> None:
    user, later = name("attached"), name("later")
    conn_id = connect(node, user, [])
    with clients(open_ws(node, conn_id)) as (client,):
        node.post("/subscribe", {"conn_id": conn_id, "channels": [later]})
        node.publish(later, "u", {"text": "first on later"})
        got = wait_for_text(client, "first on later")
        assert [m["channel"] for m in got] == [later]
        assert got[0]["catchup"] is False


def test_fan_out_to_many_sockets_in_order(node: ServerProcess) -> None:
    channel = name("fan")
    socks = [open_ws(node, connect(node, name("fan"), [channel])) for _ in range(40)]
    with clients(*socks):
        for batch in range(5):
            node.post(
                "/message",
                [
                    {"channel": channel, "user": "u", "message": {"n": batch * 20 + i}}
                    for i in range(20)
                ],
            )
        for client in socks:
            got = client.messages(100, type_="message", timeout=10)
            assert [m["message"]["n"] for m in got] == list(range(100))


def test_concurrent_publishers_one_order_for_everyone(node: ServerProcess) -> None:
    channel = name("order")
    socks = [open_ws(node, connect(node, name("ord"), [channel])) for _ in range(3)]
    errors: list[BaseException] = []

    def publisher(worker: int) -> None:
        try:
            for number in range(40):
                node.publish(channel, f"w{worker}", {"w": worker, "n": number})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(worker,)) for worker in range(4)]
    with clients(*socks):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        orders = []
        for client in socks:
            got = client.messages(160, type_="message", timeout=10)
            assert [m["offset"] for m in got] == list(range(1, 161))
            orders.append([m["uuid"] for m in got])
            for worker in range(4):
                mine = [m["message"]["n"] for m in got if m["message"]["w"] == worker]
                assert mine == list(range(40))
        assert orders[0] == orders[1] == orders[2]
