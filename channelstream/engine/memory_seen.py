"""The memory engine's side of publishing by uuid once only: the messages published within
``idempotency_window``, by stream and uuid, each with the event its publish answered."""

from __future__ import annotations

import collections

from channelstream.model.event import Event

# (channel, direct_to, uuid): one of the first two is None, so a channel and a user of the
# same name never share an entry.
SeenKey = tuple[str | None, str | None, str]


class RecentMessages:
    """What was published within the window: one dict lookup per publish to ask, one insert
    to remember.

    Bounded by the window: entries are remembered in the order of their publish (``now``
    only grows), so those whose window ended are at the front of ``expiries`` and each
    publish drops them first; what stays is what the last ``window`` seconds published.
    """

    __slots__ = ("answers", "expiries", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        # key -> (until when it counts, the event its publish answered).
        self.answers: dict[SeenKey, tuple[float, Event]] = {}
        # (until, key), oldest first: what to forget, without a walk over `answers`.
        self.expiries: collections.deque[tuple[float, SeenKey]] = collections.deque()

    def get(self, key: SeenKey, now: float) -> Event | None:
        """The event a publish of this key answered within the window, or None."""
        expiries = self.expiries
        while expiries and expiries[0][0] <= now:
            until, old = expiries.popleft()
            # A key published again once its window ended has a later entry: keep that.
            if self.answers.get(old, (None,))[0] == until:
                del self.answers[old]
        found = self.answers.get(key)
        # Checked again: a clock that went back may leave an ended entry behind a later one.
        return found[1] if found is not None and found[0] > now else None

    def remember(self, key: SeenKey, event: Event, now: float) -> None:
        until = now + self.window
        self.answers[key] = (until, event)
        self.expiries.append((until, key))

    def size(self) -> int:
        return len(self.answers)
