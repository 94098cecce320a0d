"""Limits over real sockets: each one hit, its answer checked, everyone else unaffected and
nothing accepted before it lost. Each test speaks from its own loopback address (the whole
127.0.0.0/8 reaches the server), so the per-address buckets of one test are not another's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.support.clients import WSClient, get_from
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

LIMITED = {
    "max_connections_per_user": 2,
    "max_channels_per_connection": 3,
    # One token every 5 s: nothing refills while a test runs.
    "upgrades_per_second_per_address": 0.2,
    "upgrades_burst_per_address": 4,
    "client_messages_per_second": 2,
    "client_messages_burst": 6,
    "trusted_proxies": "127.0.0.5",
    "longpoll_timeout": 2,
    "gc_conns_after": 30,
    # A closed socket's connection is collected this long after: a test reattaches sooner.
    "gc_conns_interval": 2,
    "heartbeat_interval": 1,
}


@pytest.fixture(scope="module")
def limited(logs_dir: Path) -> Iterator[ServerProcess]:
    with ServerProcess(settings=LIMITED, log_path=logs_dir / "limits.log") as server:
        yield server


@pytest.fixture(scope="module")
def small(logs_dir: Path) -> Iterator[ServerProcess]:
    """A node with room for three sockets."""
    settings = {"max_connections": 3, "gc_conns_after": 30, "heartbeat_interval": 1}
    with ServerProcess(settings=settings, log_path=logs_dir / "limits-small.log") as server:
        yield server


def refused_upgrade(server: ServerProcess, conn_id: str, source: str) -> Any:
    """An upgrade the server must refuse with an HTTP answer (no 101)."""
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        WSClient(server.ws_url, conn_id, source=source)
    return caught.value


def unknown_conn() -> str:
    return str(uuid.uuid4())


def listen_from(server: ServerProcess, source: str, conn_id: str, **headers: str) -> Any:
    return get_from(source, server.url, f"/listen?conn_id={conn_id}", headers)


def sent(server: ServerProcess, channel: str, number: int) -> None:
    server.publish(channel, "sender", {"n": number})


def numbers(client: WSClient) -> list[int]:
    return [m["message"]["n"] for m in client.received if m.get("type") == "message"]


# -- per user (the whole cluster: see tests/cluster/test_limits.py) ------------------------
def test_a_new_connection_past_max_connections_per_user_is_429(limited: ServerProcess) -> None:
    first = limited.connect("alice", ["room"])
    second = limited.connect("alice", ["room"])
    refused = limited.call("POST", "/connect", {"username": "alice", "channels": ["room"]})
    assert refused.status_code == 429
    assert refused.json()["limit"] == "max_connections_per_user"
    assert "alice holds 2 connections" in refused.json()["username"][0]
    assert limited.connect("alice", ["room"], conn_id=first) == first  # the same one again
    bob = limited.connect("bob", ["room"])  # another user
    sockets = [WSClient(limited.ws_url, conn, source="127.0.0.10") for conn in (first, second, bob)]
    sent(limited, "room", 1)
    for client in sockets:
        client.messages(1, type_="message")
        client.close()
    # A connection on its way out (disconnected, not yet collected) makes room at once.
    assert limited.post("/disconnect", {"conn_id": second}) is True
    limited.connect("alice", ["room"])


# -- channels per connection -----------------------------------------------------------
def test_channels_past_max_channels_per_connection_are_422_and_change_nothing(
    limited: ServerProcess,
) -> None:
    conn = limited.connect("dave", ["a", "b"])
    client = WSClient(limited.ws_url, conn, source="127.0.0.11")
    refused = limited.call("POST", "/subscribe", {"conn_id": conn, "channels": ["c", "d"]})
    assert refused.status_code == 422
    assert refused.json()["limit"] == "max_channels_per_connection"
    assert "would be in 4" in refused.json()["channels"][0]
    opened = limited.call(
        "POST", "/connect", {"username": "erin", "channels": ["a", "b", "x", "y"]}
    )
    assert opened.status_code == 422 and opened.json()["channels"]
    info = limited.post("/info", {"info": {"channels": ["a", "c", "x"]}})
    assert set(info["channels"]) == {"a"}  # neither c nor x was made
    assert info["channels"]["a"]["users"] == ["dave"]  # erin joined nothing
    sent(limited, "a", 1)
    assert limited.post("/subscribe", {"conn_id": conn, "channels": ["c"]})["channels"] == [
        "a",
        "b",
        "c",
    ]
    sent(limited, "c", 2)
    client.read_until(lambda: numbers(client) == [1, 2], what="both messages")
    client.close()


# -- upgrades per client address -------------------------------------------------------
def test_upgrades_past_the_rate_of_one_address_are_429_and_other_addresses_are_not(
    limited: ServerProcess,
) -> None:
    conns = [limited.connect(f"frank{n}", ["u"]) for n in range(6)]
    opened = [WSClient(limited.ws_url, conn, source="127.0.0.2") for conn in conns[:4]]
    refused = refused_upgrade(limited, conns[4], "127.0.0.2")
    assert refused.status_code == 429
    assert int(refused.resp_headers["retry-after"]) >= 1
    status, headers, body = listen_from(limited, "127.0.0.2", conns[4])  # the same bucket
    assert status == 429 and body["limit"] == "upgrades_per_second_per_address"
    assert int(headers["Retry-After"]) >= 1
    other = WSClient(limited.ws_url, conns[5], source="127.0.0.3")  # another address
    sent(limited, "u", 1)
    for client in [*opened, other]:
        client.messages(1, type_="message")  # every socket let in before the limit works
        client.close()


def test_a_long_poll_that_continues_the_last_costs_no_upgrade(limited: ServerProcess) -> None:
    conn = limited.connect("gail", ["p"])
    got = []
    for number in range(8):  # twice the burst, as fast as a busy channel makes a client ask
        sent(limited, "p", number)
        status, _, body = listen_from(limited, "127.0.0.4", conn)
        assert status == 200, (number, body)
        got += [item["message"]["n"] for item in body if item.get("type") == "message"]
    assert got == list(range(8))
    # A poll of another connection is a new one: three tokens are left of four.
    for _ in range(3):
        assert listen_from(limited, "127.0.0.4", unknown_conn())[0] == 401
    assert listen_from(limited, "127.0.0.4", unknown_conn())[0] == 429


def test_x_forwarded_for_names_the_address_only_from_a_trusted_proxy(
    limited: ServerProcess,
) -> None:
    for _ in range(4):  # /listen of an unknown conn_id: let in (a token), then 401
        assert listen_from(limited, "127.0.0.5", unknown_conn(), **forwarded("10.9.9.1"))[0] == 401
    assert listen_from(limited, "127.0.0.5", unknown_conn(), **forwarded("10.9.9.1"))[0] == 429
    assert listen_from(limited, "127.0.0.5", unknown_conn(), **forwarded("10.9.9.2"))[0] == 401
    # Not a trusted proxy: its own address is the client's, whatever it forwards.
    answers = [
        listen_from(limited, "127.0.0.6", unknown_conn(), **forwarded(f"10.8.8.{n}"))[0]
        for n in range(7)
    ]
    assert answers == [401] * 4 + [429] * 3


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


# -- client frames ---------------------------------------------------------------------
def test_a_socket_past_the_frame_rate_is_closed_with_1008_and_loses_nothing(
    limited: ServerProcess,
) -> None:
    flooder, calm = limited.connect("hank", ["f"]), limited.connect("ivy", ["f"])
    flood = WSClient(limited.ws_url, flooder, source="127.0.0.7")
    quiet = WSClient(limited.ws_url, calm, source="127.0.0.7")
    sent(limited, "f", 1)
    flood.messages(1, type_="message")
    quiet.ws.send('{"type": "heartbeat"}')  # the JS client's heartbeat is well within
    for _ in range(20):
        flood.ws.send('{"type": "heartbeat"}')
    assert flood.close_frame() == (1008, "too many messages")
    sent(limited, "f", 2)
    quiet.read_until(lambda: numbers(quiet) == [1, 2], what="both messages")
    # The connection stays: its client reconnects and is sent what it missed.
    again = WSClient(limited.ws_url, flooder, source="127.0.0.8")
    again.read_until(lambda: numbers(again) == [2], what="the missed message")
    for client in (flood, quiet, again):
        client.close()


def test_refusals_are_logged_at_most_once_a_minute_per_address(
    limited: ServerProcess, logs_dir: Path
) -> None:
    for source in ("127.0.0.9", "127.0.0.12"):
        for _ in range(7):  # 4 let in, 3 refused
            listen_from(limited, source, unknown_conn())
    log = logs_dir / "limits.log"
    wait_until(lambda: "refused 127.0.0.12 " in log.read_text(), what="the second line")
    text = log.read_text()
    assert text.count("refused 127.0.0.9 (upgrades_per_second_per_address): Too many") == 1
    assert text.count("refused 127.0.0.9 ") == 1
    assert text.count("refused 127.0.0.12 ") == 1


# -- this node's room ------------------------------------------------------------------
def test_a_full_node_answers_503_before_any_upgrade(small: ServerProcess) -> None:
    conns = [small.connect(f"user{n}", ["n"]) for n in range(5)]
    held = [WSClient(small.ws_url, conn) for conn in conns[:3]]
    sent(small, "n", 1)
    for client in held:  # attached, each of them
        client.messages(1, type_="message")
    refused = refused_upgrade(small, conns[3], "127.0.0.1")
    assert refused.status_code == 503 and refused.resp_headers["retry-after"] == "5"
    status, headers, body = listen_from(small, "127.0.0.1", conns[3])
    assert (status, body["limit"]) == (503, "max_connections") and headers["Retry-After"] == "5"
    # A connection's new socket takes its old one's place: no new connection.
    replacement = WSClient(small.ws_url, conns[0])
    assert held[0].close_frame() == (1000, "replaced")
    held[1].close()
    late = wait_until(lambda: _upgraded(small, conns[3]), what="room for one more")
    sent(small, "n", 2)
    for client in (replacement, held[2], late):
        client.read_until(lambda c=client: 2 in numbers(c), what="the second message")
        client.close()


def _upgraded(server: ServerProcess, conn_id: str) -> WSClient | None:
    try:
        return WSClient(server.ws_url, conn_id)
    except websocket.WebSocketBadStatusException as refused:
        assert refused.status_code == 503
        return None
