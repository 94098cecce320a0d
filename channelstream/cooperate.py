"""Long loops give other clients a turn.

Under gevent a greenlet runs until it waits, so one call that joins a thousand channels or
publishes ten thousand messages would stall every other socket of the node meanwhile.
Loops over what one call names pass through ``in_turns``, which yields to the event loop
every ``EVERY`` items. Outside gevent (embedded in a threaded server) threads are preempted
anyway, and nothing is done.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

# About a millisecond of work between two turns for the cheapest loops.
EVERY = 100


# The longest a turn waits for the loop to go idle: on a node that never is, a long call
# still moves on (one slice per this many seconds at worst).
MAX_TURN = 0.05


def pause() -> None:
    """Let the event loop serve what is waiting (when gevent has patched this process).

    Not ``sleep(0)``: it runs other ready greenlets, but may come back before the loop has
    polled for I/O, so a client whose request had just arrived still waited (measured: no
    shorter stall than without it). ``idle`` comes back once the loop has nothing pending
    (about 2 us when nothing is); a short sleep would cost a millisecond per turn."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        import gevent

        with gevent.Timeout(MAX_TURN, False):
            gevent.idle()


def in_turns(items: Iterable[Item], every: int = EVERY) -> Iterator[Item]:
    for index, item in enumerate(items, 1):
        yield item
        if index % every == 0:
            pause()


def slices(items: list[Item], size: int) -> Iterator[list[Item]]:
    """`items` in consecutive slices of `size`, with a turn between two slices."""
    for start in range(0, len(items), size):
        if start:
            pause()
        yield items[start : start + size]
