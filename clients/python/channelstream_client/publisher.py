"""Publishers: many concurrent publishes, few requests.

A backend that publishes from many threads (or tasks) at once pays one HTTP round trip per
message. A publisher sends one ``POST /message`` at a time: a message submitted while it is
idle goes out at once, and everything submitted while a request is in flight goes out
together in the next one (up to ``max_batch``), each caller getting its own answer. Under
load, batches grow instead of requests multiplying, and messages go out in the order they
were submitted. ``max_delay`` (seconds, 0 by default) waits that much longer before each
request to gather more: fewer, bigger requests for a little latency.

One bad message does not fail its neighbours: when the server refuses a batch with 422
(it names the bad items by index), the bad ones get their own ``APIError`` and the rest are
sent again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from channelstream_client import _calls
from channelstream_client.async_client import AsyncClient
from channelstream_client.client import Client
from channelstream_client.errors import APIError
from channelstream_client.types import Message, PublishedMessage

DEFAULT_DELAY = 0.0
DEFAULT_BATCH = 100


def split_refusal(error: APIError, size: int) -> dict[int, APIError] | None:
    """Per-item errors of a 422 that names items by index; None when it names none (then
    the whole batch failed for one reason and every caller gets the error)."""
    if error.status != 422 or not isinstance(error.errors, dict):
        return None
    failed: dict[int, APIError] = {}
    for key, messages in error.errors.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < size):
            return None
        failed[int(key)] = APIError(422, {"0": messages}, error.method, error.path)
    return failed or None


class _Batcher:
    """What both publishers share: checking messages and splitting a refused batch."""

    def __init__(self, max_delay: float, max_batch: int) -> None:
        if max_delay < 0 or max_batch < 1:
            raise ValueError("max_delay must be >= 0 and max_batch >= 1")
        self.max_delay = max_delay
        self.max_batch = max_batch

    @staticmethod
    def prepared(message: Message) -> Message:
        return _calls.with_uuid(message)  # raises at once for a message without a destination


class Publisher(_Batcher):
    """Gathers ``publish`` calls made by many threads into shared ``POST /message`` calls.

    ``publish(message)`` blocks until the batch holding it is answered and returns the
    message's own answer; ``submit`` returns a ``concurrent.futures.Future`` instead.
    ``close()`` (or leaving the ``with`` block) sends what is pending and stops the thread.
    """

    def __init__(
        self,
        client: Client,
        *,
        max_delay: float = DEFAULT_DELAY,
        max_batch: int = DEFAULT_BATCH,
    ) -> None:
        super().__init__(max_delay, max_batch)
        self.client = client
        self._pending: list[tuple[Message, Future[PublishedMessage]]] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="channelstream-publisher", daemon=True
        )
        self._thread.start()

    def submit(self, message: Message) -> Future[PublishedMessage]:
        item = self.prepared(message)
        future: Future[PublishedMessage] = Future()
        with self._wake:
            if self._closed:
                raise RuntimeError("the publisher is closed")
            self._pending.append((item, future))
            self._wake.notify()
        return future

    def publish(self, message: Message, timeout: float | None = None) -> PublishedMessage:
        return self.submit(message).result(timeout)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:
                    return  # closed and drained
                if self.max_delay and not self._closed and len(self._pending) < self.max_batch:
                    # Give the other threads a moment to add theirs.
                    self._wake.wait_for(
                        lambda: self._closed or len(self._pending) >= self.max_batch,
                        self.max_delay,
                    )
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            self._send(batch)

    def _send(self, batch: list[tuple[Message, Future[PublishedMessage]]]) -> None:
        # A caller may have cancelled its future; once running, it cannot be cancelled.
        batch = [item for item in batch if item[1].set_running_or_notify_cancel()]
        while batch:
            try:
                answers = self.client.publish([message for message, _ in batch])
            except Exception as error:  # every caller must hear, whatever it was
                batch = _after_refusal(batch, error)
                continue
            _answer(batch, answers)
            return


class AsyncPublisher(_Batcher):
    """``Publisher`` for asyncio tasks: ``await publisher.publish(message)``.

    Make it inside the running loop; ``await publisher.aclose()`` sends what is pending.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        max_delay: float = DEFAULT_DELAY,
        max_batch: int = DEFAULT_BATCH,
    ) -> None:
        super().__init__(max_delay, max_batch)
        self.client = client
        self._pending: list[tuple[Message, asyncio.Future[PublishedMessage]]] = []
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def publish(self, message: Message) -> PublishedMessage:
        if self._closed:
            raise RuntimeError("the publisher is closed")
        item = self.prepared(message)
        future: asyncio.Future[PublishedMessage] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run())
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        self._closed = True
        self._full.set()
        if self._flusher is not None:
            await self._flusher

    async def __aenter__(self) -> AsyncPublisher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self) -> None:
        while self._pending:
            if self.max_delay and not self._closed and len(self._pending) < self.max_batch:
                try:
                    await asyncio.wait_for(self._full.wait(), self.max_delay)
                except asyncio.TimeoutError:
                    pass
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            if len(self._pending) < self.max_batch and not self._closed:
                self._full.clear()
            await self._send(batch)

    async def _send(self, batch: list[tuple[Message, asyncio.Future[PublishedMessage]]]) -> None:
        while batch:
            try:
                answers = await self.client.publish([message for message, _ in batch])
            except Exception as error:  # every caller must hear, whatever it was
                batch = _after_refusal(batch, error)
                continue
            _answer(batch, answers)
            return


def _after_refusal(batch: list[Any], error: Exception) -> list[Any]:
    """What to send again after a failed request: nothing when the error concerns the
    whole batch (every caller gets it), the other items when a 422 named bad ones (those
    callers get their own error)."""
    failed = split_refusal(error, len(batch)) if isinstance(error, APIError) else None
    if failed is None:
        _fail(batch, error)
        return []
    for index, item_error in failed.items():
        _settle(batch[index][1], error=item_error)
    return [item for index, item in enumerate(batch) if index not in failed]


def _settle(future: Any, value: Any = None, error: BaseException | None = None) -> None:
    """Resolve a thread or asyncio future once (a caller may have cancelled it)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _fail(batch: Sequence[tuple[Message, Any]], error: BaseException) -> None:
    for _message, future in batch:
        _settle(future, error=error)


def _answer(batch: Sequence[tuple[Message, Any]], answers: list[PublishedMessage]) -> None:
    by_uuid = {answer.get("uuid"): answer for answer in answers}
    for message, future in batch:
        answer = by_uuid.get(message["uuid"])
        if answer is None:
            _settle(future, error=APIError(500, {"uuid": ["Missing from the answer."]}))
        else:
            _settle(future, answer)
