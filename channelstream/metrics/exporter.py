"""One application's metrics: the families, the registry a scrape reads, and the copy of
the node's figures into them (at every scrape, and every second in a group of workers,
so that a scrape taken by one worker finds the others' figures fresh).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from channelstream.metrics import figures, workers
from channelstream.metrics.families import Families
from channelstream.metrics.mirror import Mirror
from channelstream.metrics.process import ProcessFigures

if TYPE_CHECKING:
    from channelstream.concurrency import Job
    from channelstream.runtime import Runtime

# Seconds between two copies in a worker of a group: how stale another worker's figures
# may be in a scrape.
COPY_EVERY = 1.0


class Exporter:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.directory = runtime.state.settings.metrics_dir
        self.registry = CollectorRegistry()
        self.process: ProcessFigures | None = None
        if self.directory:
            workers.use_directory(self.directory)
            self.families = Families(None)
            self.process = ProcessFigures()
            MultiProcessCollector(self.registry, path=self.directory)
        else:
            self.families = Families(self.registry)
            ProcessCollector(registry=self.registry)
        self._mirror = Mirror(self.families)
        self._job: Job | None = None

    def copy(self) -> None:
        """The node's figures into the families, now."""
        self._mirror.apply(figures.read(self.runtime))
        if self.process is not None:
            self.process.copy()

    def scrape(self) -> bytes:
        """The text format of every metric: this process's, or the group's."""
        self.copy()
        if self.directory:
            workers.remove_dead(self.directory)
        return generate_latest(self.registry)

    # -- a runtime service -----------------------------------------------------------
    def start(self) -> None:
        if self.directory and self._job is None:
            self.copy()
            self._job = self.runtime.state.concurrency.every(COPY_EVERY, self.copy)

    def stop(self) -> None:
        if self._job is not None:
            self._job.stop()
            self._job = None
        if self.directory:
            workers.leave(self.directory)
