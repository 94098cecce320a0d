"""A retried publish is delivered once: the first try reaches a real channelstream and only
its answer is lost (a dropped connection, a balancer's 503); the client retries with the
same uuids, and the server answers the first publish without delivering it again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channelstream_client import RetryPolicy
from client_flavours import Factory
from client_support import NEW_KEY, unique
from tests.support.clients import WSClient
from tests.support.flaky_proxy import FlakyProxy
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(30)

FAST = RetryPolicy(retries=2, backoff=0.01, max_backoff=0.05)


@pytest.fixture
def lossy(channelstream: ServerProcess) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy([channelstream.url])
    yield proxy
    proxy.close()


@pytest.mark.parametrize("loss", ["drop", "503"])
def test_a_retry_after_a_lost_answer_delivers_once(
    make_client: Factory, channelstream: ServerProcess, lossy: FlakyProxy, loss: str
) -> None:
    channel = unique("retry")
    client = make_client(lossy.url, NEW_KEY, retry=FAST)
    conn = client.connect(unique("reader"), channels=[channel])
    browser = WSClient(channelstream.ws_url, conn["conn_id"])
    try:
        lossy.lose(loss)
        sent = [
            {"channel": channel, "user": "b", "message": {"n": 1}},
            {"channel": channel, "user": "b", "message": {"n": 2}},
        ]
        answer = client.publish(sent)
        assert [action for _, _, _, action in lossy.forwarded] == [loss, "pass"]
        assert [status for _, _, status, _ in lossy.forwarded] == [200, 200]
        client.publish({"channel": channel, "user": "b", "message": {"n": "end"}})
        got = browser.read_until(
            lambda: (
                [m["message"]["n"] for m in browser.received if m.get("type") == "message"]
                if any(m.get("message", {}).get("n") == "end" for m in browser.received)
                else None
            ),
            what="the end marker",
        )
    finally:
        browser.close()
    assert got == [1, 2, "end"]
    delivered = [m for m in browser.received if m.get("type") == "message"][:2]
    assert [(m["uuid"], m["offset"]) for m in delivered] == [
        (item["uuid"], item["offset"]) for item in answer
    ]
