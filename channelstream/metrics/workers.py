"""Several worker processes on one port reporting as one node: prometheus_client's
multiprocess mode over ``channelstream.metrics_dir``.

Each worker's metric values live in files of that directory named by its pid; a scrape,
whichever worker takes it, adds them all up (``MultiProcessCollector``). The workers are
independent processes (``reuse_port``; no parent forks them), so none may empty the
directory at start: each removes the files of processes that no longer run, which also
clears what a previous run left. A worker that dies leaves its counters until the next
start (they keep the node's totals whole meanwhile); its gauges go at the next scrape.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from prometheus_client import values
from prometheus_client.multiprocess import mark_process_dead

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"


def use_directory(directory: str) -> None:
    """Keep this process's metric values in `directory` from now on.

    prometheus_client picks where values live from the environment when it is first
    imported; the setting may name the directory later (an ini), so the library's own
    choice is made again once the variable is set.
    """
    Path(directory).mkdir(parents=True, exist_ok=True)
    os.environ[ENVIRONMENT] = directory
    values.ValueClass = values.get_value_class()
    remove_dead(directory, counters_too=True)


def remove_dead(directory: str, *, counters_too: bool = False) -> None:
    """Forget processes that no longer run: their gauges always, all of it at start."""
    for pid in sorted(_pids(directory)):
        if pid == os.getpid() or _running(pid):
            continue
        mark_process_dead(pid, directory)
        if counters_too:
            for path in Path(directory).glob(f"*_{pid}.db"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def leave(directory: str) -> None:
    """This worker stops: its gauges no longer count (its counters stay in the totals)."""
    mark_process_dead(os.getpid(), directory)


def _pids(directory: str) -> set[int]:
    found = set()
    for path in Path(directory).glob("*.db"):
        tail = path.stem.rpartition("_")[2]
        if tail.isdigit():
            found.add(int(tail))
    return found


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: running
    return True
