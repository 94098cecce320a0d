"""The process collector's figures for a group of workers.

prometheus_client's ``ProcessCollector`` reads /proc for the process it runs in, and its
multiprocess mode leaves it out. Here each worker copies its own figures into gauges and a
counter of the same names, which the scrape combines: memory, descriptors and CPU time add
up, the limit of descriptors is the largest, the start time the earliest.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, ProcessCollector

# name -> how workers combine (a gauge's multiprocess mode).
GAUGES = {
    "process_virtual_memory_bytes": "livesum",
    "process_resident_memory_bytes": "livesum",
    "process_open_fds": "livesum",
    "process_max_fds": "livemax",
    "process_start_time_seconds": "livemin",
}
CPU = "process_cpu_seconds_total"


class ProcessFigures:
    def __init__(self) -> None:
        self._source = ProcessCollector(registry=None)
        self._gauges = {
            name: Gauge(name, f"{name} (all workers)", registry=None, multiprocess_mode=mode)  # type: ignore[arg-type]
            for name, mode in GAUGES.items()
        }
        self._cpu = Counter(
            CPU, "Total user and system CPU time of all workers, seconds.", registry=None
        )
        self._cpu_copied = 0.0

    def copy(self) -> None:
        for family in self._source.collect():
            for sample in family.samples:
                gauge = self._gauges.get(sample.name)
                if gauge is not None:
                    gauge.set(sample.value)
                elif sample.name == CPU and sample.value > self._cpu_copied:
                    self._cpu.inc(sample.value - self._cpu_copied)
                    self._cpu_copied = sample.value
