"""Idempotent publish over a real server and real WebSockets: a message whose uuid the same
channel (or the same recipients) saw within ``idempotency_window`` reaches nobody again and
is kept once; the answer is the first one's."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import API_SETTINGS
from tests.e2e.helpers import before_text, clients, name, of_type, open_ws, texts
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(30)

# Short, so that its end can be waited for; long enough for two requests in a row.
WINDOW = 2.0


@pytest.fixture(scope="module")
def server(logs_dir: Path) -> Iterator[ServerProcess]:
    settings = {**API_SETTINGS, "idempotency_window": WINDOW}
    with ServerProcess(settings=settings, log_path=logs_dir / "idempotency.log") as running:
        yield running


def item(channel: str | None, text: str, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "user": "backend", "message": {"text": text}, **extra}


def history_texts(server: ServerProcess, channel: str) -> list[str]:
    answer = server.post("/info", {"info": {"channels": [channel]}})
    return [entry["message"]["text"] for entry in answer["channels"][channel]["history"]]


def kept_channel(server: ServerProcess, prefix: str) -> tuple[str, str]:
    """A channel that keeps history, and a reader's connection in it."""
    channel = name(prefix)
    configs = {channel: {"store_history": True}}
    return channel, server.connect(name("reader"), [channel], channel_configs=configs)


def test_a_retried_publish_is_delivered_and_kept_once(server: ServerProcess) -> None:
    channel, conn_id = kept_channel(server, "retry")
    message_uuid = str(uuid.uuid4())
    with clients(open_ws(server, conn_id)) as (client,):
        first = server.post("/message", [item(channel, "once", uuid=message_uuid)])
        time.sleep(0.05)  # the retry gets a later default timestamp; the answer must not
        second = server.post("/message", [item(channel, "once", uuid=message_uuid)])
        server.post("/message", [item(channel, "end")])
        got = before_text(client, "end")
    assert second == first
    assert first[0]["uuid"] == message_uuid and isinstance(first[0]["offset"], int)
    assert texts(got) == ["once"]
    assert history_texts(server, channel) == ["once", "end"]


def test_a_retry_with_another_body_answers_the_original(server: ServerProcess) -> None:
    """The uuid names the message: what a retry carries besides is not looked at."""
    channel, conn_id = kept_channel(server, "changed")
    message_uuid = str(uuid.uuid4())
    with clients(open_ws(server, conn_id)) as (client,):
        (first,) = server.post("/message", [item(channel, "original", uuid=message_uuid)])
        (second,) = server.post("/message", [item(channel, "changed", uuid=message_uuid)])
        server.post("/message", [item(channel, "end")])
        got = before_text(client, "end")
    assert second["message"] == {"text": "original"}
    assert (second["timestamp"], second["offset"], second["epoch"]) == (
        first["timestamp"],
        first["offset"],
        first["epoch"],
    )
    assert texts(got) == ["original"]


def test_a_uuid_twice_in_one_batch_is_one_message(server: ServerProcess) -> None:
    channel, conn_id = kept_channel(server, "batch")
    message_uuid = str(uuid.uuid4())
    batch = [
        item(channel, "one", uuid=message_uuid),
        item(channel, "two"),
        item(channel, "one", uuid=message_uuid),
    ]
    with clients(open_ws(server, conn_id)) as (client,):
        answer = server.post("/message", batch)
        server.post("/message", [item(channel, "end")])
        got = before_text(client, "end")
    assert len(answer) == 3 and answer[2] == answer[0]
    assert answer[1]["offset"] == answer[0]["offset"] + 1
    assert texts(got) == ["one", "two"]
    assert history_texts(server, channel) == ["one", "two", "end"]


def test_a_retried_direct_message_reaches_each_recipient_once(server: ServerProcess) -> None:
    bob, carl = name("bob"), name("carl")
    readers = [open_ws(server, server.connect(user, [])) for user in (bob, carl)]
    message_uuid = str(uuid.uuid4())
    direct = item(None, "psst", uuid=message_uuid, pm_users=[bob, carl])
    with clients(*readers):
        first = server.post("/message", [direct])
        second = server.post("/message", [direct])
        server.post("/message", [item(None, "end", pm_users=[bob, carl])])
        got = [before_text(reader, "end") for reader in readers]
    assert second == first
    for received in got:
        assert texts(received) == ["psst"]
        assert of_type(received, "message")[0]["uuid"] == message_uuid


def test_an_edit_after_a_retry_changes_the_one_kept_message(server: ServerProcess) -> None:
    channel, conn_id = kept_channel(server, "edit")
    message_uuid = str(uuid.uuid4())
    with clients(open_ws(server, conn_id)) as (client,):
        for _ in range(2):
            server.post("/message", [item(channel, "draft", uuid=message_uuid)])
        edit = {"uuid": message_uuid, "channel": channel, "message": {"text": "final"}}
        server.post("/message", [item(channel, "end")])  # before the edit: it comes last
        assert server.call("PATCH", "/message", [edit]).status_code == 200
        client.messages(1, type_="message:edit")
    assert texts(client.received) == ["draft", "end"]
    assert history_texts(server, channel) == ["final", "end"]


def test_once_the_window_passed_the_uuid_is_published_again(server: ServerProcess) -> None:
    channel, conn_id = kept_channel(server, "expiry")
    message_uuid = str(uuid.uuid4())
    with clients(open_ws(server, conn_id)) as (client,):
        (first,) = server.post("/message", [item(channel, "again", uuid=message_uuid)])
        time.sleep(WINDOW + 0.5)
        (second,) = server.post("/message", [item(channel, "again", uuid=message_uuid)])
        server.post("/message", [item(channel, "end")])
        got = before_text(client, "end")
    assert second["offset"] == first["offset"] + 1
    assert texts(got) == ["again", "again"]
