"""Every server API endpoint: answer shapes and semantics as PROTOCOL.md states them."""

from __future__ import annotations

import datetime
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.helpers import (
    CORS_METHODS,
    before_text,
    clients,
    name,
    open_ws,
    texts,
    wait_for_text,
)
from tests.support.server import ADMIN_SECRET, ServerProcess

pytestmark = pytest.mark.timeout(30)

CHANNEL_INFO_KEYS = {
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
CONFIG_DEFAULTS = {
    "notify_presence": False,
    "store_history": False,
    "history_size": 10,
    "broadcast_presence_with_user_lists": False,
    "notify_state": False,
    "store_frames": True,
}


def info(server: ServerProcess, **query: Any) -> dict[str, Any]:
    return server.post("/info", {"info": query}) if query else server.post("/info")


def errors(response: requests.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    return body


# -- /connect ------------------------------------------------------------------------
def test_connect_answer_shape(node: ServerProcess) -> None:
    user, b, a = name("user"), name("b"), name("a")
    answer = node.post(
        "/connect",
        {
            "username": user,
            "channels": [b, a],
            "user_state": {"color": "red", "age": 3},
            "state_public_keys": ["color"],
        },
    )
    assert set(answer) >= {
        "conn_id",
        "username",
        "state",
        "public_state",
        "channels",
        "channels_info",
    }
    assert str(uuid.UUID(answer["conn_id"])) == answer["conn_id"]
    assert answer["username"] == user
    assert answer["channels"] == sorted([a, b])
    assert answer["state"] == {"color": "red", "age": 3}
    assert answer["public_state"] == {"color": "red"}
    channels = answer["channels_info"]["channels"]
    assert sorted(channels) == sorted([a, b])
    for channel in (a, b):
        assert set(channels[channel]) >= CHANNEL_INFO_KEYS
        assert channels[channel]["name"] == channel
        assert channels[channel]["users"] == [user]
        assert channels[channel]["total_users"] == 1
        assert channels[channel]["total_connections"] == 1
        assert channels[channel]["settings"] == CONFIG_DEFAULTS
        assert channels[channel]["history"] == []
    assert answer["channels_info"]["users"] == [{"user": user, "state": {"color": "red", "age": 3}}]


def test_connect_given_conn_id_answered_lowercase(node: ServerProcess) -> None:
    conn_id = str(uuid.uuid4())
    answer = node.post("/connect", {"username": name("u"), "conn_id": conn_id.upper()})
    assert answer["conn_id"] == conn_id


def test_fresh_user_state_only_for_new_users_user_state_merges(node: ServerProcess) -> None:
    user = name("state")
    first = node.post(
        "/connect",
        {"username": user, "fresh_user_state": {"a": 1, "b": "x"}, "user_state": {"b": "y"}},
    )
    assert first["state"] == {"a": 1, "b": "y"}
    second = node.post(
        "/connect",
        {
            "username": user,
            "fresh_user_state": {"a": 99, "c": True},
            "user_state": {"d": None, "e": 1.5},
        },
    )
    assert second["state"] == {"a": 1, "b": "y", "d": None, "e": 1.5}


def test_state_public_keys_replaced_on_every_connect(node: ServerProcess) -> None:
    user = name("keys")
    first = node.post(
        "/connect",
        {"username": user, "user_state": {"a": 1, "b": 2}, "state_public_keys": ["a"]},
    )
    assert first["public_state"] == {"a": 1}
    second = node.post("/connect", {"username": user, "state_public_keys": ["b"]})
    assert second["public_state"] == {"b": 2}
    assert second["state"] == {"a": 1, "b": 2}


def test_channel_configs_apply_only_to_created_channels(node: ServerProcess) -> None:
    created, unused = name("cfg"), name("unjoined")
    first = node.post(
        "/connect",
        {
            "username": name("u"),
            "channels": [created],
            "channel_configs": {
                created: {"notify_presence": True, "history_size": 3},
                unused: {"store_history": True},
            },
        },
    )
    settings = first["channels_info"]["channels"][created]["settings"]
    assert settings == {**CONFIG_DEFAULTS, "notify_presence": True, "history_size": 3}
    second = node.post(
        "/connect",
        {
            "username": name("u"),
            "channels": [created],
            "channel_configs": {created: {"history_size": 7, "store_history": True}},
        },
    )
    assert second["channels_info"]["channels"][created]["settings"] == settings
    listed = info(node)["channels"]
    assert created in listed
    assert unused not in listed


def test_second_connect_with_same_conn_id_is_the_same_connection(node: ServerProcess) -> None:
    user, first_channel, second_channel = name("same"), name("c1"), name("c2")
    conn_id = node.connect(user, [first_channel])
    with clients(open_ws(node, conn_id)) as (client,):
        again = node.post(
            "/connect", {"username": user, "conn_id": conn_id, "channels": [second_channel]}
        )
        assert again["conn_id"] == conn_id
        assert again["channels"] == sorted([first_channel, second_channel])
        listed = info(node, channels=[first_channel, second_channel])["channels"]
        assert listed[first_channel]["total_connections"] == 1
        assert listed[second_channel]["total_connections"] == 1
        # The attached socket hears the channel the second /connect added.
        node.publish(second_channel, "sender", {"text": "via second connect"})
        wait_for_text(client, "via second connect")
    admin = node.post("/admin/admin.json")
    mine = [entry for entry in admin["users"] if entry["user"] == user]
    assert len(mine) == 1
    assert mine[0]["connections"] == [conn_id]


def test_connect_with_conn_id_of_another_user_is_refused(node: ServerProcess) -> None:
    conn_id = node.connect(name("owner"))
    response = node.call("POST", "/connect", {"username": name("thief"), "conn_id": conn_id})
    assert "conn_id" in errors(response)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": ""}, "username"),
        ({"username": "x" * 513}, "username"),
        ({"username": 5}, "username"),
        ({"username": "u", "conn_id": "not-a-uuid"}, "conn_id"),
        ({"username": "u", "channels": [""]}, "channels"),
        ({"username": "u", "channels": ["x" * 257]}, "channels"),
        ({"username": "u", "channels": "chan"}, "channels"),
        ({"username": "u", "user_state": {"k": [1, 2]}}, "user_state"),
        ({"username": "u", "user_state": {"k": {"nested": 1}}}, "user_state"),
        ({"username": "u", "channel_configs": {"c": {"history_size": "many"}}}, "channel_configs"),
    ],
)
def test_connect_validation(node: ServerProcess, body: dict[str, Any], field: str) -> None:
    assert field in errors(node.call("POST", "/connect", body))


def test_connect_accepts_limits(node: ServerProcess) -> None:
    answer = node.post("/connect", {"username": "x" * 512, "channels": ["c" * 256]})
    assert answer["channels"] == ["c" * 256]


# -- /subscribe and /unsubscribe -----------------------------------------------------
def test_subscribe_and_unsubscribe(node: ServerProcess) -> None:
    a, b, c, d = sorted(name(x) for x in "abcd")
    user = name("sub")
    conn_id = node.connect(user, [a])
    answer = node.post("/subscribe", {"conn_id": conn_id, "channels": [c, b]})
    assert answer["channels"] == [a, b, c]
    assert answer["subscribed_to"] == [b, c]
    assert sorted(answer["channels_info"]["channels"]) == [a, b, c]
    again = node.post("/subscribe", {"conn_id": conn_id, "channels": [d, b]})
    assert again["subscribed_to"] == [d]
    assert again["channels"] == [a, b, c, d]
    left = node.post("/unsubscribe", {"conn_id": conn_id, "channels": [c, a, name("never")]})
    assert left["unsubscribed_from"] == [a, c]
    assert left["channels"] == [b, d]
    assert sorted(left["channels_info"]["channels"]) == [b, d]
    assert set(left["channels_info"]["channels"][b]) >= CHANNEL_INFO_KEYS


def test_subscribe_with_conn_id_in_query(node: ServerProcess) -> None:
    a, b = name("qa"), name("qb")
    conn_id = node.connect(name("q"))
    answer = node.post(f"/subscribe?conn_id={conn_id}", {"channels": [a, b]})
    assert answer["subscribed_to"] == sorted([a, b])
    left = node.post(f"/unsubscribe?conn_id={conn_id}", {"channels": [a]})
    assert left["unsubscribed_from"] == [a]
    assert left["channels"] == [b]


def test_subscribe_channel_configs_and_delivery(node: ServerProcess) -> None:
    channel, user = name("subcfg"), name("s")
    conn_id = node.connect(user)
    answer = node.post(
        "/subscribe",
        {
            "conn_id": conn_id,
            "channels": [channel],
            "channel_configs": {channel: {"store_history": True, "history_size": 2}},
        },
    )
    settings = answer["channels_info"]["channels"][channel]["settings"]
    assert settings["store_history"] is True
    assert settings["history_size"] == 2
    with clients(open_ws(node, conn_id)) as (client,):
        node.publish(channel, "x", {"text": "after subscribe"})
        wait_for_text(client, "after subscribe")
        node.post("/unsubscribe", {"conn_id": conn_id, "channels": [channel]})
        node.publish(channel, "x", {"text": "after unsubscribe"})
        # A direct message to the user comes after anything the channel could still send.
        node.publish(None, "x", {"text": "sentinel"}, pm_users=[user])
        assert texts(before_text(client, "sentinel")) == ["after subscribe"]
    assert info(node, channels=[channel])["channels"][channel]["users"] == []


def test_subscribe_validation(node: ServerProcess) -> None:
    conn_id = node.connect(name("v"))
    assert "channels" in errors(node.call("POST", "/subscribe", {"conn_id": conn_id}))
    assert "channels" in errors(
        node.call("POST", "/subscribe", {"conn_id": conn_id, "channels": []})
    )
    assert "conn_id" in errors(node.call("POST", "/subscribe", {"channels": ["x"]}))
    assert "conn_id" in errors(
        node.call("POST", "/subscribe", {"conn_id": "nope", "channels": ["x"]})
    )
    unknown = node.call("POST", "/subscribe", {"conn_id": str(uuid.uuid4()), "channels": ["x"]})
    assert 400 <= unknown.status_code < 500
    assert "conn_id" in unknown.json()
    assert "conn_id" in errors(node.call("POST", "/unsubscribe", {"channels": ["x"]}))


# -- /user_state ---------------------------------------------------------------------
def test_user_state(node: ServerProcess) -> None:
    user = name("us")
    node.connect(user, user_state={"a": 1})
    answer = node.post(
        "/user_state",
        {"user": user, "user_state": {"a": 1, "b": "x"}, "state_public_keys": ["b"]},
    )
    assert answer == {
        "user_state": {"a": 1, "b": "x"},
        "changed_state": [{"key": "b", "value": "x"}],
        "public_keys": ["b"],
    }
    kept = node.post("/user_state", {"user": user, "user_state": {"a": 2}})
    assert kept["public_keys"] == ["b"]
    assert kept["changed_state"] == [{"key": "a", "value": 2}]
    kept_null = node.post("/user_state", {"user": user, "state_public_keys": None})
    assert kept_null["public_keys"] == ["b"]
    assert kept_null["changed_state"] == []
    assert kept_null["user_state"] == {"a": 2, "b": "x"}
    cleared = node.post("/user_state", {"user": user, "state_public_keys": []})
    assert cleared["public_keys"] == []
    connected = node.post("/connect", {"username": user, "state_public_keys": ["a"]})
    assert connected["public_state"] == {"a": 2}


def test_user_state_unknown_user_is_422_naming_user(node: ServerProcess) -> None:
    body = errors(node.call("POST", "/user_state", {"user": name("ghost"), "user_state": {}}))
    assert "user" in body
    assert "user" in errors(node.call("POST", "/user_state", {"user_state": {}}))


# -- /message ------------------------------------------------------------------------
def test_message_post_answers_list_with_defaults(node: ServerProcess) -> None:
    channel = name("msg")
    node.connect(name("m"), [channel])
    given_uuid = str(uuid.uuid4())
    answer = node.post(
        "/message",
        [
            {"channel": channel, "user": "alice", "message": {"text": "one"}, "extra": 1},
            {
                "channel": channel,
                "user": "bob",
                "uuid": given_uuid.upper(),
                "timestamp": "2026-01-02T03:04:05+01:00",
                "no_history": True,
            },
        ],
    )
    assert isinstance(answer, list)
    assert len(answer) == 2
    first, second = answer
    assert first["user"] == "alice"
    assert first["channel"] == channel
    assert first["message"] == {"text": "one"}
    assert first["pm_users"] == []
    assert first["exclude_users"] == []
    assert first["no_history"] is False
    assert first["type"] == "message"
    assert first["catchup"] is False
    assert first["edited"] is None
    assert first["uuid"] == str(uuid.UUID(first["uuid"]))
    stamp = datetime.datetime.fromisoformat(first["timestamp"])
    assert stamp.tzinfo is None
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - stamp).total_seconds()) < 60
    assert second["user"] == "bob"
    assert second["uuid"] == given_uuid
    assert second["message"] == {}
    assert second["no_history"] is True
    assert datetime.datetime.fromisoformat(second["timestamp"]) == datetime.datetime(
        2026, 1, 2, 2, 4, 5
    )


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([{"channel": "c", "user": "u"}, {"channel": "c", "user": "u", "uuid": "x"}], "1"),
        ([{"channel": "c"}], "0"),
        ([{"channel": "c", "user": "u", "message": "text"}], "0"),
        ([{"channel": "c", "user": "u", "pm_users": "bob"}], "0"),
        ([{"channel": "c", "user": "u", "timestamp": "yesterday"}], "0"),
        ([{"channel": "", "user": "u"}], "0"),
    ],
)
def test_message_errors_keyed_by_string_index(
    node: ServerProcess, body: list[dict[str, Any]], where: str
) -> None:
    body_errors = errors(node.call("POST", "/message", body))
    assert where in body_errors
    assert isinstance(body_errors[where], dict)
    if where == "1":
        assert "uuid" in body_errors["1"]
        assert "0" not in body_errors


def test_one_bad_item_rejects_the_whole_batch(node: ServerProcess) -> None:
    channel = name("batch")
    conn_id = node.connect(name("b"), [channel])
    with clients(open_ws(node, conn_id)) as (client,):
        response = node.call(
            "POST",
            "/message",
            [
                {"channel": channel, "user": "u", "message": {"text": "good"}},
                {"channel": channel, "user": "u", "uuid": "bad"},
            ],
        )
        assert response.status_code == 422
        node.publish(channel, "u", {"text": "sentinel"})
        assert before_text(client, "sentinel") == []


def test_message_without_channel_or_pm_users_is_dropped(node: ServerProcess) -> None:
    user, channel = name("drop"), name("dropc")
    conn_id = node.connect(user, [channel])
    with clients(open_ws(node, conn_id)) as (client,):
        response = node.call("POST", "/message", [{"user": user, "message": {"text": "lost"}}])
        assert response.status_code == 200
        node.publish(channel, "u", {"text": "sentinel"})
        assert before_text(client, "sentinel") == []


def test_message_to_unknown_channel_reaches_nobody_and_creates_nothing(
    node: ServerProcess,
) -> None:
    channel, missing = name("known"), name("unknown")
    conn_id = node.connect(name("u"), [channel])
    with clients(open_ws(node, conn_id)) as (client,):
        answer = node.post("/message", [{"channel": missing, "user": "u", "message": {"t": 1}}])
        assert answer[0]["channel"] == missing
        node.publish(channel, "u", {"text": "sentinel"})
        assert before_text(client, "sentinel") == []
    assert missing not in info(node)["channels"]


def test_message_body_must_be_a_list(node: ServerProcess) -> None:
    response = node.call("POST", "/message", {"channel": "c", "user": "u"})
    assert 400 <= response.status_code < 500
    assert isinstance(response.json(), dict)


def test_edit_and_delete_update_history(node: ServerProcess) -> None:
    channel = name("edit")
    conn_id = node.post(
        "/connect",
        {
            "username": name("e"),
            "channels": [channel],
            "channel_configs": {channel: {"store_history": True}},
        },
    )["conn_id"]
    with clients(open_ws(node, conn_id)) as (client,):
        keep = node.publish(channel, "author", {"text": "keep"})
        gone = node.publish(channel, "author", {"text": "gone"})
        edits = node.call(
            "PATCH",
            "/message",
            [{"uuid": keep["uuid"], "channel": channel, "message": {"text": "kept, edited"}}],
        )
        assert edits.status_code == 200, edits.text
        edit_answer = edits.json()
        assert isinstance(edit_answer, list)
        assert edit_answer[0]["uuid"] == keep["uuid"]
        assert edit_answer[0]["edited"]
        deleted = node.call("DELETE", "/message", [{"uuid": gone["uuid"], "channel": channel}])
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()[0]["uuid"] == gone["uuid"]
        received = client.messages(4, type_=None)
        types = [item["type"] for item in received if item["type"] != "presence"]
        assert types[:4] == ["message", "message", "message:edit", "message:delete"]
        edit = next(item for item in received if item["type"] == "message:edit")
        assert edit["uuid"] == keep["uuid"]
        assert edit["message"] == {"text": "kept, edited"}
        assert edit["channel"] == channel
        datetime.datetime.fromisoformat(edit["edited"])
        for key in ("pm_users", "exclude_users", "no_history"):
            assert key not in edit
        delete = next(item for item in received if item["type"] == "message:delete")
        assert delete["uuid"] == gone["uuid"]
        assert delete["channel"] == channel
    history = info(node, channels=[channel])["channels"][channel]["history"]
    assert [item["uuid"] for item in history] == [keep["uuid"]]
    assert history[0]["message"] == {"text": "kept, edited"}
    assert history[0]["edited"] is not None
    assert history[0]["user"] == "author"


def test_edit_and_delete_validation(node: ServerProcess) -> None:
    assert "uuid" in errors(node.call("PATCH", "/message", [{"channel": "c"}]))["0"]
    assert "uuid" in errors(node.call("DELETE", "/message", [{"channel": "c"}]))["0"]
    assert "1" in errors(
        node.call(
            "PATCH",
            "/message",
            [{"uuid": str(uuid.uuid4()), "channel": "c"}, {"uuid": "bad", "channel": "c"}],
        )
    )
    wrong = node.call("DELETE", "/message", {"uuid": str(uuid.uuid4())})
    assert 400 <= wrong.status_code < 500


# -- /channel_config -----------------------------------------------------------------
def test_channel_config(node: ServerProcess) -> None:
    channel = name("cc")
    answer = node.post("/channel_config", {channel: {"notify_presence": True, "history_size": 5}})
    assert set(answer) == {"channels", "users"}
    assert answer["users"] == []
    assert answer["channels"][channel]["settings"] == {
        **CONFIG_DEFAULTS,
        "notify_presence": True,
        "history_size": 5,
    }
    changed = node.post("/channel_config", {channel: {"store_history": True}})
    assert changed["channels"][channel]["settings"] == {
        **CONFIG_DEFAULTS,
        "notify_presence": True,
        "history_size": 5,
        "store_history": True,
    }
    joined = node.post("/connect", {"username": name("u"), "channels": [channel]})
    assert joined["channels_info"]["channels"][channel]["settings"]["history_size"] == 5
    assert "history_size" in str(
        errors(node.call("POST", "/channel_config", {channel: {"history_size": "x"}}))
    )


# -- /info ---------------------------------------------------------------------------
def test_info_get_post_and_filters(node: ServerProcess) -> None:
    one, two = name("i1"), name("i2")
    user = name("iu")
    node.post(
        "/connect",
        {
            "username": user,
            "channels": [one, two],
            "user_state": {"pub": 1, "priv": 2},
            "state_public_keys": ["pub"],
            "channel_configs": {one: {"store_history": True}},
        },
    )
    node.publish(one, user, {"text": "in history"})
    got = node.call("GET", "/info")
    assert got.status_code == 200
    posted = node.call("POST", "/info")
    assert posted.status_code == 200
    for body in (got.json(), posted.json()):
        assert set(body) == {"channels", "users"}
        assert {one, two} <= set(body["channels"])
        assert set(body["channels"][one]) >= CHANNEL_INFO_KEYS
        assert [item["message"] for item in body["channels"][one]["history"]] == [
            {"text": "in history"}
        ]
        mine = [item for item in body["users"] if item["user"] == user]
        assert mine == [{"user": user, "state": {"pub": 1, "priv": 2}}]
    only = info(node, channels=[one])
    assert list(only["channels"]) == [one]
    assert only["users"] == [{"user": user, "state": {"pub": 1, "priv": 2}}]
    bare = info(node, channels=[one, two], include_history=False, include_users=False)
    assert bare["channels"][one]["history"] == []
    assert bare["channels"][one]["users"] == []
    excluded = info(node, channels=[one, two], exclude_channels=[two])
    assert list(excluded["channels"]) == [one]
    public = info(node, channels=[one], return_public_state=True)
    assert public["users"] == [{"user": user, "state": {"pub": 1}}]
    assert "info" in errors(node.call("POST", "/info", {"info": {"channels": "x"}}))


def test_info_rejects_wrong_types(node: ServerProcess) -> None:
    bodies: list[Any] = [[1], "text", {"info": []}, {"info": {"include_history": "maybe"}}]
    for body in bodies:
        response = node.call("POST", "/info", body)
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert isinstance(response.json(), dict)


# -- admin ---------------------------------------------------------------------------
def test_admin_json_with_api_signature(node: ServerProcess) -> None:
    channel, user = name("adm"), name("admu")
    conn_id = node.connect(user, [channel])
    for method in ("GET", "POST"):
        response = node.call(method, "/admin/admin.json", allow_redirects=False)
        assert response.status_code == 200, response.text
        body = response.json()
        for key in ("channels", "users", "version"):
            assert key in body
        assert any(key.startswith("total") for key in body)
        assert any(key.startswith("uptime") for key in body)
        assert channel in body["channels"]
        assert [u.get("connections") for u in body["users"] if u["user"] == user] == [[conn_id]]


def test_admin_unauthenticated_redirects_to_sign_in(node: ServerProcess) -> None:
    for path in ("/admin", "/admin/admin.json", "/admin/anything/else"):
        response = requests.get(node.url + path, allow_redirects=False, timeout=10)
        assert response.status_code == 302, (path, response.status_code)
        assert response.headers["Location"].endswith("/admin/sign_in")
    bad = requests.get(
        node.url + "/admin/admin.json",
        headers={"x-channelstream-secret": "garbage"},
        allow_redirects=False,
        timeout=10,
    )
    assert bad.status_code in (302, 401)
    form = requests.get(node.url + "/admin/sign_in", timeout=10)
    assert form.status_code == 200
    assert 'name="username"' in form.text
    assert 'name="password"' in form.text


def test_admin_cookie_sign_in(node: ServerProcess) -> None:
    session = requests.Session()
    wrong = session.post(
        node.url + "/admin/sign_in",
        data={"username": "admin", "password": "wrong"},
        allow_redirects=False,
        timeout=10,
    )
    assert wrong.status_code != 302
    still_out = session.get(node.url + "/admin/admin.json", allow_redirects=False, timeout=10)
    assert still_out.status_code == 302
    signed_in = session.post(
        node.url + "/admin/sign_in",
        data={"username": "admin", "password": ADMIN_SECRET},
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302
    assert session.cookies
    answer = session.get(node.url + "/admin/admin.json", allow_redirects=False, timeout=10)
    assert answer.status_code == 200
    assert "channels" in answer.json()
    page = session.get(node.url + "/admin", allow_redirects=False, timeout=10)
    assert page.status_code == 200
    forged = requests.get(
        node.url + "/admin/admin.json",
        cookies={name_: "admin.forged.value" for name_ in session.cookies.keys()},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 302


# -- CORS ----------------------------------------------------------------------------
def assert_cors(response: requests.Response) -> None:
    headers = response.headers
    where = (response.request.method, response.url, response.status_code)
    assert headers.get("Access-Control-Allow-Origin") == "*", where
    assert headers.get("Access-Control-Allow-Methods") == CORS_METHODS, where
    assert headers.get("Access-Control-Max-Age") == "86400", where


def test_cors_headers_on_every_response(node: ServerProcess) -> None:
    user = name("cors")
    conn_id = node.connect(user)
    # Something queued, so that the /listen below answers at once.
    node.publish(None, "x", {"text": "queued"}, pm_users=[user])
    responses = [
        node.call("POST", "/connect", {"username": "c"}),
        node.call("POST", "/connect", {}),
        node.call("GET", "/info"),
        node.call("POST", "/message", "not json at all"),
        requests.post(node.url + "/info", timeout=10),
        requests.post(node.url + "/info", headers={"x-channelstream-secret": "x"}, timeout=10),
        requests.get(node.url + "/listen", timeout=10),
        requests.get(node.url + "/listen", params={"conn_id": conn_id}, timeout=10),
        requests.get(node.url + "/ws", params={"conn_id": conn_id}, timeout=10),
        requests.get(node.url + "/disconnect", params={"conn_id": str(uuid.uuid4())}, timeout=10),
        requests.get(node.url + "/health", timeout=10),
    ]
    for response in responses:
        assert_cors(response)


def test_options_on_any_path_is_200(node: ServerProcess) -> None:
    for path in ("/connect", "/message", "/ws", "/listen", "/no/such/path", "/"):
        response = requests.options(
            node.url + path,
            headers={
                "Origin": "http://example.com",
                "Access-Control-Request-Method": "POST",
            },
            timeout=10,
        )
        assert response.status_code == 200, (path, response.status_code)
        assert_cors(response)


def test_health(node: ServerProcess) -> None:
    response = requests.get(node.url + "/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_history_size_is_capped_by_max_history_size(node: ServerProcess) -> None:
    channel = name("cap")
    answer = node.post("/channel_config", {channel: {"history_size": 5000}})
    # The default max_history_size is 1000.
    assert answer["channels"][channel]["settings"]["history_size"] == 1000


def test_admin_sign_out(node: ServerProcess) -> None:
    session = requests.Session()
    session.post(
        node.url + "/admin/sign_in",
        data={"username": "admin", "password": ADMIN_SECRET},
        allow_redirects=False,
        timeout=10,
    )
    assert session.get(node.url + "/admin/admin.json", timeout=10).status_code == 200
    out = session.get(node.url + "/admin/sign_out", allow_redirects=False, timeout=10)
    assert out.status_code == 302
    after = session.get(node.url + "/admin/admin.json", allow_redirects=False, timeout=10)
    assert after.status_code == 302
    assert after.headers["Location"].endswith("/admin/sign_in")


def test_subscribe_channel_configs_only_for_created_channels(node: ServerProcess) -> None:
    existing, fresh = name("existing"), name("fresh")
    node.connect(name("first"), [existing])
    conn_id = node.connect(name("second"))
    answer = node.post(
        "/subscribe",
        {
            "conn_id": conn_id,
            "channels": [existing, fresh],
            "channel_configs": {
                existing: {"notify_presence": True},
                fresh: {"notify_presence": True},
            },
        },
    )
    channels = answer["channels_info"]["channels"]
    assert channels[existing]["settings"]["notify_presence"] is False
    assert channels[fresh]["settings"]["notify_presence"] is True


def test_connect_info_filters_channels_info(node: ServerProcess) -> None:
    one, two = name("ci1"), name("ci2")
    node.post(
        "/connect",
        {
            "username": name("u"),
            "channels": [one],
            "channel_configs": {one: {"store_history": True}},
        },
    )
    node.publish(one, "u", {"text": "kept"})
    answer = node.post(
        "/connect",
        {
            "username": name("v"),
            "channels": [one, two],
            "info": {"exclude_channels": [two], "include_history": False},
        },
    )
    assert answer["channels"] == sorted([one, two])
    assert list(answer["channels_info"]["channels"]) == [one]
    assert answer["channels_info"]["channels"][one]["history"] == []


def test_concurrent_calls_get_their_own_answers(node: ServerProcess) -> None:
    """Validation and answers never leak between concurrent requests."""
    channel = name("conc")
    node.connect(name("conc"), [channel])

    def call(number: int) -> None:
        good_uuid = str(uuid.uuid4())
        if number % 2:
            bad_index = number % 5
            body: list[dict[str, Any]] = [
                {"channel": channel, "user": f"u{number}", "uuid": str(uuid.uuid4())}
                for _ in range(5)
            ]
            body[bad_index]["uuid"] = f"bad-{number}"
            response = node.call("POST", "/message", body)
            assert response.status_code == 422
            assert list(response.json()) == [str(bad_index)]
        else:
            body = [{"channel": channel, "user": f"u{number}", "uuid": good_uuid}]
            answer = node.post("/message", body)
            assert [(item["uuid"], item["user"]) for item in answer] == [(good_uuid, f"u{number}")]
            connect = node.call("POST", "/connect", {"username": "", "n": number})
            assert list(connect.json()) == ["username"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        for result in [pool.submit(call, number) for number in range(80)]:
            result.result()
