"""A held `/listen` request: it collects what arrives and answers as soon as there is any."""

from __future__ import annotations

import gevent
from gevent.event import Event as Signal

from channelstream.model.event import EventBatch


class LongPollTransport:
    __slots__ = ("_ready", "bodies", "closed")

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._ready = Signal()
        self.closed = False

    def send_batch(self, batch: EventBatch) -> None:
        self.bodies.extend(event.body for event in batch.events)
        self._ready.set()

    def send_bodies(self, bodies: list[bytes]) -> None:
        self.bodies.extend(bodies)
        self._ready.set()

    def heartbeat(self, now: float, ping_timeout: float) -> bool:
        return not self.closed

    def close(self, code: int, reason: str) -> None:
        self.closed = True
        self._ready.set()

    def wait(self, timeout: float) -> list[bytes]:
        """What arrived within the timeout; answers at once when something is waiting."""
        if not self.bodies and not self.closed:
            self._ready.wait(timeout)
            # Let events published in the same instant join this answer.
            gevent.sleep(0)
        return self.bodies
