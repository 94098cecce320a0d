"""A group's directory: files of processes that no longer run are forgotten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from channelstream.metrics import workers


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_process_s_gauges_go_and_at_start_its_counters_too(tmp_path: Path) -> None:
    dead, mine = dead_pid(), os.getpid()
    for name in (f"counter_{dead}.db", f"gauge_livesum_{dead}.db", f"counter_{mine}.db"):
        (tmp_path / name).write_bytes(b"")
    workers.remove_dead(str(tmp_path))
    assert {p.name for p in tmp_path.iterdir()} == {f"counter_{dead}.db", f"counter_{mine}.db"}
    workers.remove_dead(str(tmp_path), counters_too=True)
    assert [p.name for p in tmp_path.iterdir()] == [f"counter_{mine}.db"]


def test_leaving_removes_only_this_process_s_live_gauges(tmp_path: Path) -> None:
    mine = os.getpid()
    for name in (f"counter_{mine}.db", f"gauge_livemax_{mine}.db", f"gauge_livesum_{mine}.db"):
        (tmp_path / name).write_bytes(b"")
    workers.leave(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [f"counter_{mine}.db"]
