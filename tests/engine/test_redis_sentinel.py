"""`redis+sentinel://` URLs: the engine follows the master through a failover."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from channelstream.engine.redis import RedisEngine
from channelstream.engine.redis.client import make_client
from tests.engine.conftest import engine_settings
from tests.engine.test_redis_engine import node, say
from tests.support.memory import connect, listen
from tests.support.redis_server import RedisServer, SentinelServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.redis


@pytest.mark.timeout(60)
def test_the_engine_follows_a_sentinel_failover() -> None:
    master = RedisServer(extra=["--repl-diskless-sync-delay", "0"]).start()
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(master.port)]).start()
    sentinel = SentinelServer(master.port)
    sentinel.start()
    engines: list[RedisEngine] = []
    try:
        wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up")
        settings = engine_settings(sentinel.url, engine="redis")
        a = node(RedisEngine(settings))
        b = node(RedisEngine(settings))
        engines += [a.engine, b.engine]  # type: ignore[list-item]
        assert a.engine.health()["ok"] is True
        recorder = listen(a, connect(a, "alice", ["chat"], state_public_keys=None))
        say(b, "chat", 1)
        wait_until(lambda: len(recorder.of_type("message")) == 1)
        wait_until(lambda: replica.client().dbsize() > 0, what="replicated")
        time.sleep(0.2)
        master.kill()
        wait_until(lambda: sentinel.master() == ("127.0.0.1", replica.port), timeout=20)

        def published() -> Any:
            try:
                say(b, "chat", 2)
                return True
            except (redis.exceptions.ConnectionError, redis.exceptions.ReadOnlyError):
                return False

        wait_until(published, timeout=15, what="a write after the failover")
        wait_until(lambda: len(recorder.of_type("message")) == 2, timeout=10, what="delivery")
        assert [m["message"]["n"] for m in recorder.of_type("message")] == [1, 2]
        assert [m["offset"] for m in recorder.of_type("message")] == [1, 2]
        wait_until(lambda: a.engine.health()["ok"], what="health back")
        assert recorder.closed is None
    finally:
        for engine in engines:
            engine.stop()
        sentinel.close()
        replica.close()
        master.close()


def test_sentinel_urls_name_the_sentinels_service_db_and_password() -> None:
    client = make_client(
        "redis+sentinel://:s%40cret@10.0.0.1:26380,10.0.0.2,[::1]:26381/my-master/3",
        socket_connect_timeout=1,
    )
    pool = client.connection_pool
    assert pool.service_name == "my-master"  # type: ignore[attr-defined]
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["password"] == "s@cret"
    sentinels = pool.sentinel_manager.sentinels  # type: ignore[attr-defined]
    assert [s.connection_pool.connection_kwargs["host"] for s in sentinels] == [
        "10.0.0.1",
        "10.0.0.2",
        "::1",
    ]
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [
        26380,
        26379,
        26381,
    ]
    plain = make_client("redis://127.0.0.1:6390/2")
    assert plain.connection_pool.connection_kwargs["db"] == 2
