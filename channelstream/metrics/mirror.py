"""Copies a ``Reading`` into the families: counters by what they grew, gauges set.

The node's figures are plain totals since start; prometheus_client's counters only grow
by increments. The mirror remembers what it last copied, per family and labels, and adds
the difference: in a group of workers each worker's increments land in its own file, and
the scrape adds the files up. A total that went down (a restarted part) is taken as the
new base, never as a negative increment.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

from channelstream.metrics.families import Families
from channelstream.metrics.figures import Reading


class Mirror:
    def __init__(self, families: Families) -> None:
        self.families = families
        self._copied: dict[tuple[str, tuple[str, ...]], float] = {}

    def apply(self, reading: Reading) -> None:
        for name, samples in reading.items():
            family: Any = getattr(self.families, name)
            counter = isinstance(family, Counter)
            for labels, value in samples.items():
                child = family.labels(*labels) if labels else family
                if not counter:
                    child.set(value)
                    continue
                key = (name, labels)
                grown = value - self._copied.get(key, 0.0)
                if grown > 0:
                    child.inc(grown)
                self._copied[key] = value
