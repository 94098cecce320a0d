"""Clients from URLs, without a server: what each URL names, and no password in logs."""

from __future__ import annotations

import pytest

from channelstream.engine.redis import scripts
from channelstream.engine.redis.client import SCRIPT_NAMES, make_client, safe_url


def test_plain_urls_are_redis_pys_own() -> None:
    client = make_client("redis://:pw@10.0.0.5:6380/3")
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "10.0.0.5",
        6380,
        3,
        "pw",
    )


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database() -> None:
    client = make_client(
        "redis+sentinel://user:p%40ss@s1:26380,[::1],s3/my%20service/2", socket_timeout=1
    )
    pool = client.connection_pool
    assert pool.service_name == "my service"
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "p@ss"
    assert pool.connection_kwargs["username"] == "user"
    sentinels = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in pool.sentinel_manager.sentinels
    ]
    assert sentinels == [("s1", 26380), ("::1", 26379), ("s3", 26379)]


def test_a_sentinel_url_without_a_service_is_refused() -> None:
    with pytest.raises(ValueError, match="names the service"):
        make_client("redis+sentinel://s1:26379/")


def test_logs_never_show_the_password() -> None:
    assert safe_url("redis://:hunter2@host:6379/0") == "redis://***@host:6379/0"
    assert safe_url("redis://host:6379/0") == "redis://host:6379/0"


def test_every_script_is_registered() -> None:
    assert "PUBLISH" in SCRIPT_NAMES and "_SNAPSHOT" not in SCRIPT_NAMES
    assert all(isinstance(getattr(scripts, name), str) for name in SCRIPT_NAMES)
