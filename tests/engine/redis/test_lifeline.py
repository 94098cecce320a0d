"""A Redis that lost its data (flushed here, as a restart without persistence would): the
engine refuses what it cannot stamp, and restores the presence of users who did not come
back so that their parted is sent once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from channelstream import operations
from channelstream.delivery.hub import Hub
from channelstream.engine.redis import RedisEngine
from channelstream.errors import Unavailable
from channelstream.model.event import Event
from channelstream.state import State
from tests.engine.conftest import Recorder, engine_settings
from tests.support.memory import connect, listen
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.redis

MakeEngine = Callable[..., RedisEngine]
PRESENCE = {"room": {"notify_presence": True}}


def node(engine: RedisEngine) -> State:
    state = State(settings=engine.settings, engine=engine, hub=Hub())
    engine.start(state.node)
    return state


def flush(server: RedisServer) -> None:
    client = server.client()
    client.flushall()
    client.close()


def test_an_unknown_channel_is_refused_while_the_data_may_be_lost(
    fresh_redis: MakeEngine, redis_server: RedisServer
) -> None:
    engine = fresh_redis(node_ttl=1)
    engine.start(Recorder())
    nowhere = Event({"type": "message"}, channel="nowhere")
    assert engine.publish(nowhere, now=1.0) is None  # 0.7: accepted, reaches nobody
    flush(redis_server)  # no node has noticed yet
    with pytest.raises(Unavailable):
        engine.publish(Event({"type": "message"}, channel="nowhere"), now=1.0)
    with pytest.raises(Unavailable):
        engine.get_users(["ghost"])  # a direct message to a lost user is retried too
    wait_until(lambda: engine.redis.exists(engine.prefix + "recovering"), what="noticed")
    with pytest.raises(Unavailable):  # the recovery window: nodes may still listen
        engine.publish(Event({"type": "message"}, channel="nowhere"), now=1.0)
    engine.ensure_channel("known", None, 1.0)
    assert engine.publish(Event({"type": "message"}, channel="known"), now=1.0) is not None
    wait_until(
        lambda: not engine.redis.exists(engine.prefix + "recovering"), timeout=5, what="window"
    )
    assert engine.publish(Event({"type": "message"}, channel="nowhere"), now=1.0) is None
    assert engine.get_users(["ghost"]) == []


def test_a_flush_under_a_live_subscription_is_noticed_and_resynced(
    fresh_redis: MakeEngine, redis_server: RedisServer
) -> None:
    state = node(fresh_redis(node_ttl=1))
    transport = listen(state, connect(state, "alice", ["chat"]))
    flush(redis_server)
    wait_until(lambda: transport.closed is not None, what="the orphan closed")
    assert transport.closed == (1000, "disconnected")
    engine = state.engine
    assert isinstance(engine, RedisEngine) and engine.bus.outages == 1


def test_presence_is_followed_and_the_lost_get_one_parted(
    fresh_redis: MakeEngine, redis_server: RedisServer
) -> None:
    a, b = node(fresh_redis(node_ttl=1)), node(fresh_redis(node_ttl=1))
    connect(a, "ghost", ["room"], channel_configs=PRESENCE)
    connect(a, "stayer", ["room"], channel_configs=PRESENCE)
    engine_b = b.engine
    assert isinstance(engine_b, RedisEngine)
    wait_until(lambda: engine_b.lifeline.members.get("room") == {"ghost", "stayer"})
    flush(redis_server)
    # The stayer's page comes back at once; the ghost's node died meanwhile.
    watcher = listen(b, connect(b, "stayer", ["room"], channel_configs=PRESENCE))

    def parted() -> bool:
        for state in (a, b):  # the collection passes of both nodes (as their tasks would)
            operations.collect_idle_connections(state)
        return any(
            p["user"] == "ghost" and p["message"]["action"] == "parted"
            for p in watcher.of_type("presence")
        )

    wait_until(parted, timeout=15, what="the ghost's parted", interval=0.2)
    time.sleep(1.5)  # both nodes restored; the second found it done
    parted()
    actions: list[Any] = [(p["user"], p["message"]["action"]) for p in watcher.of_type("presence")]
    assert actions.count(("ghost", "parted")) == 1
    assert ("stayer", "parted") not in actions
    assert all(not conn.conn_id.startswith("lost:") for conn in engine_b.list_connections())
    assert engine_b.channel_users("room") == ["stayer"]


def test_a_fresh_cluster_is_not_a_loss(redis_server: RedisServer) -> None:
    flush(redis_server)
    engine = RedisEngine(engine_settings(redis_server.url, engine="redis", node_ttl=1))
    recorder = Recorder()
    engine.start(recorder)
    try:
        assert engine.lifeline.life and recorder.resubscribed == 0
        assert not engine.redis.exists(engine.prefix + "recovering")
    finally:
        engine.stop()
