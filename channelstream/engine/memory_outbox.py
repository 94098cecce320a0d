"""The memory engine's outbox: the presence transitions it decided, in this process.

One node, so the lease only keeps a second sender in the same process (a test, an embedding
with two runtimes on one engine) from sending the same batch; it is timed by the monotonic
clock, like the Redis engine's is by Redis' own.
"""

from __future__ import annotations

import collections
import time
import uuid

from channelstream.engine.base import OutboxBatch, OutboxState, Transition


class MemoryOutbox:
    def _setup_outbox(self) -> None:
        self._keep: frozenset[str] = frozenset()
        self._cap = 0
        self._waiting: collections.deque[Transition] = collections.deque()
        self._seq = 0
        self._epoch = uuid.uuid4().hex[:12]
        self._dropped = 0
        self._dropped_since_take = 0
        self._holder = ""
        self._lease_until = 0.0
        self._report: dict[str, str] = {}

    def _record(self, name: str, now: float, channel: str | None, user: str | None) -> None:
        if name not in self._keep:
            return
        self._seq += 1
        self._waiting.append(Transition(self._seq, name, int(now * 1000), channel, user))
        if len(self._waiting) > self._cap:
            self._waiting.popleft()
            self._dropped += 1
            self._dropped_since_take += 1

    def keep_transitions(self, names: frozenset[str], cap: int) -> None:
        self._keep = frozenset(names)
        self._cap = cap

    def take_transitions(self, holder: str, *, lease: float, limit: int) -> OutboxBatch | None:
        now = time.monotonic()
        if self._holder not in ("", holder) and self._lease_until > now:
            return None
        self._holder, self._lease_until = holder, now + lease
        dropped, self._dropped_since_take = self._dropped_since_take, 0
        taken = [self._waiting[index] for index in range(min(limit, len(self._waiting)))]
        return OutboxBatch(self._epoch, taken, dropped)

    def drop_transitions(self, epoch: str, upto: int) -> int:
        if epoch != self._epoch:
            return 0
        gone = 0
        while self._waiting and self._waiting[0].seq <= upto:
            self._waiting.popleft()
            gone += 1
        return gone

    def release_outbox(self, holder: str) -> None:
        if self._holder == holder:
            self._holder, self._lease_until = "", 0.0

    def report_outbox(self, values: dict[str, str], increments: dict[str, int]) -> None:
        self._report.update(values)
        for key, step in increments.items():
            self._report[key] = str(int(self._report.get(key, "0")) + step)

    def outbox_state(self) -> OutboxState:
        return OutboxState(len(self._waiting), self._dropped, dict(self._report))
