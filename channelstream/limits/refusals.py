"""Every refusal a limit makes: counted by limit, logged at most once a minute per address.

``Refusals.counts`` is the one place the counts live (this process's, since it started):
{limit name: refusals}, every limit listed from the start, at 0. ``listeners`` are called
with the limit's name on every refusal (a metrics exporter counts there). A flood from one
address makes one log line a minute, and the next line says how many went unlogged.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Callable

log = logging.getLogger("channelstream.limits")

# The limits, named by their settings.
PER_USER = "max_connections_per_user"
CHANNELS_PER_CONNECTION = "max_channels_per_connection"
NODE_CONNECTIONS = "max_connections"
UPGRADES = "upgrades_per_second_per_address"
CLIENT_MESSAGES = "client_messages_per_second"
LIMITS = (PER_USER, CHANNELS_PER_CONNECTION, NODE_CONNECTIONS, UPGRADES, CLIENT_MESSAGES)

LOG_EVERY = 60.0
# Addresses whose last line is remembered; more are forgotten oldest first (an address
# forgotten early may log again sooner, nothing worse).
MAX_LOGGED_ADDRESSES = 10_000


@dataclasses.dataclass
class _Logged:
    at: float
    unlogged: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


class Refusals:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_LOGGED_ADDRESSES,
    ) -> None:
        self.counts: dict[str, int] = dict.fromkeys(LIMITS, 0)
        self.listeners: list[Callable[[str], None]] = []
        self._clock = clock
        self._max = max_addresses
        self._logged: collections.OrderedDict[str, _Logged] = collections.OrderedDict()

    def refused(self, limit: str, address: str, detail: str) -> None:
        """Count a refusal by `limit` of a client at `address`; log it unless this address
        was logged less than a minute ago."""
        self.counts[limit] = self.counts.get(limit, 0) + 1
        for listener in self.listeners:
            listener(limit)
        now = self._clock()
        logged = self._logged
        last = logged.get(address)
        if last is not None and now - last.at < LOG_EVERY:
            last.unlogged[limit] += 1
            return
        unlogged = _unlogged(last)
        log.warning("refused %s (%s): %s%s", address, limit, detail, unlogged and "; " + unlogged)
        logged[address] = _Logged(now)
        logged.move_to_end(address)
        while logged:
            oldest_address, oldest = next(iter(logged.items()))
            expired = now - oldest.at >= LOG_EVERY
            if not expired and len(logged) <= self._max:
                break
            logged.popitem(last=False)
            if expired and oldest.unlogged:
                # Its minute is over: say what it went on doing, rather than forget it.
                log.warning("refused %s: %s", oldest_address, _unlogged(oldest))

    def __len__(self) -> int:
        """Addresses whose last line is remembered."""
        return len(self._logged)


def _unlogged(last: _Logged | None) -> str:
    if last is None or not last.unlogged:
        return ""
    items = ", ".join(f"{count} by {name}" for name, count in sorted(last.unlogged.items()))
    return f"unlogged since its last line: {items}"
