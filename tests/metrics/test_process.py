"""A worker's own process figures, copied into the gauges a group combines."""

from __future__ import annotations

from channelstream.metrics.process import CPU, GAUGES, ProcessFigures


def test_the_process_figures_are_copied() -> None:
    figures = ProcessFigures()
    figures.copy()
    collected = {
        sample.name: sample.value
        for gauge in figures._gauges.values()
        for family in gauge.collect()
        for sample in family.samples
    }
    assert set(collected) == set(GAUGES)
    assert collected["process_resident_memory_bytes"] > 0
    assert collected["process_open_fds"] > 0
    cpu = [s.value for f in figures._cpu.collect() for s in f.samples if s.name == CPU]
    assert cpu and cpu[0] >= 0
