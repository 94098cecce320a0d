"""A held `/listen` request: it collects what arrives and answers a moment after the first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channelstream.model.event import EventBatch

if TYPE_CHECKING:
    from channelstream.concurrency import Signal

# Seconds a held poll keeps gathering after its first event. 0.7.1 waited until 0.25 s
# passed without a new event, so a steady trickle held answers for seconds.
GATHER = 0.003
# A poll that finds events already waiting belongs to a client that is behind: each poll
# costs a whole HTTP request, so it gathers longer. Measured (bench longpoll_max, 200
# clients): 10 ms -> 138k deliveries/s, 25 ms -> 336k; at 20 msgs/s (polls that start
# empty) p50 stayed 12-18 ms.
GATHER_BUSY = 0.025
# Events that make an answer worth sending without gathering more.
FULL = 200


class LongPollTransport:
    __slots__ = ("_ready", "bodies", "closed")
    kind = "longpoll"

    def __init__(self, ready: Signal) -> None:
        self.bodies: list[bytes] = []
        # Set when there is something to answer: a gevent event, or in a threaded host a
        # condition that another thread sets (channelstream.concurrency).
        self._ready = ready
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
        """What arrived within the timeout, answered a moment after the first event so that
        under load one answer carries many events (every poll costs a whole HTTP request)
        while latency stays low. A poll that starts with catch-up waiting belongs to a busy
        client, and gathers longer; at once when FULL."""
        if self.closed:
            return self.bodies
        gather = GATHER_BUSY if self.bodies else GATHER
        if not self.bodies and not self._ready.wait(timeout):
            return self.bodies
        if len(self.bodies) < FULL and not self.closed:
            self._ready.pause(gather)
        return self.bodies
