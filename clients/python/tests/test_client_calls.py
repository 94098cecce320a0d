"""Every call of Client and AsyncClient against a real channelstream server process, and
every error shape it answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from channelstream_client import APIError
from client_flavours import Factory
from client_support import NEW_KEY, OLD_KEY, ROTATING_SECRET, unique
from tests.support.clients import WSClient
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(60)


def test_every_call_does_what_it_says(make_client: Factory, channelstream: ServerProcess) -> None:
    client = make_client(channelstream.url, ROTATING_SECRET)
    user, channel, other = unique("alice"), unique("room"), unique("side")

    connected = client.connect(
        user,
        [channel],
        channel_configs={channel: {"store_history": True, "notify_presence": True}},
        fresh_user_state={"mood": "new"},
        user_state={"typing": False},
        state_public_keys=["typing"],
        info={"include_history": True, "include_users": True},
    )
    conn_id = connected["conn_id"]
    assert uuid.UUID(conn_id)
    assert connected["username"] == user and connected["channels"] == [channel]
    assert connected["state"] == {"mood": "new", "typing": False}
    assert connected["public_state"] == {"typing": False}
    assert connected["channels_info"]["channels"][channel]["settings"]["store_history"] is True
    browser = WSClient(channelstream.ws_url, conn_id)
    try:
        subscribed = client.subscribe(conn_id, [other], channel_configs={other: {}})
        assert subscribed["subscribed_to"] == [other]
        assert subscribed["channels"] == sorted([channel, other])
        left = client.unsubscribe(conn_id, [other])
        assert left["unsubscribed_from"] == [other] and left["channels"] == [channel]

        changed = client.user_state(user, {"typing": True}, state_public_keys=["typing", "mood"])
        assert changed["user_state"] == {"mood": "new", "typing": True}
        assert changed["changed_state"] == [{"key": "typing", "value": True}]
        assert sorted(changed["public_keys"]) == ["mood", "typing"]

        configured = client.channel_config({channel: {"history_size": 5}})
        assert configured["channels"][channel]["settings"]["history_size"] == 5

        one = client.publish({"channel": channel, "user": user, "message": {"text": "one"}})
        assert uuid.UUID(one["uuid"]) and one["channel"] == channel
        mine = str(uuid.uuid4())
        many = client.publish(
            [
                {"channel": channel, "user": user, "message": {"text": "two"}, "uuid": mine},
                {"pm_users": [user], "user": "system", "message": {"text": "direct"}},
            ]
        )
        assert len(many) == 2 and many[0]["uuid"] == mine
        received = browser.read_until(
            lambda: (
                {m.get("message", {}).get("text") for m in browser.received}
                >= {"one", "two", "direct"}
            ),
            what="the three messages",
        )
        assert received

        edited = client.edit({"uuid": one["uuid"], "channel": channel, "message": {"text": "1"}})
        assert edited["message"] == {"text": "1"}
        deleted = client.delete([{"uuid": mine, "channel": channel}])
        assert [(item["uuid"], item["channel"]) for item in deleted] == [(mine, channel)]

        info = client.info([channel], include_history=True, return_public_state=True)
        history = info["channels"][channel]["history"]
        assert [item["message"] for item in history] == [{"text": "1"}]
        assert {"user": user, "state": {"typing": True, "mood": "new"}} in info["users"]
        everything = client.info()
        assert channel in everything["channels"]

        admin = client.admin_info()
        assert admin["version"] and admin["total_connections"] >= 1
        assert any(entry["user"] == user for entry in admin["users"])

        assert client.disconnect(conn_id) is True
        assert client.disconnect(str(uuid.uuid4())) is False
    finally:
        browser.close()


def test_a_retried_connect_names_the_same_connection(
    make_client: Factory, channelstream: ServerProcess
) -> None:
    """The client picks the conn_id, so sending the same connect twice is harmless."""
    client = make_client(channelstream.url, NEW_KEY)
    conn_id = str(uuid.uuid4())
    first = client.connect(unique("twice"), conn_id=conn_id)
    second = client.connect(first["username"], conn_id=conn_id)
    assert first["conn_id"] == second["conn_id"] == conn_id


# -- signatures ---------------------------------------------------------------------
def test_old_and_new_keys_both_work_during_a_rotation(
    make_client: Factory, channelstream: ServerProcess
) -> None:
    for key in (NEW_KEY, OLD_KEY, ROTATING_SECRET):
        assert "channels" in make_client(channelstream.url, key).info([])


def test_the_client_signs_with_the_first_key(make_client: Factory, strict: ServerProcess) -> None:
    """`strict` knows only the new key: the whole rotating value works when the new key
    comes first, and fails when the old one does."""
    assert "channels" in make_client(strict.url, f"{NEW_KEY} {OLD_KEY}").info([])
    with pytest.raises(APIError) as refused:
        make_client(strict.url, f"{OLD_KEY} {NEW_KEY}").info([])
    assert refused.value.status == 401


def test_the_0_7_signature_switch(
    make_client: Factory, channelstream: ServerProcess, strict: ServerProcess
) -> None:
    legacy = make_client(channelstream.url, OLD_KEY, legacy_signature=True)
    assert legacy.publish({"channel": unique("c"), "user": "u", "message": {}})["uuid"]
    with pytest.raises(APIError) as refused:
        make_client(strict.url, NEW_KEY, legacy_signature=True).info([])
    assert refused.value.status == 401
    assert "legacy_signatures" in refused.value.errors["request"]


# -- every error shape --------------------------------------------------------------
def test_a_wrong_secret_is_401_bad_signature(
    make_client: Factory, channelstream: ServerProcess
) -> None:
    with pytest.raises(APIError) as refused:
        make_client(channelstream.url, "not-the-secret").connect(unique("x"))
    assert refused.value.status == 401
    assert refused.value.errors == {"request": "Bad Signature"}
    assert "401" in str(refused.value) and "/connect" in str(refused.value)


def test_admin_info_refused_is_an_error_not_a_redirect(
    make_client: Factory, channelstream: ServerProcess
) -> None:
    """admin.json sends callers it does not accept to the sign-in form."""
    with pytest.raises(APIError) as refused:
        make_client(channelstream.url, "not-the-secret").admin_info()
    assert refused.value.status == 302
    assert "sign_in" in refused.value.errors["request"]


def test_an_address_not_allowed_is_403(make_client: Factory, fenced: ServerProcess) -> None:
    with pytest.raises(APIError) as refused:
        make_client(fenced.url, NEW_KEY).info()
    assert refused.value.status == 403
    assert "not allowed" in refused.value.errors["request"]


def test_validation_errors_are_422_with_the_fields(
    make_client: Factory, channelstream: ServerProcess
) -> None:
    client = make_client(channelstream.url, NEW_KEY)
    with pytest.raises(APIError) as unknown:
        client.subscribe(str(uuid.uuid4()), [unique("c")])
    assert unknown.value.status == 422 and "conn_id" in unknown.value.errors
    with pytest.raises(APIError) as bad_item:
        client.publish(
            [
                {"channel": "c", "user": "u", "message": {}},
                {"channel": "c", "user": "u", "message": {}, "uuid": "nope"},
            ]
        )
    assert bad_item.value.status == 422
    assert set(bad_item.value.errors) == {"1"} and "uuid" in bad_item.value.errors["1"]
    with pytest.raises(APIError) as bad_config:
        client.channel_config({"c": {"history_size": "lots"}})
    assert bad_config.value.status == 422 and "history_size" in bad_config.value.errors["c"]


def test_a_body_over_the_limit_is_413(make_client: Factory, channelstream: ServerProcess) -> None:
    client = make_client(channelstream.url, NEW_KEY)
    with pytest.raises(APIError) as refused:
        client.publish({"channel": "c", "user": "u", "message": {"blob": "x" * (1024 * 1024 + 1)}})
    assert refused.value.status == 413 and "body" in refused.value.errors


def test_messages_without_a_destination_are_refused_before_sending(
    make_client: Factory, channelstream: ServerProcess
) -> None:
    client = make_client(channelstream.url, NEW_KEY)
    with pytest.raises(ValueError, match="channel or pm_users"):
        client.publish({"user": "u", "message": {}})
    with pytest.raises(ValueError, match="uuid"):
        client.edit({"channel": "c", "user": "u", "message": {}})
    with pytest.raises(TypeError):
        client.publish("not a message")


@pytest.fixture
def redis_node(tmp_path: Path) -> Iterator[tuple[RedisServer, str]]:
    """A node on the Redis engine, with its own redis-server (each test kills it)."""
    redis = RedisServer().start()
    log = tmp_path / "node.log"
    settings = {"secret": NEW_KEY, "engine": "redis", "redis_url": redis.url}
    try:
        with ServerProcess(settings=settings, log_path=log) as node:
            yield redis, node.url
    finally:
        redis.stop()


def test_a_server_without_its_engine_is_503_after_the_retries(
    make_client: Factory, redis_node: tuple[RedisServer, str]
) -> None:
    from channelstream_client import RetryPolicy

    redis, url = redis_node
    client = make_client(url, NEW_KEY, retry=RetryPolicy(retries=1, max_backoff=0.05))
    assert client.publish({"channel": "c", "user": "u", "message": {}})["uuid"]
    redis.kill()
    with pytest.raises(APIError) as unavailable:
        client.publish({"channel": "c", "user": "u", "message": {}})
    assert unavailable.value.status == 503
    assert unavailable.value.errors == {"request": "Service unavailable, try again"}
