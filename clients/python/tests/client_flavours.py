"""One test body for both clients: ``Client`` as it is, ``AsyncClient`` awaited on a loop of
its own (every call really goes through the async client and httpx's async transport).

The loop runs in a thread of its own: the browser tests' Playwright (sync API) keeps an
event loop running in the main thread for the whole session, and a second loop cannot run
there."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from channelstream_client import AsyncClient, Client

T = TypeVar("T")


class LoopThread:
    """An event loop running in its own thread; ``run`` waits for one coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` that works even where the calling thread already runs a loop."""
    runner = LoopThread()
    try:
        return runner.run(coroutine)
    finally:
        runner.stop()


class Awaited:
    """An AsyncClient whose coroutine methods are run to completion on a private loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.runner = LoopThread()
        self.client = AsyncClient(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        def run(*args: Any, **kwargs: Any) -> Any:
            return self.runner.run(attribute(*args, **kwargs))

        return run

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.stop()


FLAVOURS = ["sync", "async"]
Factory = Callable[..., Any]


def factory(flavour: str, made: list[Any]) -> Factory:
    def make(*args: Any, **kwargs: Any) -> Any:
        client = Client(*args, **kwargs) if flavour == "sync" else Awaited(*args, **kwargs)
        made.append(client)
        return client

    return make
