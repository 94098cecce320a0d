"""Garbage collection of idle and disconnected connections (the conftest's `server` has a
2 s idle limit and a 0.2 s collection pass)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.helpers import (
    before_text,
    clients,
    close_cleanly,
    name,
    of_type,
    open_ws,
    wait_for_text,
)
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(30)


def presence_connect(server: ServerProcess, user: str, channel: str) -> str:
    return str(
        server.post(
            "/connect",
            {
                "username": user,
                "channels": [channel],
                "channel_configs": {channel: {"notify_presence": True}},
            },
        )["conn_id"]
    )


def users_of(server: ServerProcess, channel: str) -> list[str]:
    found = server.post("/info", {"info": {"channels": [channel]}})["channels"]
    return list(found[channel]["users"]) if channel in found else []


def test_idle_connection_is_collected(server: ServerProcess) -> None:
    channel, watcher, idler = name("gc"), name("watcher"), name("idler")
    with clients(open_ws(server, presence_connect(server, watcher, channel))) as (watch,):
        idle_conn = presence_connect(server, idler, channel)
        assert users_of(server, channel) == sorted([watcher, idler])
        # The idle connection never attaches: after gc_conns_after it is collected.
        watch.messages(2, timeout=10, type_="presence")
        joined, parted = of_type(watch.received, "presence")
        assert (joined["user"], joined["message"]["action"]) == (idler, "joined")
        assert (parted["user"], parted["message"]["action"]) == (idler, "parted")
        assert parted["state"] is None
        assert users_of(server, channel) == [watcher]
        # The attached watcher outlived the idle limit (heartbeats are activity).
        server.publish(channel, "x", {"text": "still here"})
        wait_for_text(watch, "still here")
    with clients(open_ws(server, idle_conn)) as (late,):
        assert late.close_frame() == (1000, "unknown connection")
    assert (
        requests.get(server.url + "/disconnect", params={"conn_id": idle_conn}, timeout=10).json()
        is False
    )


def test_disconnect_get_closes_at_next_pass(server: ServerProcess) -> None:
    channel, watcher, leaver = name("dc"), name("watcher"), name("leaver")
    watch = open_ws(server, presence_connect(server, watcher, channel))
    conn_id = presence_connect(server, leaver, channel)
    gone = open_ws(server, conn_id)
    with clients(watch, gone):
        response = requests.get(server.url + "/disconnect", params={"conn_id": conn_id}, timeout=10)
        assert response.status_code == 200
        assert response.json() is True
        assert gone.close_frame(timeout=3) == (1000, "disconnected")
        server.publish(channel, "x", {"text": "sentinel"})
        presence = of_type(before_text(watch, "sentinel"), "presence")
        assert [(p["user"], p["message"]["action"]) for p in presence] == [
            (leaver, "joined"),
            (leaver, "parted"),
        ]
    assert users_of(server, channel) == [watcher]
    again = requests.get(server.url + "/disconnect", params={"conn_id": conn_id}, timeout=10)
    assert again.json() is False
    unknown = requests.get(
        server.url + "/disconnect", params={"conn_id": str(uuid.uuid4())}, timeout=10
    )
    assert unknown.status_code == 200
    assert unknown.json() is False


def test_disconnect_post(server: ServerProcess) -> None:
    user = name("poster")
    conn_id = server.connect(user, [name("dcp")])
    with clients(open_ws(server, conn_id)) as (client,):
        response = requests.post(server.url + "/disconnect", json={"conn_id": conn_id}, timeout=10)
        assert response.status_code == 200
        assert response.json() is True
        assert client.close_frame(timeout=3) == (1000, "disconnected")
    unknown = requests.post(
        server.url + "/disconnect", json={"conn_id": str(uuid.uuid4())}, timeout=10
    )
    assert unknown.json() is False
    bodies: list[Any] = [{}, {"conn_id": "nope"}, []]
    for body in bodies:
        bad = requests.post(server.url + "/disconnect", json=body, timeout=10)
        assert 400 <= bad.status_code < 500, body
        assert isinstance(bad.json(), dict)


def test_disconnected_connection_is_gone_for_the_api(server: ServerProcess) -> None:
    conn_id = server.connect(name("api"), [name("dapi")])
    assert requests.get(server.url + "/disconnect", params={"conn_id": conn_id}, timeout=10).json()

    def subscribe_refused() -> bool:
        response = server.call("POST", "/subscribe", {"conn_id": conn_id, "channels": [name("x")]})
        return 400 <= response.status_code < 500

    wait_until(subscribe_refused, timeout=5)


@pytest.fixture(scope="module")
def forgetful(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {
        "gc_conns_after": 30,
        "gc_users_after": 0.5,
        "gc_channels_after": 0.5,
        "gc_interval": 0.2,
    }
    with ServerProcess(settings=settings, log_path=logs_dir / "forgetful.log") as node:
        yield node


def test_idle_users_and_empty_channels_are_forgotten(forgetful: ServerProcess) -> None:
    kept_channel, empty_channel = name("kept"), name("empty")
    stays, leaves = name("stays"), name("leaves")
    forgetful.connect(stays, [kept_channel])
    leaver = forgetful.connect(leaves, [empty_channel])
    assert requests.get(
        forgetful.url + "/disconnect", params={"conn_id": leaver}, timeout=10
    ).json()

    # Poll the channel only: any call naming the user would count as its activity.
    wait_until(lambda: empty_channel not in forgetful.post("/info")["channels"], timeout=8)
    time.sleep(0.5)
    unknown = forgetful.call("POST", "/user_state", {"user": leaves, "user_state": {}})
    assert unknown.status_code == 422
    # A user with a live connection, and its channel, are kept.
    assert kept_channel in forgetful.post("/info")["channels"]
    kept = forgetful.call("POST", "/user_state", {"user": stays, "user_state": {"k": 1}})
    assert kept.status_code == 200


def test_disconnect_ends_a_held_long_poll(server: ServerProcess) -> None:
    conn_id = server.connect(name("held"), [name("held")])
    result: list[Any] = []

    def poll() -> None:
        started = time.monotonic()
        response = requests.get(server.url + "/listen", params={"conn_id": conn_id}, timeout=10)
        result.append((response.status_code, response.json(), time.monotonic() - started))

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    assert requests.post(server.url + "/disconnect", json={"conn_id": conn_id}, timeout=10).json()
    thread.join(10)
    (status, body, held) = result[0]
    assert status == 200
    assert body == []
    # Answered at the next collection pass, not at the end of the 5 s hold.
    assert held < 3, held
    again = requests.get(server.url + "/listen", params={"conn_id": conn_id}, timeout=10)
    assert 400 <= again.status_code < 500


# -- a WebSocket that closes ---------------------------------------------------------------
@pytest.fixture(scope="module")
def defaults(logs_dir: Path) -> Iterator[ServerProcess]:
    """0.7.1's collection timing, the defaults: idle 15 s, a pass every second."""
    with ServerProcess(log_path=logs_dir / "gc-defaults.log") as node:
        yield node


def parted_after(watch: Any, user: str, since: float, timeout: float = 10) -> float:
    watch.read_until(
        lambda: any(
            p["user"] == user and p["message"]["action"] == "parted"
            for p in of_type(watch.received, "presence")
        ),
        timeout=timeout,
        what=f"{user} parted",
    )
    return time.monotonic() - since


@pytest.mark.parametrize("how", ["close frame", "dropped"])
def test_a_closed_websocket_parts_at_the_next_pass(defaults: ServerProcess, how: str) -> None:
    """0.7.1 collected a closed socket's connection at the next pass (the chat demo's other
    windows saw "parted" after 0.6 s); idle collection alone took 15 s."""
    channel, watcher, leaver = name("cl"), name("watcher"), name("leaver")
    watch = open_ws(defaults, presence_connect(defaults, watcher, channel))
    conn_id = presence_connect(defaults, leaver, channel)
    with clients(watch, open_ws(defaults, conn_id)) as (_, leaving):
        watch.messages(1, type_="presence")  # leaver joined
        closed_at = time.monotonic()
        if how == "close frame":
            close_cleanly(leaving)
        else:
            leaving.ws.sock.close()  # no close frame: the TCP connection just ends
        # At most two passes: the first one a pass interval after the close.
        assert parted_after(watch, leaver, closed_at) < 3
    assert users_of(defaults, channel) == [watcher]
    with clients(open_ws(defaults, conn_id)) as (late,):
        assert late.close_frame() == (1000, "unknown connection")


def test_a_websocket_that_reattaches_at_once_keeps_its_connection(
    defaults: ServerProcess,
) -> None:
    """The JS client reopens a dropped socket with the same conn_id 125-250 ms later: that
    is activity, and the connection stays (no "parted", nothing lost)."""
    channel, watcher, user = name("re"), name("watcher"), name("back")
    watch = open_ws(defaults, presence_connect(defaults, watcher, channel))
    conn_id = presence_connect(defaults, user, channel)
    with clients(watch, open_ws(defaults, conn_id)) as (_, first):
        watch.messages(1, type_="presence")
        first.ws.sock.close()
        time.sleep(0.25)
        defaults.publish(channel, "x", {"text": "while away"})
        with clients(open_ws(defaults, conn_id)) as (again,):
            wait_for_text(again, "while away")
            time.sleep(2.5)  # more than two collection passes
            defaults.publish(channel, "x", {"text": "sentinel"})
            wait_for_text(again, "sentinel")
            presence = of_type(before_text(watch, "sentinel"), "presence")
            assert [(p["user"], p["message"]["action"]) for p in presence] == [(user, "joined")]
            assert users_of(defaults, channel) == sorted([watcher, user])


def test_a_replaced_websocket_leaves_its_connection_alone(defaults: ServerProcess) -> None:
    channel, user = name("rp"), name("twice")
    conn_id = defaults.connect(user, [channel])
    with clients(open_ws(defaults, conn_id)) as (old,):
        with clients(open_ws(defaults, conn_id)) as (new,):
            assert old.close_frame() == (1000, "replaced")
            time.sleep(2.5)
            defaults.publish(channel, "x", {"text": "still yours"})
            wait_for_text(new, "still yours")
    assert users_of(defaults, channel) == [user]
