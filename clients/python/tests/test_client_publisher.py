"""Publisher and AsyncPublisher against a real server: concurrent publishes share requests,
every caller gets its own answer, one bad message fails only its caller."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from channelstream_client import APIError, AsyncClient, AsyncPublisher, Client, Publisher
from client_flavours import run_async
from client_support import NEW_KEY, unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(60)

THREADS = 16
EACH = 10


class Counting:
    """An httpx event hook that counts the POST /message requests a client makes."""

    def __init__(self) -> None:
        self.posts = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/message":
            with self.lock:
                self.posts += 1

    async def async_hook(self, request: httpx.Request) -> None:
        self(request)


def history(server: ServerProcess, channel: str) -> list[Any]:
    with Client(server.url, NEW_KEY) as client:
        return client.info([channel], include_history=True)["channels"][channel]["history"]


def configured_channel(server: ServerProcess) -> str:
    channel = unique("batched")
    with Client(server.url, NEW_KEY) as client:
        client.channel_config({channel: {"store_history": True, "history_size": 1000}})
    return channel


def test_threads_publishing_at_once_share_requests(channelstream: ServerProcess) -> None:
    channel = configured_channel(channelstream)
    counting = Counting()
    http = httpx.Client(event_hooks={"request": [counting]})
    with Client(channelstream.url, NEW_KEY, http_client=http) as client:
        with Publisher(client, max_delay=0.005) as publisher:
            start = threading.Barrier(THREADS)

            def worker(index: int) -> list[Any]:
                start.wait()
                return [
                    publisher.publish(
                        {"channel": channel, "user": f"t{index}", "message": {"n": index * 100 + n}}
                    )
                    for n in range(EACH)
                ]

            with ThreadPoolExecutor(THREADS) as pool:
                answers = [answer for batch in pool.map(worker, range(THREADS)) for answer in batch]
    http.close()
    assert len(answers) == THREADS * EACH
    assert len({answer["uuid"] for answer in answers}) == THREADS * EACH
    assert all(answer["channel"] == channel for answer in answers)
    stored = history(channelstream, channel)
    assert sorted(item["message"]["n"] for item in stored) == sorted(
        index * 100 + n for index in range(THREADS) for n in range(EACH)
    )
    # Gathered: far fewer requests than messages (each thread waits for its answer, so at
    # best one request carries one message of every thread).
    assert counting.posts <= THREADS * EACH // 3, counting.posts


def test_one_bad_message_fails_only_its_caller(channelstream: ServerProcess) -> None:
    channel = configured_channel(channelstream)
    with Client(channelstream.url, NEW_KEY) as client, Publisher(client, max_delay=0.05) as pub:
        good = [
            pub.submit({"channel": channel, "user": "u", "message": {"n": n}}) for n in range(3)
        ]
        bad = pub.submit({"channel": channel, "user": "u", "message": {}, "uuid": "not-a-uuid"})
        good.append(pub.submit({"channel": channel, "user": "u", "message": {"n": 3}}))
        with pytest.raises(APIError) as refused:
            bad.result(10)
        assert refused.value.status == 422 and "uuid" in refused.value.errors["0"]
        assert [future.result(10)["message"]["n"] for future in good] == [0, 1, 2, 3]
    assert [item["message"]["n"] for item in history(channelstream, channel)] == [0, 1, 2, 3]


def test_a_failure_of_the_whole_batch_reaches_every_caller(channelstream: ServerProcess) -> None:
    with Client(channelstream.url, "wrong-key") as client, Publisher(client) as publisher:
        futures = [publisher.submit({"channel": "c", "user": "u", "message": {}}) for _ in range(3)]
        for future in futures:
            with pytest.raises(APIError) as refused:
                future.result(10)
            assert refused.value.status == 401


def test_closing_sends_what_is_pending_and_refuses_more(channelstream: ServerProcess) -> None:
    channel = configured_channel(channelstream)
    with Client(channelstream.url, NEW_KEY) as client:
        publisher = Publisher(client, max_delay=5)  # would wait long, but close() flushes
        future = publisher.submit({"channel": channel, "user": "u", "message": {"n": 1}})
        publisher.close()
        assert future.result(0)["channel"] == channel
        with pytest.raises(RuntimeError):
            publisher.submit({"channel": channel, "user": "u", "message": {}})
    with pytest.raises(ValueError, match="channel or pm_users"):
        Publisher(client).submit({"user": "u", "message": {}})


def test_tasks_publishing_at_once_share_requests(channelstream: ServerProcess) -> None:
    channel = configured_channel(channelstream)
    counting = Counting()

    async def scenario() -> list[Any]:
        http = httpx.AsyncClient(event_hooks={"request": [counting.async_hook]})
        async with AsyncClient(channelstream.url, NEW_KEY, http_client=http) as client:
            async with AsyncPublisher(client, max_delay=0.005) as publisher:

                async def task(index: int) -> list[Any]:
                    return [
                        await publisher.publish(
                            {"channel": channel, "user": "a", "message": {"n": index * 100 + n}}
                        )
                        for n in range(EACH)
                    ]

                batches = await asyncio.gather(*(task(index) for index in range(THREADS)))
                bad = publisher.publish({"channel": channel, "user": "u", "uuid": "bad"})
                good = publisher.publish({"channel": channel, "user": "u", "message": {"n": -1}})
                results = await asyncio.gather(bad, good, return_exceptions=True)
        await http.aclose()
        assert isinstance(results[0], APIError) and results[0].status == 422
        assert isinstance(results[1], dict) and results[1]["message"] == {"n": -1}
        return [answer for batch in batches for answer in batch]

    answers = run_async(scenario())
    assert len({answer["uuid"] for answer in answers}) == THREADS * EACH
    assert len(history(channelstream, channel)) == THREADS * EACH + 1
    assert counting.posts <= EACH + 4, counting.posts
