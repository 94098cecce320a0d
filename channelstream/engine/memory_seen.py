"""The memory engine's side of publishing by uuid once only: the messages published within
``idempotency_window``, by stream and uuid, each with the bytes its publish answered."""

from __future__ import annotations

import collections

# (channel, direct_to, uuid): one of the first two is None, so a channel and a user of the
# same name never share an entry.
SeenKey = tuple[str | None, str | None, str]
# (until when it counts, its key, the stamped payload's JSON): one tuple, in the dict and
# in the queue of expiries both. Nothing in it refers to a container, so the garbage
# collector soon stops tracking it, and the event itself is not kept alive.
Entry = tuple[float, SeenKey, bytes]


class RecentMessages:
    """What was published within the window: one dict lookup per publish to ask, one insert
    to remember.

    Bounded by the window: entries are remembered in the order of their publish (``now``
    only grows), so those whose window ended are at the front of ``expiries``, and each
    publish drops them before it asks; what stays is what the last ``window`` seconds
    published (about 250 bytes and the payload's JSON each).
    """

    __slots__ = ("answers", "expiries", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.answers: dict[SeenKey, Entry] = {}
        # Oldest first: what to forget, without a walk over `answers`.
        self.expiries: collections.deque[Entry] = collections.deque()

    def get(self, key: SeenKey, now: float) -> bytes | None:
        """What a publish of this key answered within the window, or None."""
        self.forget(now)
        return self.answered(key, now)

    def forget(self, now: float) -> None:
        """Drop the entries whose window ended by `now`. A list of publishes at one `now`
        calls this once, then ``answered`` for each: what it remembers meanwhile ends
        after `now`, so nothing more would be dropped between two of them."""
        expiries = self.expiries
        answers = self.answers
        while expiries and expiries[0][0] <= now:
            ended = expiries.popleft()
            # A key published again once its window ended has a newer entry: keep that.
            if answers.get(ended[1]) is ended:
                del answers[ended[1]]

    def answered(self, key: SeenKey, now: float) -> bytes | None:
        """``get`` without dropping ended entries first (``forget`` did, at this `now`)."""
        found = self.answers.get(key)
        # Checked again: a clock that went back may leave an ended entry behind a later one.
        return found[2] if found is not None and found[0] > now else None

    def remember(self, key: SeenKey, body: bytes, now: float) -> None:
        entry = (now + self.window, key, body)
        self.answers[key] = entry
        self.expiries.append(entry)

    def size(self) -> int:
        return len(self.answers)
