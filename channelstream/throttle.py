"""Sign-in guessing, slowed: wrong passwords are counted per client address and per user
name, and past a few free ones each key is locked out for a window that doubles with every
further failure.

An address gets ``ADDRESS_FREE`` wrong passwords; then it waits 1 s, and after each further
failure twice as long (2 s, 4 s...), up to ``MAX_LOCKOUT``, before its next try. A user
name gets more free failures (``NAME_FREE``), since many addresses may guess it at once and
its lockout also keeps the real admin out; a backend holding the API signature is never
locked out of the admin API. A key is forgotten ``FORGET_AFTER`` seconds after its last
failure, a successful sign-in forgets its address, and at most ``MAX_KEYS`` keys are kept
(the oldest go first), so spraying addresses cannot fill memory. Each node counts on its own.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable, Iterable

ADDRESS_FREE = 5
NAME_FREE = 20
FIRST_LOCKOUT = 1.0
MAX_LOCKOUT = 300.0
FORGET_AFTER = 900.0
MAX_KEYS = 10_000


@dataclasses.dataclass
class _Failures:
    count: int
    last: float
    locked_until: float


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: collections.OrderedDict[tuple[str, str], _Failures] = collections.OrderedDict()

    def retry_after(self, address: str, username: str) -> float:
        """Seconds before this address may try this user name again; 0 when it may now."""
        now = self._clock()
        wait = 0.0
        for key in self._pair(address, username):
            found = self._live(key, now)
            if found is not None:
                wait = max(wait, found.locked_until - now)
        return wait

    def failed(self, address: str, username: str) -> None:
        now = self._clock()
        for key, free in zip(self._pair(address, username), (ADDRESS_FREE, NAME_FREE), strict=True):
            found = self._live(key, now) or _Failures(0, now, now)
            found.count += 1
            found.last = now
            if found.count >= free:
                doublings = min(found.count - free, 30)  # past MAX_LOCKOUT long before
                lockout = min(MAX_LOCKOUT, FIRST_LOCKOUT * 2**doublings)
                found.locked_until = now + lockout
            self._keys[key] = found
            self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._keys.pop(("address", address), None)

    @staticmethod
    def _pair(address: str, username: str) -> Iterable[tuple[str, str]]:
        return (("address", address), ("user", username))

    def _live(self, key: tuple[str, str], now: float) -> _Failures | None:
        found = self._keys.get(key)
        if found is not None and now - found.last > FORGET_AFTER and now >= found.locked_until:
            del self._keys[key]
            return None
        return found
