"""When the hub flushes gathered events: as soon as the event loop is free, or a little later
when the previous flush was expensive.

Waiting as long as the last flush took lets the work per socket be paid per batch under
load, and costs nothing when idle (the first event after a quiet spell goes out at the end
of the current loop iteration). The wait is capped so latency stays bounded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gevent

log = logging.getLogger(__name__)

# Latency we accept to add under load; the p99 target at 10 msgs/s is 50 ms.
MAX_DELAY = 0.02
# Flushes cheaper than this are not worth delaying the next one for.
MIN_DELAY = 0.0005


class CoalescingSchedule:
    def __init__(self, max_delay: float = MAX_DELAY) -> None:
        self.max_delay = max_delay
        self.last_cost = 0.0
        self._last_end = 0.0

    def __call__(self, flush: Callable[[], None]) -> None:
        delay = min(self.last_cost, self.max_delay) - (time.perf_counter() - self._last_end)
        loop = gevent.get_hub().loop
        if delay < MIN_DELAY:
            loop.run_callback(self._run, flush)
        else:
            timer = loop.timer(delay)
            timer.start(self._run, flush, timer)

    def _run(self, flush: Callable[[], None], timer: object = None) -> None:
        started = time.perf_counter()
        try:
            flush()
        except Exception:
            # Runs in gevent's hub: an exception here must be logged, not lost.
            log.exception("flushing events failed")
        self._last_end = time.perf_counter()
        self.last_cost = self._last_end - started
        if timer is not None:
            timer.close()  # type: ignore[attr-defined]
