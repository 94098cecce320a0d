"""What only a shared engine has: several nodes, dead nodes, a bus that can be cut."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from channelstream import operations
from channelstream.delivery.hub import Hub
from channelstream.engine.base import Subscribed, channel_stream
from channelstream.engine.redis import RedisEngine
from channelstream.model.event import Event
from channelstream.state import State
from tests.engine.conftest import CATCHUP, Harness, Recorder, channel_info, engine_settings
from tests.support.memory import connect, listen
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

MakeEngine = Callable[..., RedisEngine]

pytestmark = pytest.mark.redis


def node(engine: RedisEngine, hub: Hub | None = None) -> State:
    state = State(settings=engine.settings, engine=engine, hub=hub or Hub())
    engine.start(state.node)
    return state


def say(state: State, channel: str, n: int) -> None:
    operations.publish_messages(
        state,
        [
            {
                "channel": channel,
                "user": "backend",
                "message": {"n": n},
                "pm_users": [],
                "exclude_users": [],
                "no_history": False,
                "uuid": f"00000000-0000-0000-0000-{n:012d}",
                "timestamp": "2026-01-01T00:00:00",
            }
        ],
    )


# -- several nodes -------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_every_node_sees_every_stream_in_offset_order(fresh_redis: MakeEngine) -> None:
    nodes = [Harness(fresh_redis()) for _ in range(3)]
    channels = ["a", "b", "c"]
    for name in channels:
        nodes[0].engine.ensure_channel(name, None, 1.0)
    per_thread = 150

    def publisher(harness: Harness, seed: int) -> None:
        rng = random.Random(seed)
        for n in range(per_thread):
            event = Event({"type": "message", "n": n, "seed": seed}, channel=rng.choice(channels))
            harness.engine.publish(event, now=1.0)

    threads = [threading.Thread(target=publisher, args=(nodes[i % 3], i)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = 6 * per_thread
    for harness in nodes:
        got = [e for e in harness.wait_for(total, timeout=20) if isinstance(e, Event)]
        assert len(got) == total
        for name in channels:
            offsets = [e.offset for e in got if e.channel == name]
            assert offsets == list(range(1, len(offsets) + 1))
        assert len({(e.payload["seed"], e.payload["n"]) for e in got}) == total
    time.sleep(0.2)
    assert all(len(h.got) == total for h in nodes)


def test_connect_on_one_node_attach_on_another(fresh_redis: MakeEngine) -> None:
    a, b = node(fresh_redis()), node(fresh_redis())
    conn_id = connect(a, "alice", ["chat"], state_public_keys=None)
    say(a, "chat", 1)  # before the socket exists: catch-up delivers it
    recorder = listen(b, conn_id)
    say(a, "chat", 2)
    wait_until(lambda: len(recorder.of_type("message")) == 2)
    messages = recorder.of_type("message")
    assert [(m["message"]["n"], m["catchup"], m["offset"]) for m in messages] == [
        (1, True, 1),
        (2, False, 2),
    ]


# -- a node that dies ----------------------------------------------------------------
def test_a_dead_nodes_connections_become_collectable(fresh_redis: MakeEngine) -> None:
    survivor = fresh_redis()
    survivor.start(Recorder())
    doomed = fresh_redis(node_ttl=1)
    doomed.start(Recorder())
    now = time.time()
    doomed.add_connection("on-doomed", "alice", now)
    doomed.add_connection("moves", "bob", now)
    doomed.touch_connections(["on-doomed", "moves"], now)
    assert survivor.collectable_connections(now - 60) == []
    doomed.stop()  # its heartbeat stops: like kill -9
    survivor.touch_connection("moves", time.time())  # bob reattached on the survivor
    started = time.monotonic()
    found = wait_until(lambda: survivor.collectable_connections(now - 60), timeout=8)
    assert found == ["on-doomed"]
    assert time.monotonic() - started < 5  # node_ttl (1 s), with room for a loaded machine
    # Claimed: another pass (another node) does not collect it again at once.
    assert survivor.collectable_connections(now - 60) == []
    assert survivor.remove_connection("on-doomed", now) is not None
    survivor.collectable_connections(now - 60)
    client = survivor.redis
    assert doomed.node_id.encode() not in client.smembers(survivor.prefix + "nodes")


def test_no_collection_while_cut_off_or_just_back(fresh_redis: MakeEngine) -> None:
    """After a Redis outage every heartbeat key may have expired: a node collects nothing
    until its own bus is back and the others had the time to heartbeat again."""
    collector = fresh_redis()
    collector.start(Recorder())
    other = fresh_redis(node_ttl=1)
    other.start(Recorder())
    now = time.time()
    other.add_connection("elsewhere", "alice", now)
    other.stop()  # its key expires, as it would during an outage
    heartbeat_key = f"{other.prefix}n:{other.node_id}"
    wait_until(lambda: not collector.redis.exists(heartbeat_key), what="the heartbeat key expired")
    collector.bus.interrupt()  # Redis answers commands, our subscriber is not back yet
    assert collector.collectable_connections(now - 60) == []
    collector.bus.resume()  # back: a grace period starts
    assert collector.collectable_connections(now - 60) == []
    collector.bus.resumed_at = None  # the grace period is over
    assert collector.collectable_connections(now - 60) == ["elsewhere"]


def test_parted_once_when_several_nodes_collect(fresh_redis: MakeEngine) -> None:
    nodes = [node(fresh_redis()) for _ in range(3)]
    observer_id = connect(nodes[0], "watcher", [], state_public_keys=None)
    observer = listen(nodes[0], observer_id)
    operations.set_channel_configs(nodes[0], {"room": {"notify_presence": True}})
    observer_conn = nodes[0].engine.get_connection(observer_id)
    assert observer_conn is not None
    operations.subscribe(nodes[0], observer_conn, ["room"], {})
    conn_id = connect(nodes[1], "leaver", ["room"], state_public_keys=None)
    wait_until(lambda: observer.of_type("presence"))
    nodes[1].engine.mark_disconnected(conn_id)
    threads = [
        threading.Thread(target=operations.collect_idle_connections, args=(state,))
        for state in nodes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: len(observer.of_type("presence")) == 2)
    time.sleep(0.3)
    actions = [(p["user"], p["message"]["action"]) for p in observer.of_type("presence")]
    assert actions == [("leaver", "joined"), ("leaver", "parted")]


# -- a bus that is cut ---------------------------------------------------------------
def test_missed_events_are_resent_after_the_bus_comes_back(fresh_redis: MakeEngine) -> None:
    a, b = node(fresh_redis()), node(fresh_redis())
    recorder = listen(a, connect(a, "alice", ["chat"], state_public_keys=None))
    say(b, "chat", 1)
    wait_until(lambda: len(recorder.of_type("message")) == 1)
    assert isinstance(a.engine, RedisEngine)
    a.engine.bus.interrupt()
    assert a.engine.health()["ok"] is False
    for n in (2, 3, 4):
        say(b, "chat", n)
    a.engine.bus.resume()
    wait_until(lambda: len(recorder.of_type("message")) == 4, what="re-sync")
    say(b, "chat", 5)
    wait_until(lambda: len(recorder.of_type("message")) == 5)
    time.sleep(0.2)
    assert [m["offset"] for m in recorder.of_type("message")] == [1, 2, 3, 4, 5]
    assert recorder.of_type("gap") == []
    assert a.engine.health()["ok"] is True and a.engine.bus.outages == 1


def test_a_hole_beyond_the_window_is_announced(fresh_redis: MakeEngine) -> None:
    a, b = node(fresh_redis()), node(fresh_redis())
    recorder = listen(a, connect(a, "alice", ["chat"], state_public_keys=None))
    assert isinstance(a.engine, RedisEngine)
    a.engine.bus.interrupt()
    for n in range(1, CATCHUP + 4):
        say(b, "chat", n)
    a.engine.bus.resume()
    wait_until(lambda: len(recorder.of_type("message")) == CATCHUP, what="re-sync")
    epoch = b.engine.position(channel_stream("chat"))[0]
    assert recorder.received[0] == {
        "type": "gap",
        "channel": "chat",
        "epoch": epoch,
        "offset": CATCHUP + 3,
        "reason": "window",
    }
    assert [m["offset"] for m in recorder.of_type("message")] == [4, 5, 6, 7, 8]


def test_a_hole_in_a_channel_without_frames_is_announced(fresh_redis: MakeEngine) -> None:
    a, b = node(fresh_redis()), node(fresh_redis())
    operations.set_channel_configs(a, {"fleeting": {"store_frames": False}})
    recorder = listen(a, connect(a, "alice", ["fleeting"], state_public_keys=None))
    assert isinstance(a.engine, RedisEngine)
    a.engine.bus.interrupt()
    say(b, "fleeting", 1)
    a.engine.bus.resume()
    wait_until(lambda: recorder.of_type("gap"), what="gap notice")
    assert recorder.of_type("gap")[0]["reason"] == "window"
    say(b, "fleeting", 2)
    wait_until(lambda: recorder.of_type("message"))
    assert [m["offset"] for m in recorder.of_type("message")] == [2]


def test_events_before_a_subscribed_envelope_are_not_lost(fresh_redis: MakeEngine) -> None:
    """Node A holds the socket; node B subscribes it and publishes before A hears of it."""
    a, b = node(fresh_redis()), node(fresh_redis())
    conn_id = connect(a, "alice", [], state_public_keys=None)
    recorder = listen(a, conn_id)
    b.engine.ensure_channel("x", None, time.time())
    joined = b.engine.join_channel("x", conn_id, "alice", time.time())
    say(b, "x", 1)  # reaches A before the Subscribed envelope below
    b.engine.broadcast(Subscribed(conn_id, {"x": joined.position}))
    say(b, "x", 2)
    wait_until(lambda: len(recorder.of_type("message")) == 2)
    time.sleep(0.2)
    assert [m["offset"] for m in recorder.of_type("message")] == [1, 2]


# -- Redis itself goes away ----------------------------------------------------------
def test_health_follows_redis_and_the_node_recovers(tmp_path: Any) -> None:
    server = RedisServer(persistent=True).start()
    try:
        engine = RedisEngine(engine_settings(server.url, engine="redis"))
        state = node(engine)
        recorder = listen(state, connect(state, "alice", ["chat"], state_public_keys=None))
        other = RedisEngine(engine_settings(server.url, engine="redis"))
        writer = node(other)
        say(writer, "chat", 1)
        wait_until(lambda: len(recorder.received) == 1)
        server.stop()
        wait_until(lambda: not engine.health()["ok"], what="health down")
        engine.touch_connections(list(state.hub.connections), time.time())  # no error
        assert recorder.closed is None
        server.start()
        wait_until(lambda: engine.health()["ok"], timeout=10, what="health back")
        wait_until(lambda: other.health()["ok"], timeout=10, what="writer back")
        say(writer, "chat", 2)
        wait_until(lambda: len(recorder.of_type("message")) == 2)
        assert [m["offset"] for m in recorder.of_type("message")] == [1, 2]
        assert recorder.closed is None
        engine.stop()
        other.stop()
    finally:
        server.close()


def test_local_connections_are_closed_when_redis_lost_them() -> None:
    server = RedisServer().start()
    try:
        engine = RedisEngine(engine_settings(server.url, engine="redis"))
        state = node(engine)
        recorder = listen(state, connect(state, "alice", ["chat"], state_public_keys=None))
        server.stop()
        wait_until(lambda: not engine.health()["ok"], what="health down")
        server.start()  # empty: without persistence everything is gone
        wait_until(lambda: recorder.closed is not None, timeout=10, what="closed")
        assert recorder.closed == (1000, "disconnected")
        assert state.hub.connections == {}
        engine.stop()
    finally:
        server.close()


def test_deployments_in_different_databases_stay_apart(redis_server: RedisServer) -> None:
    base = redis_server.url.rsplit("/", 1)[0]
    one = Harness(RedisEngine(engine_settings(f"{base}/1", engine="redis")))
    two = Harness(RedisEngine(engine_settings(f"{base}/2", engine="redis")))
    try:
        for harness in (one, two):
            harness.engine.ensure_channel("chat", None, 1.0)
        one.engine.publish(Event({"type": "message", "n": 1}, channel="chat"), now=1.0)
        two.engine.publish(Event({"type": "message", "n": 2}, channel="chat"), now=1.0)
        one.wait_for(1)
        two.wait_for(1)
        time.sleep(0.2)
        assert [e.payload["n"] for e in one.got if isinstance(e, Event)] == [1]
        assert [e.payload["n"] for e in two.got if isinstance(e, Event)] == [2]
    finally:
        one.engine.stop()
        two.engine.stop()


class CountingHub(Hub):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def deliver_event(self, event: Any) -> None:
        self.seen.append(event)
        super().deliver_event(event)


def test_a_node_decodes_only_channels_it_has_listeners_for(fresh_redis: MakeEngine) -> None:
    hub = CountingHub()
    a = node(fresh_redis(), hub)
    b = node(fresh_redis())
    recorder = listen(a, connect(a, "alice", ["here"], state_public_keys=None))
    b.engine.ensure_channel("elsewhere", None, time.time())
    say(b, "elsewhere", 1)
    say(b, "here", 2)
    b.engine.publish(Event({"type": "message"}, channel=None, direct_to="alice"), now=1.0)
    wait_until(lambda: len(recorder.received) == 2)
    events = [e for e in hub.seen if isinstance(e, Event)]
    assert [(e.channel, e.direct_to) for e in events] == [("here", None), (None, "alice")]


@pytest.mark.timeout(30)
def test_edits_and_configs_go_through_under_traffic(fresh_redis: MakeEngine) -> None:
    """Publishes touch a channel's keys all the time; edits and config changes must not
    have to wait for a quiet moment."""
    writer, editor = fresh_redis(), fresh_redis()
    for engine in (writer, editor):
        engine.start(Recorder())
    writer.ensure_channel("busy", {"store_history": True, "history_size": 50}, 1.0)
    target = writer.publish(
        Event({"type": "message", "uuid": "keep-me", "message": {"v": 0}}, channel="busy"),
        now=1.0,
        history=True,
    )
    assert target is not None
    halt = threading.Event()

    def flood() -> None:
        n = 0
        while not halt.is_set():
            n += 1
            writer.publish(Event({"type": "message", "n": n}, channel="busy"), now=1.0)

    threads = [threading.Thread(target=flood) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        started = time.monotonic()
        for v in range(1, 21):
            changes = {"message": {"v": v}}
            assert editor.edit_message(channel_stream("busy"), "keep-me", changes) is True
            size = 10 + v % 5
            assert (
                editor.configure_channel("busy", {"history_size": size}, 1.0).history_size == size
            )
        assert time.monotonic() - started < 10
    finally:
        halt.set()
        for thread in threads:
            thread.join()
    info = channel_info(editor, "busy", include_history=True, include_users=False)
    assert info is not None and info["settings"]["history_size"] == 10
    # The flood kept no history: the edited message is its only item.
    assert [(h["uuid"], h["message"]) for h in info["history"]] == [("keep-me", {"v": 20})]
    assert editor.delete_message(channel_stream("busy"), "keep-me") is True
    info = channel_info(editor, "busy", include_history=True, include_users=False)
    assert info is not None and info["history"] == []
