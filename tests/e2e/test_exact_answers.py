"""The answers 0.7 backends and tools compare, to the letter (docs/protocol.md, "Exact
answers"). Each expected body below is what Channelstream 0.7.1 itself answered (recorded
against 0.7.1 running its own `channelstream -i` entry point); where 0.7.1 crashed with a 500
the expected body is ours, and says so. Every test compares the whole answer."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.helpers import clients, name, open_ws, wait_for_text
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(30)

UNKNOWN_ID = "4d3f3c1e-0000-4000-8000-000000000001"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
INVALID_TYPE = {"_schema": ["Invalid input type."]}
MISSING = ["Missing data for required field."]
NULL = ["Field may not be null."]
NOT_UUID = ["Not a valid UUID."]


def answer(response: requests.Response) -> tuple[int, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    return response.status_code, response.json()


def raw(node: ServerProcess, method: str, path: str, body: bytes, **kwargs: Any) -> Any:
    headers = {**node.headers(), "Content-Type": "application/json"}
    return answer(
        requests.request(method, node.url + path, data=body, headers=headers, timeout=10, **kwargs)
    )


def signed(node: ServerProcess, method: str, path: str, body: Any) -> tuple[int, Any]:
    return answer(node.call(method, path, body))


# -- error texts -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/subscribe", "/unsubscribe"])
def test_an_unknown_conn_id_is_an_unknown_connection(node: ServerProcess, path: str) -> None:
    body = {"conn_id": UNKNOWN_ID, "channels": ["x"]}
    assert signed(node, "POST", path, body) == (422, {"conn_id": ["Unknown connection"]})


@pytest.mark.parametrize("path", ["/subscribe", "/unsubscribe"])
def test_subscribe_without_any_conn_id(node: ServerProcess, path: str) -> None:
    # 0.7.1 took the query string's conn_id, found none, and validated null.
    assert signed(node, "POST", path, {"channels": ["x"]}) == (422, {"conn_id": NULL})


def test_subscribe_with_a_malformed_conn_id(node: ServerProcess) -> None:
    body = {"conn_id": "nope", "channels": ["x"]}
    assert signed(node, "POST", "/subscribe", body) == (422, {"conn_id": NOT_UUID})


def test_an_unknown_user_has_no_state(node: ServerProcess) -> None:
    body = {"user": name("nobody"), "user_state": {}}
    assert signed(node, "POST", "/user_state", body) == (422, {"user": ["Unknown user"]})


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/connect", {}, {"username": MISSING}),
        ("POST", "/user_state", {"user_state": {}}, {"user": MISSING}),
        ("POST", "/message", [{"channel": "c", "message": {}}], {"0": {"user": MISSING}}),
        ("PATCH", "/message", [{}], {"0": {"uuid": MISSING}}),
        ("DELETE", "/message", [{}], {"0": {"uuid": MISSING}}),
        ("POST", "/connect", {"username": "u", "conn_id": "bad"}, {"conn_id": NOT_UUID}),
        (
            "POST",
            "/message",
            [{"channel": "c", "user": "u", "uuid": "bad", "message": {}}],
            {"0": {"uuid": NOT_UUID}},
        ),
        (
            "POST",
            "/connect",
            {"username": "u", "user_state": {"a": [1]}},
            {
                "user_state": {
                    "a": {"value": ["Value is not type of string, integer, boolean or float."]}
                }
            },
        ),
    ],
)
def test_field_errors(
    node: ServerProcess, method: str, path: str, body: Any, expected: dict[str, Any]
) -> None:
    assert signed(node, method, path, body) == (422, expected)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        # 0.7.1's own answers:
        ("POST", "/message", b"{}"),
        ("POST", "/message", b'"x"'),
        ("PATCH", "/message", b"{}"),
        ("DELETE", "/message", b"{}"),
        ("POST", "/connect", b"[]"),
        # 0.7.1 answered these with a 500; a JSON body of the wrong type is refused the same
        # way on every call:
        ("POST", "/message", b"null"),
        ("POST", "/connect", b"null"),
        ("POST", "/subscribe", b"null"),
        ("POST", "/unsubscribe", b"[]"),
        ("POST", "/user_state", b"null"),
        ("POST", "/channel_config", b"null"),
        ("POST", "/channel_config", b"[]"),
        ("POST", "/info", b"null"),
        ("POST", "/info", b"[]"),
        ("POST", "/disconnect", b"null"),
    ],
)
def test_a_body_of_the_wrong_json_type(
    node: ServerProcess, method: str, path: str, body: bytes
) -> None:
    assert raw(node, method, path, body) == (422, INVALID_TYPE)


# -- /disconnect and /listen -------------------------------------------------------------
def test_disconnect_answers(node: ServerProcess) -> None:
    url = node.url + "/disconnect"

    def get(**params: str) -> tuple[int, Any]:
        return answer(requests.get(url, params=params, timeout=10))

    def post(body: Any) -> tuple[int, Any]:
        return answer(requests.post(url, json=body, timeout=10))

    assert get() == (422, {"conn_id": NULL})
    assert get(conn_id="bad") == (422, {"conn_id": NOT_UUID})
    assert get(conn_id=UNKNOWN_ID) == (200, False)
    assert post({}) == (422, {"conn_id": NULL})
    assert post({"conn_id": "bad"}) == (422, {"conn_id": NOT_UUID})
    assert post({"conn_id": UNKNOWN_ID}) == (200, False)
    assert get(conn_id=node.connect(name("leaving"))) == (200, True)


def test_listen_answers(node: ServerProcess) -> None:
    url = node.url + "/listen"

    def get(**params: str) -> tuple[int, Any]:
        return answer(requests.get(url, params=params, timeout=10))

    assert get(conn_id=UNKNOWN_ID) == (401, {"conn_id": ["Unknown connection"]})
    assert get(conn_id="bad") == (422, {"conn_id": NOT_UUID})
    # 0.7.1 answered a missing conn_id with a 500.
    assert get() == (422, {"conn_id": MISSING})


# -- whole answers -----------------------------------------------------------------------
def channel_info(info: dict[str, Any], channel: str, users: list[str]) -> dict[str, Any]:
    """The whole channel info we expect, its generated values checked for their format."""
    assert UUID.match(info["uuid"]) and TIMESTAMP.match(info["last_active"]), info
    return {
        "uuid": info["uuid"],
        "name": channel,
        "long_name": None,
        "settings": {
            "notify_presence": False,
            "store_history": False,
            "history_size": 10,
            "broadcast_presence_with_user_lists": False,
            "notify_state": False,
            "store_frames": True,
        },
        "history": [],
        "last_active": info["last_active"],
        "total_connections": len(users),
        "total_users": len(users),
        "users": users,
        # Beyond 0.7 (docs/wire-extensions.md): where the channel's stream stands.
        "epoch": info["epoch"],
        "offset": 0,
    }


def test_connect_answer_and_long_name_null(node: ServerProcess) -> None:
    user, channel = name("whole"), name("wholec")
    conn_id = str(uuid.uuid4())
    status, body = signed(
        node,
        "POST",
        "/connect",
        {
            "username": user,
            "conn_id": conn_id,
            "channels": [channel],
            "user_state": {"a": 1, "b": "x"},
            "state_public_keys": ["a"],
        },
    )
    assert status == 200
    info = body["channels_info"]["channels"][channel]
    assert body == {
        "conn_id": conn_id,
        "username": user,
        "state": {"a": 1, "b": "x"},
        "public_state": {"a": 1},
        "channels": [channel],
        "channels_info": {
            "channels": {channel: channel_info(info, channel, [user])},
            "users": [{"user": user, "state": {"a": 1, "b": "x"}}],
        },
    }


def test_info_without_a_body_or_with_an_empty_object(node: ServerProcess) -> None:
    user, channel = name("infou"), name("infoc")
    node.connect(user, [channel])
    for call in (
        lambda: node.call("POST", "/info"),
        lambda: node.call("GET", "/info"),
        lambda: node.call("POST", "/info", {}),
    ):
        status, body = answer(call())
        assert status == 200
        info = body["channels"][channel]
        assert info == channel_info(info, channel, [user])
        assert {"user": user, "state": {}} in body["users"]


def test_message_answer_lists_only_the_accepted_messages(node: ServerProcess) -> None:
    channel = name("acc")
    node.connect(name("acc-listener"), [channel])
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    stamp = "2020-01-01T00:00:00"
    status, body = signed(
        node,
        "POST",
        "/message",
        [
            {"user": "u", "message": {"t": 1}, "uuid": first, "timestamp": stamp},
            {"user": "u", "channel": channel, "message": {"t": 2}, "uuid": second},
            {
                "user": "u",
                "pm_users": ["x"],
                "message": {"t": 3},
                "uuid": third,
                "timestamp": stamp,
            },
        ],
    )
    assert status == 200
    assert TIMESTAMP.match(body[0]["timestamp"])
    delivery = {"catchup": False, "edited": None, "type": "message", "no_history": False}
    assert body == [
        {
            **delivery,
            "uuid": second,
            "user": "u",
            "channel": channel,
            "pm_users": [],
            "exclude_users": [],
            "message": {"t": 2},
            "timestamp": body[0]["timestamp"],
            "epoch": body[0]["epoch"],
            "offset": 1,
        },
        {
            **delivery,
            "uuid": third,
            "user": "u",
            "channel": None,
            "pm_users": ["x"],
            "exclude_users": [],
            "message": {"t": 3},
            "timestamp": stamp,
        },
    ]


def test_admin_json_lists_users_with_their_uuid(node: ServerProcess) -> None:
    alice, bob = name("adm-alice"), name("adm-bob")
    first = node.connect(alice, [name("admc")], user_state={"k": 1}, state_public_keys=["k"])
    # (0.7 replaces the public keys on every connect.)
    second = node.connect(alice, state_public_keys=["k"])
    third = node.connect(bob)

    def users() -> dict[str, dict[str, Any]]:
        body = node.post("/admin/admin.json")
        return {item["user"]: item for item in body["users"] if item["user"] in (alice, bob)}

    listed = users()
    uuids = {user: item["uuid"] for user, item in listed.items()}
    assert all(UUID.match(value) for value in uuids.values()) and len(set(uuids.values())) == 2
    assert listed == {
        alice: {
            "user": alice,
            "state": {"k": 1},
            "uuid": uuids[alice],
            "connections": sorted([first, second]),
        },
        bob: {"user": bob, "state": {}, "uuid": uuids[bob], "connections": [third]},
    }
    # Stable while the user is known.
    node.post("/user_state", {"user": alice, "user_state": {"k": 2}})
    assert {user: item["uuid"] for user, item in users().items()} == uuids


def test_admin_json_counts_deliveries_of_published_messages(node: ServerProcess) -> None:
    """0.7.1's total_messages: every published message counted once per connection it is
    addressed to; presence, state changes, edits and deletes are not messages."""
    channel = name("count")
    configs = {channel: {"notify_presence": True, "notify_state": True}}
    alice, bob, carol = name("c-alice"), name("c-bob"), name("c-carol")

    def join(user: str) -> str:
        return node.connect(user, [channel], channel_configs=configs, state_public_keys=["k"])

    a1, a2, b1, c1 = join(alice), join(alice), join(bob), join(carol)
    with clients(open_ws(node, a1), open_ws(node, a2), open_ws(node, b1)) as sockets:
        before = node.post("/admin/admin.json")["total_messages"]
        published = node.post(
            "/message",
            [
                {"channel": channel, "user": "x", "message": {"n": 1}},  # 4 connections
                {"channel": channel, "user": "x", "message": {"n": 2}, "exclude_users": [bob]},
                {"channel": channel, "user": "x", "message": {"n": 3}, "pm_users": [alice]},
                {"pm_users": [alice], "user": "x", "message": {"n": 4}},  # alice's 2
            ],
        )

        def poll() -> list[Any]:
            found = requests.get(node.url + "/listen", params={"conn_id": c1}, timeout=10)
            return [m["message"] for m in found.json() if m["type"] == "message"]

        # carol long-polls: what she missed is replayed, and counted as delivered.
        assert poll() == [{"n": 1}, {"n": 2}]
        node.post("/user_state", {"user": alice, "user_state": {"k": "v"}})
        node.call("PATCH", "/message", [{"uuid": published[0]["uuid"], "channel": channel}])
        node.call("DELETE", "/message", [{"uuid": published[1]["uuid"], "channel": channel}])
        node.publish(channel, "x", {"text": "sentinel"})  # 4 more
        for client in sockets:
            wait_for_text(client, "sentinel")
        assert poll() == [{"text": "sentinel"}]
        after = node.post("/admin/admin.json")["total_messages"]
    assert after - before == 4 + 3 + 2 + 2 + 4
