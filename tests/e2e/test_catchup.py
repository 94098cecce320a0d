"""Catch-up: between /connect and attaching, across reconnects (exact by offset, with the
server's own record and with `resume`), gap notices, and long-poll that loses nothing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.helpers import (
    clients,
    close_cleanly,
    name,
    of_type,
    open_ws,
    texts,
    wait_for_text,
    ws_status,
)
from tests.support.clients import WSClient, listen
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(40)

CATCHUP_SIZE = 20
LONGPOLL_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def cnode(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {
        "catchup_size": CATCHUP_SIZE,
        "longpoll_timeout": LONGPOLL_TIMEOUT,
        "gc_conns_after": 30,
        "gc_conns_interval": 0.5,
        "heartbeat_interval": 1,
    }
    with ServerProcess(settings=settings, log_path=logs_dir / "catchup.log") as server:
        yield server


def publish_many(server: ServerProcess, channel: str | None, count: int, **extra: Any) -> None:
    items = [
        {"channel": channel, "user": "pub", "message": {"text": f"n{i}"}, **extra}
        for i in range(count)
    ]
    server.post("/message", items)


def channel_items(client: WSClient, channel: str) -> list[dict[str, Any]]:
    return [m for m in client.received if m.get("channel") == channel]


def test_published_between_connect_and_attach_arrives_as_catchup(cnode: ServerProcess) -> None:
    user, channel = name("early"), name("early")
    conn_id = cnode.connect(user, [channel])
    cnode.publish(channel, "u", {"text": "c1"})
    cnode.publish(None, "u", {"text": "d1"}, pm_users=[user])
    cnode.publish(channel, "u", {"text": "c2"})
    with clients(open_ws(cnode, conn_id)) as (client,):
        first = client.messages(3, type_="message")
        assert [m["message"]["text"] for m in first] == ["c1", "c2", "d1"]
        assert all(m["catchup"] is True for m in first)
        assert [m["channel"] for m in first] == [channel, channel, None]
        assert "gap" not in str(first)
        cnode.publish(channel, "u", {"text": "live"})
        live = wait_for_text(client, "live")[-1]
        assert live["catchup"] is False
        assert live["offset"] == first[1]["offset"] + 1


def test_store_frames_false_has_no_channel_catchup(cnode: ServerProcess) -> None:
    user, channel = name("nf"), name("noframes")
    conn_id = cnode.post(
        "/connect",
        {
            "username": user,
            "channels": [channel],
            "channel_configs": {channel: {"store_frames": False}},
        },
    )["conn_id"]
    cnode.publish(channel, "u", {"text": "unkept"})
    with clients(open_ws(cnode, conn_id)) as (client,):
        cnode.publish(channel, "u", {"text": "live"})
        assert texts(wait_for_text(client, "live")) == ["live"]


def test_reconnect_catches_up_exactly_with_server_record(cnode: ServerProcess) -> None:
    user, channel = name("rc"), name("rc")
    conn_id = cnode.connect(user, [channel])
    with clients(open_ws(cnode, conn_id)) as (first,):
        publish_many(cnode, channel, 3)
        first.messages(3, type_="message")
    publish_many(cnode, channel, 4)
    cnode.publish(None, "u", {"text": "direct while away"}, pm_users=[user])
    with clients(open_ws(cnode, conn_id)) as (second,):
        replay = second.messages(5, type_="message")
        assert [m["offset"] for m in replay[:4]] == [4, 5, 6, 7]
        assert all(m["catchup"] is True for m in replay)
        assert replay[4]["message"] == {"text": "direct while away"}
        cnode.publish(channel, "u", {"text": "live"})
        wait_for_text(second, "live")
        offsets = [m["offset"] for m in channel_items(second, channel)]
        assert offsets == [4, 5, 6, 7, 8]


def test_reconnects_under_steady_publisher_lose_and_double_nothing(cnode: ServerProcess) -> None:
    user, channel = name("steady"), name("steady")
    conn_id = cnode.connect(user, [channel])
    total = 150
    stop = threading.Event()
    failures: list[BaseException] = []

    def publisher() -> None:
        try:
            for number in range(1, total + 1):
                cnode.publish(channel, "pub", {"n": number})
                time.sleep(0.002)
        except BaseException as exc:
            failures.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=publisher)
    seen: list[dict[str, Any]] = []
    thread.start()
    try:
        reconnects = 0
        while True:
            client = open_ws(cnode, conn_id)
            try:
                deadline = time.monotonic() + 0.15
                while time.monotonic() < deadline:
                    client.read_frame(1)
                if stop.is_set():
                    # Drain what is still coming, up to the last offset.
                    client.read_until(
                        lambda c=client: (
                            [m["offset"] for m in seen + channel_items(c, channel)][-1:] == [total]
                        ),
                        what=f"offset {total}",
                    )
            except Exception as exc:
                if "timed out" not in str(exc):
                    raise
            # A clean close: what the server sent before it saw our close frame is read.
            close_cleanly(client)
            seen.extend(channel_items(client, channel))
            reconnects += 1
            if stop.is_set() and seen and seen[-1]["offset"] == total:
                break
            assert reconnects < 200
    finally:
        thread.join(30)
    assert not failures
    offsets = [m["offset"] for m in seen]
    assert offsets == list(range(1, total + 1)), (reconnects, offsets)
    assert [m["message"]["n"] for m in seen] == list(range(1, total + 1))
    assert reconnects >= 3


def test_resume_param_overrides_server_record(cnode: ServerProcess) -> None:
    user, channel = name("resume"), name("resume")
    conn_id = cnode.connect(user, [channel])
    with clients(open_ws(cnode, conn_id)) as (first,):
        publish_many(cnode, channel, 5)
        got = first.messages(5, type_="message")
        epoch = got[0]["epoch"]
    publish_many(cnode, channel, 3)
    resume = {"channels": {channel: [epoch, 2]}}
    with clients(open_ws(cnode, conn_id, resume=resume)) as (second,):
        replay = second.messages(6, type_="message")
        assert [m["offset"] for m in replay] == [3, 4, 5, 6, 7, 8]
        assert all(m["catchup"] for m in replay)
        assert of_type(second.received, "gap") == []
        cnode.publish(channel, "u", {"text": "live"})
        wait_for_text(second, "live")
        assert [m["offset"] for m in channel_items(second, channel)] == [3, 4, 5, 6, 7, 8, 9]


def test_resume_after_abrupt_drop_is_exact(cnode: ServerProcess) -> None:
    user, channel = name("drop"), name("drop")
    conn_id = cnode.connect(user, [channel])
    first = open_ws(cnode, conn_id)
    publish_many(cnode, channel, 4)
    got = first.messages(4, type_="message")
    epoch, last = got[-1]["epoch"], got[-1]["offset"]
    # Drop the TCP connection without a close frame; the server may still send into it.
    assert first.ws.sock is not None
    first.ws.sock.close()
    publish_many(cnode, channel, 3)
    resume = {"channels": {channel: [epoch, last]}}
    with clients(open_ws(cnode, conn_id, resume=resume)) as (second,):
        replay = second.messages(3, type_="message")
        assert [m["offset"] for m in replay] == [5, 6, 7]
        cnode.publish(channel, "u", {"text": "live"})
        wait_for_text(second, "live")
        assert [m["offset"] for m in channel_items(second, channel)] == [5, 6, 7, 8]


def test_resume_direct_stream(cnode: ServerProcess) -> None:
    user = name("dres")
    conn_id = cnode.connect(user, [])
    with clients(open_ws(cnode, conn_id)) as (first,):
        publish_many(cnode, None, 4, pm_users=[user])
        got = first.messages(4, type_="message")
    epoch, offsets = got[0]["epoch"], [m["offset"] for m in got]
    publish_many(cnode, None, 2, pm_users=[user])
    resume = {"direct": [epoch, offsets[1]]}
    with clients(open_ws(cnode, conn_id, resume=resume)) as (second,):
        replay = second.messages(4, type_="message")
        assert [m["offset"] for m in replay] == [
            offsets[2],
            offsets[3],
            offsets[3] + 1,
            offsets[3] + 2,
        ]
        assert all(m["channel"] is None and m["catchup"] for m in replay)


def test_gap_window_with_resume(cnode: ServerProcess) -> None:
    user, channel = name("window"), name("window")
    conn_id = cnode.connect(user, [channel])
    with clients(open_ws(cnode, conn_id)) as (first,):
        cnode.publish(channel, "u", {"text": "one"})
        (got,) = first.messages(1, type_="message")
    epoch = got["epoch"]
    publish_many(cnode, channel, CATCHUP_SIZE + 10)
    latest = CATCHUP_SIZE + 11
    with clients(open_ws(cnode, conn_id, resume={"channels": {channel: [epoch, 1]}})) as (c,):
        c.messages(CATCHUP_SIZE, type_="message")
        gap = c.received[0]
        assert gap == {
            "type": "gap",
            "channel": channel,
            "epoch": epoch,
            "offset": latest,
            "reason": "window",
        }
        replay = of_type(c.received, "message")
        assert [m["offset"] for m in replay] == list(range(latest - CATCHUP_SIZE + 1, latest + 1))
        assert all(m["catchup"] for m in replay)
    # From the oldest offset the window still reaches, the replay is exact: no gap.
    exact_from = latest - CATCHUP_SIZE
    resume = {"channels": {channel: [epoch, exact_from]}}
    with clients(open_ws(cnode, conn_id, resume=resume)) as (c2,):
        replay = c2.messages(CATCHUP_SIZE, type_="message")
        cnode.publish(channel, "u", {"text": "live"})
        wait_for_text(c2, "live")
        assert of_type(c2.received, "gap") == []
        assert "gap" not in replay[0]
        assert replay[0]["offset"] == exact_from + 1


def test_gap_window_without_resume_marks_first_replayed_event(cnode: ServerProcess) -> None:
    user, channel = name("wmark"), name("wmark")
    conn_id = cnode.connect(user, [channel])
    with clients(open_ws(cnode, conn_id)) as (first,):
        cnode.publish(channel, "u", {"text": "one"})
        first.messages(1, type_="message")
    publish_many(cnode, channel, CATCHUP_SIZE + 5)
    with clients(open_ws(cnode, conn_id)) as (second,):
        replay = second.messages(CATCHUP_SIZE, type_="message")
        assert of_type(second.received, "gap") == []
        assert replay[0]["gap"] is True
        assert replay[0]["catchup"] is True
        assert all("gap" not in m for m in replay[1:])
        assert replay[-1]["offset"] == CATCHUP_SIZE + 6


def test_gap_epoch(cnode: ServerProcess) -> None:
    user, channel = name("epoch"), name("epoch")
    conn_id = cnode.connect(user, [channel])
    publish_many(cnode, channel, 3)
    resume = {"channels": {channel: ["no-such-epoch", 2]}}
    with clients(open_ws(cnode, conn_id, resume=resume)) as (client,):
        replay = client.messages(3, type_="message")
        gap = client.received[0]
        assert gap["type"] == "gap"
        assert gap["reason"] == "epoch"
        assert gap["channel"] == channel
        assert gap["offset"] == 3
        assert gap["epoch"] == replay[0]["epoch"] != "no-such-epoch"
        assert [m["offset"] for m in replay] == [1, 2, 3]


def test_gap_epoch_on_direct_stream(cnode: ServerProcess) -> None:
    user = name("depoch")
    conn_id = cnode.connect(user, [])
    publish_many(cnode, None, 2, pm_users=[user])
    with clients(open_ws(cnode, conn_id, resume={"direct": ["stale", 1]})) as (client,):
        client.messages(2, type_="message")
        gap = client.received[0]
        assert gap["type"] == "gap"
        assert gap["channel"] is None
        assert gap["reason"] == "epoch"


@pytest.mark.parametrize(
    "resume",
    [
        "not json",
        "[1, 2]",
        json.dumps({"channels": ["c"]}),
        json.dumps({"channels": {"c": ["e"]}}),
        json.dumps({"channels": {"c": ["e", "x"]}}),
        json.dumps({"channels": {"c": ["e", -1]}}),
        json.dumps({"direct": "e"}),
    ],
)
def test_malformed_resume_is_400_naming_resume(cnode: ServerProcess, resume: str) -> None:
    conn_id = cnode.connect(name("bad"), [])
    url = f"{cnode.ws_url}/ws?conn_id={conn_id}&resume={requests.utils.quote(resume)}"
    assert ws_status(url) == 400
    response = requests.get(
        cnode.url + "/listen", params={"conn_id": conn_id, "resume": resume}, timeout=10
    )
    assert response.status_code == 400
    assert "resume" in response.json()


# -- long-poll -----------------------------------------------------------------------
def test_longpoll_catchup_and_shape(cnode: ServerProcess) -> None:
    user, channel = name("lp"), name("lp")
    conn_id = cnode.connect(user, [channel])
    cnode.publish(channel, "u", {"text": "queued"})
    started = time.monotonic()
    answer = listen(cnode.url, conn_id)
    assert time.monotonic() - started < LONGPOLL_TIMEOUT / 2
    assert isinstance(answer, list)
    assert texts(answer) == ["queued"]
    assert answer[0]["catchup"] is True


def test_longpoll_idle_holds_then_answers_empty(cnode: ServerProcess) -> None:
    conn_id = cnode.connect(name("idle"), [name("idle")])
    started = time.monotonic()
    assert listen(cnode.url, conn_id) == []
    held = time.monotonic() - started
    assert LONGPOLL_TIMEOUT * 0.8 <= held < LONGPOLL_TIMEOUT + 2


def test_longpoll_wakes_on_publish(cnode: ServerProcess) -> None:
    user, channel = name("wake"), name("wake")
    conn_id = cnode.connect(user, [channel])
    timer = threading.Timer(0.2, lambda: cnode.publish(channel, "u", {"text": "wake"}))
    started = time.monotonic()
    timer.start()
    try:
        answer = listen(cnode.url, conn_id)
    finally:
        timer.join()
    assert texts(answer) == ["wake"]
    assert answer[0]["catchup"] is False
    assert time.monotonic() - started < LONGPOLL_TIMEOUT * 0.9


def test_longpoll_jsonp(cnode: ServerProcess) -> None:
    user, channel = name("jsonp"), name("jsonp")
    conn_id = cnode.connect(user, [channel])
    cnode.publish(channel, "u", {"text": "padded"})
    response = requests.get(
        cnode.url + "/listen", params={"conn_id": conn_id, "callback": "cb_1"}, timeout=10
    )
    assert response.status_code == 200
    assert "javascript" in response.headers["Content-Type"]
    body = response.text
    start, end = body.index("cb_1("), body.rindex(")")
    assert body[:start] in ("", "/**/")
    assert body[end:].rstrip() in (")", ");")
    items = json.loads(body[start + len("cb_1(") : end])
    assert texts(items) == ["padded"]
    bad = requests.get(
        cnode.url + "/listen",
        params={"conn_id": conn_id, "callback": "alert(1)//"},
        timeout=10,
    )
    assert bad.status_code == 400


def test_longpoll_steady_publisher_loses_nothing(cnode: ServerProcess) -> None:
    user, channel = name("lpsteady"), name("lpsteady")
    conn_id = cnode.connect(user, [channel])
    total = 200
    failures: list[BaseException] = []

    def publisher() -> None:
        try:
            for number in range(1, total + 1):
                cnode.publish(channel, "pub", {"n": number})
                if number % 3 == 0:
                    cnode.publish(None, "pub", {"d": number}, pm_users=[user])
                time.sleep(0.002)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=publisher)
    thread.start()
    got: list[dict[str, Any]] = []
    polls = 0
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            got.extend(listen(cnode.url, conn_id))
            polls += 1
            numbers = [m["message"].get("n") for m in got if m.get("channel") == channel]
            if numbers[-1:] == [total] and not thread.is_alive():
                break
    finally:
        thread.join(30)
    # One more poll: anything still queued must show up, and nothing beyond the total.
    got.extend(listen(cnode.url, conn_id))
    assert not failures
    numbers = [m["message"]["n"] for m in got if m.get("channel") == channel]
    assert numbers == list(range(1, total + 1)), polls
    direct = [m["message"]["d"] for m in got if m.get("channel") is None]
    assert direct == list(range(3, total + 1, 3))
    offsets = [m["offset"] for m in got if m.get("channel") == channel]
    assert offsets == list(range(1, total + 1))
    assert polls > 2


def test_catchup_reflects_edits_and_deletes(cnode: ServerProcess) -> None:
    user, channel = name("edits"), name("edits")
    conn_id = cnode.connect(user, [channel])
    kept = cnode.publish(channel, "u", {"text": "original"})
    removed = cnode.publish(channel, "u", {"text": "removed"})
    edit = [{"uuid": kept["uuid"], "channel": channel, "message": {"text": "edited"}}]
    assert cnode.call("PATCH", "/message", edit).status_code == 200
    delete = [{"uuid": removed["uuid"], "channel": channel}]
    assert cnode.call("DELETE", "/message", delete).status_code == 200
    with clients(open_ws(cnode, conn_id)) as (client,):
        cnode.publish(channel, "u", {"text": "live"})
        received = wait_for_text(client, "live")
    replayed = [m for m in received if m["catchup"]]
    messages = of_type(replayed, "message")
    assert [m["uuid"] for m in messages] == [kept["uuid"]]
    assert messages[0]["message"] == {"text": "edited"}
    assert removed["uuid"] not in [m["uuid"] for m in messages]
    offsets = [m["offset"] for m in received]
    assert offsets == sorted(offsets)
    assert len(offsets) == len(set(offsets))


def test_direct_edit_and_delete(cnode: ServerProcess) -> None:
    user, other = name("dedit"), name("dother")
    with clients(
        open_ws(cnode, cnode.connect(user, [])), open_ws(cnode, cnode.connect(other, []))
    ) as (mine, theirs):
        sent = cnode.publish(None, "u", {"text": "to edit"}, pm_users=[user])
        edit = [{"uuid": sent["uuid"], "pm_users": [user], "message": {"text": "edited"}}]
        assert cnode.call("PATCH", "/message", edit).status_code == 200
        delete = [{"uuid": sent["uuid"], "pm_users": [user]}]
        assert cnode.call("DELETE", "/message", delete).status_code == 200
        cnode.publish(None, "u", {"text": "sentinel"}, pm_users=[user, other])
        received = wait_for_text(mine, "sentinel")
        assert [m["type"] for m in received] == [
            "message",
            "message:edit",
            "message:delete",
            "message",
        ]
        edited = received[1]
        assert edited["uuid"] == sent["uuid"]
        assert edited["message"] == {"text": "edited"}
        assert edited["channel"] is None
        for key in ("pm_users", "exclude_users", "no_history"):
            assert key not in edited and key not in received[2]
        assert received[2]["uuid"] == sent["uuid"]
        assert texts(wait_for_text(theirs, "sentinel")) == ["sentinel"]
    # Reattaching replays nothing of the deleted message.
    conn_id = cnode.connect(user, [])
    with clients(open_ws(cnode, conn_id)) as (again,):
        cnode.publish(None, "u", {"text": "next"}, pm_users=[user])
        assert texts(wait_for_text(again, "next")) == ["next"]


def test_longpoll_resume(cnode: ServerProcess) -> None:
    user, channel = name("lpres"), name("lpres")
    conn_id = cnode.connect(user, [channel])
    publish_many(cnode, channel, 3)
    first = listen(cnode.url, conn_id)
    assert [m["offset"] for m in first] == [1, 2, 3]
    epoch = first[0]["epoch"]
    resume = json.dumps({"channels": {channel: [epoch, 1]}})
    again = listen(cnode.url, conn_id, resume=resume)
    assert [m["offset"] for m in again] == [2, 3]
    assert all(m["catchup"] for m in again)
    stale = listen(cnode.url, conn_id, resume=json.dumps({"channels": {channel: ["old", 3]}}))
    assert stale[0]["type"] == "gap"
    assert stale[0]["reason"] == "epoch"
    assert [m["offset"] for m in of_type(stale, "message")] == [1, 2, 3]


def test_restart_changes_epoch_and_resume_says_so(logs_dir: Path) -> None:
    """The in-memory log dies with the process: a client that resumes after a restart is
    told (gap, reason epoch) instead of silently missing or repeating events."""
    user, channel = name("restart"), name("restart")
    log = logs_dir / "restart.log"
    with ServerProcess(log_path=log) as before:
        conn_id = before.connect(user, [channel])
        with clients(open_ws(before, conn_id)) as (client,):
            publish_many(before, channel, 3)
            seen = client.messages(3, type_="message")
        old_epoch, old_offset = seen[-1]["epoch"], seen[-1]["offset"]
        port = before.port
    with ServerProcess(port=port, log_path=log) as after:
        with clients(open_ws(after, conn_id)) as (gone,):
            assert gone.close_frame() == (1000, "unknown connection")
        # The backend connects again with the same conn_id; the page resumes.
        after.post("/connect", {"username": user, "conn_id": conn_id, "channels": [channel]})
        publish_many(after, channel, 2)
        resume = {"channels": {channel: [old_epoch, old_offset]}}
        with clients(open_ws(after, conn_id, resume=resume)) as (client,):
            replay = client.messages(2, type_="message")
            gap = client.received[0]
            assert gap["type"] == "gap"
            assert gap["reason"] == "epoch"
            assert gap["epoch"] != old_epoch
            assert gap["offset"] == 2
            assert [m["offset"] for m in replay] == [1, 2]


def test_catchup_keeps_delivery_rules(cnode: ServerProcess) -> None:
    channel, alice, bob = name("rules"), name("alice"), name("bob")
    configs = {channel: {"notify_presence": True}}
    a_conn = cnode.post(
        "/connect", {"username": alice, "channels": [channel], "channel_configs": configs}
    )["conn_id"]
    b_conn = cnode.connect(bob, [channel])
    cnode.publish(channel, "u", {"text": "only bob"}, pm_users=[bob])
    cnode.publish(channel, "u", {"text": "not alice"}, exclude_users=[alice])
    cnode.publish(channel, "u", {"text": "everyone"})
    with clients(open_ws(cnode, a_conn), open_ws(cnode, b_conn)) as (a, b):
        cnode.publish(channel, "u", {"text": "live"})
        a_got = wait_for_text(a, "live")
        b_got = wait_for_text(b, "live")
    assert texts(a_got) == ["everyone", "live"]
    assert [(p["user"], p["message"]["action"]) for p in of_type(a_got, "presence")] == [
        (bob, "joined")
    ]
    assert texts(b_got) == ["only bob", "not alice", "everyone", "live"]
    # Bob's own "joined" is never replayed to him.
    assert of_type(b_got, "presence") == []
