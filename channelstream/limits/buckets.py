"""Token buckets: a rate on average, a burst at once.

A bucket holds up to ``burst`` tokens and gains ``per_second`` of them every second; each
thing it allows takes one. The rule (``Rate``) is shared by every bucket of one kind, so a
bucket itself is two numbers: a WebSocket session keeps one for its frames, and
``AddressBuckets`` one per client address for upgrades.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

# At most this many client addresses are remembered (about 150 bytes each): past it the
# least recently seen are forgotten first, which only gives them a full bucket again.
MAX_ADDRESSES = 100_000


class TokenBucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        # When the tokens were counted (the last time the bucket was used).
        self.stamp = stamp


class Rate:
    """The rule of one kind of bucket. A bucket unused for ``refill_seconds`` is full again,
    the same as a new one: that is when a bucket may be forgotten."""

    __slots__ = ("burst", "per_second", "refill_seconds")

    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = float(burst)
        self.refill_seconds = burst / per_second

    def bucket(self, now: float) -> TokenBucket:
        return TokenBucket(self.burst, now)

    def take(self, bucket: TokenBucket, now: float) -> bool:
        """Take a token if there is one. Runs for every frame a client sends: plain float
        arithmetic on two slots, nothing else allocated."""
        elapsed = now - bucket.stamp
        if elapsed > 0:  # a clock that went back refills nothing
            tokens = bucket.tokens + elapsed * self.per_second
            bucket.tokens = tokens if tokens < self.burst else self.burst
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def wait(self, bucket: TokenBucket) -> float:
        """Seconds until the bucket holds a token again."""
        return max(0.0, (1.0 - bucket.tokens) / self.per_second)


class AddressBuckets:
    """One bucket per client address, kept in order of last use: the least recently used
    are looked at first, and forgotten once they are full again (or when there are more
    than ``max_addresses``), so memory stays bounded whatever addresses come."""

    def __init__(
        self,
        rate: Rate,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._max = max_addresses
        self._buckets: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()

    def take(self, address: str) -> float:
        """0 when the address may go on (a token taken); otherwise the seconds it must wait."""
        now = self._clock()
        buckets = self._buckets
        bucket = buckets.get(address)
        if bucket is None:
            bucket = buckets[address] = self.rate.bucket(now)
        else:
            buckets.move_to_end(address)
        allowed = self.rate.take(bucket, now)
        self._forget(now)
        return 0.0 if allowed else max(self.rate.wait(bucket), 1e-3)

    def _forget(self, now: float) -> None:
        buckets = self._buckets
        refill = self.rate.refill_seconds
        while buckets:
            oldest = next(iter(buckets.values()))
            if now - oldest.stamp < refill and len(buckets) <= self._max:
                return
            buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class PollCredits:
    """Long-polls that continue their connection's previous poll on this node.

    A long-polling client asks again as soon as it is answered: on a busy channel, many
    times a second, and behind one office NAT hundreds of clients do. Such a poll is no new
    upgrade; a poll counts as one when it comes more than ``within`` seconds after the
    connection's last poll here ended, or while another is held for it (polls that replace
    each other as fast as they can). Each ended poll lets exactly one next poll through.
    """

    def __init__(
        self,
        within: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ADDRESSES,
    ) -> None:
        self.within = within
        self._clock = clock
        self._max = max_entries
        self._ended: collections.OrderedDict[str, float] = collections.OrderedDict()

    def ended(self, conn_id: str) -> None:
        now = self._clock()
        ended = self._ended
        ended[conn_id] = now
        ended.move_to_end(conn_id)
        while ended:
            oldest = next(iter(ended.values()))
            if now - oldest <= self.within and len(ended) <= self._max:
                return
            ended.popitem(last=False)

    def follows(self, conn_id: str) -> bool:
        """Whether this poll continues the connection's last one (and uses that up)."""
        at = self._ended.pop(conn_id, None)
        return at is not None and self._clock() - at <= self.within

    def __len__(self) -> int:
        return len(self._ended)
