"""One test body for both clients: ``Client`` as it is, ``AsyncClient`` awaited on a loop of
its own (every call really goes through the async client and httpx's async transport)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from channelstream_client import AsyncClient, Client


class Awaited:
    """An AsyncClient whose coroutine methods are run to completion on a private loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = AsyncClient(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        def run(*args: Any, **kwargs: Any) -> Any:
            return self.loop.run_until_complete(attribute(*args, **kwargs))

        return run

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


FLAVOURS = ["sync", "async"]
Factory = Callable[..., Any]


def factory(flavour: str, made: list[Any]) -> Factory:
    def make(*args: Any, **kwargs: Any) -> Any:
        client = Client(*args, **kwargs) if flavour == "sync" else Awaited(*args, **kwargs)
        made.append(client)
        return client

    return make
