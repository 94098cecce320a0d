"""This node's limits at work: what a /ws or /listen needs to be let in, and the rule a
WebSocket client's frames follow. The limits on users and channels hold for the whole
cluster and are the use cases' (``operations``) and the engine's; these are this node's.

Admission runs before the view, so before any upgrade: first the client address's upgrade
bucket (429, so that a flood is refused whatever else holds), then the node's room (503;
load balancers then try another node). A socket that takes the place of the same
connection's socket here adds nothing, and is always let in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from channelstream.errors import LimitReached
from channelstream.limits.buckets import AddressBuckets, PollCredits, Rate, TokenBucket
from channelstream.limits.refusals import CLIENT_MESSAGES, NODE_CONNECTIONS, UPGRADES, Refusals
from channelstream.settings import Settings

# Seconds a client refused by a full node is told to wait.
NODE_FULL_RETRY_AFTER = 5
# A long-poll that comes within this long of its connection's last one ending continues it.
POLL_CONTINUES_WITHIN = 10.0


class FrameRate(Rate):
    """client_messages_per_second, shared by every WebSocket session of the node: a session
    keeps its own bucket (made on its first frame) and asks ``take`` for every frame."""

    __slots__ = ("refusals",)

    def __init__(self, per_second: float, burst: int, refusals: Refusals) -> None:
        super().__init__(per_second, burst)
        self.refusals = refusals

    def allows(self, session: FramedSession) -> bool:
        """A frame arrived on the session, timed by the read it came in: whether it is
        within the rate (else counted and logged; the session closes itself)."""
        bucket = session.frame_bucket
        if bucket is None:
            bucket = session.frame_bucket = self.bucket(session.last_seen)
        if self.take(bucket, session.last_seen):
            return True
        try:
            # The peer's address (a proxy in front, if any: good enough for the log).
            address = str(session.sock.getpeername()[0])
        except (OSError, IndexError, TypeError, AttributeError):
            address = "unknown"
        self.refusals.refused(
            CLIENT_MESSAGES,
            address,
            f"connection {session.conn_id} sent frames faster than {self.per_second:g}/s "
            f"(burst {self.burst:g}): closed with 1008",
        )
        return False


class FramedSession(Protocol):
    """What ``FrameRate`` reads and keeps on a WebSocket session."""

    conn_id: str
    last_seen: float
    frame_bucket: TokenBucket | None
    sock: Any


class NodeLimits:
    def __init__(
        self,
        settings: Settings,
        attached: Mapping[str, Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The hub's live connections (conn_id -> attached transport): what the node serves.
        self._attached = attached
        self.max_connections = settings.max_connections
        self.refusals = Refusals(clock)
        self.upgrades: AddressBuckets | None = None
        per_second = settings.upgrades_per_second_per_address
        if per_second > 0:
            rate = Rate(per_second, settings.upgrades_burst_per_address)
            self.upgrades = AddressBuckets(rate, clock)
        self.polls = PollCredits(POLL_CONTINUES_WITHIN, clock)
        self.frames: FrameRate | None = None
        if settings.client_messages_per_second > 0:
            self.frames = FrameRate(
                settings.client_messages_per_second, settings.client_messages_burst, self.refusals
            )

    def admit(self, address: str, conn_id: str | None, *, poll: bool) -> None:
        """Let a /ws (or, with `poll`, a /listen) in, or raise ``LimitReached``."""
        replacing = conn_id is not None and conn_id in self._attached
        continuing = poll and not replacing and conn_id is not None and self.polls.follows(conn_id)
        if self.upgrades is not None and not continuing:
            wait = self.upgrades.take(address)
            if wait:
                rate = self.upgrades.rate
                raise LimitReached(
                    UPGRADES,
                    429,
                    "request",
                    f"Too many connections started from {address}: at most "
                    f"{rate.per_second:g} a second (burst {rate.burst:g}); retry later.",
                    retry_after=math.ceil(wait),
                )
        if self.max_connections and not replacing and len(self._attached) >= self.max_connections:
            raise LimitReached(
                NODE_CONNECTIONS,
                503,
                "request",
                f"This node serves its most connections ({self.max_connections}); retry, "
                "or another node.",
                retry_after=NODE_FULL_RETRY_AFTER,
            )

    def poll_ended(self, conn_id: str) -> None:
        self.polls.ended(conn_id)
