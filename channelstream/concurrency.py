"""How this process runs concurrent work: greenlets or OS threads.

Served by channelstream's runner (or any host that gevent-patches first), requests and
background jobs are greenlets. Engines and the hub never yield, so each call into them is
atomic and needs no lock; the hub flushes gathered events at the end of gevent's loop
iteration; a held long-poll waits on a gevent event.

Embedded in a threaded host that does not patch (waitress, a WSGI server of threads), that
reasoning breaks, so the ``Threaded`` runtime serialises instead: every call into the state
(each channelstream view, each background job, each envelope from the Redis engine's bus
thread) runs under one lock; a held long-poll waits on a condition of that lock, which frees
the lock while it waits and is woken by the publishing thread; the hub flushes at once;
background jobs are daemon threads. Under a GIL one lock costs no parallelism worth having,
and a threaded host serves the backend side, not thousands of sockets (docs/embedding.md).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from greenlet import GreenletExit

from channelstream.delivery.hub import Schedule, flush_now

log = logging.getLogger(__name__)


class Signal(Protocol):
    """Wakes a held long-poll."""

    def set(self) -> None: ...

    def wait(self, timeout: float) -> bool:
        """Until set (True) or the timeout passes (False)."""

    def pause(self, seconds: float) -> None:
        """Let others run for a while (a poll gathers what follows its first event)."""


class Job(Protocol):
    def stop(self) -> None: ...


class Concurrency(Protocol):
    threaded: bool
    # Held around every call into the state: a no-op under gevent.
    guard: contextlib.AbstractContextManager[Any]

    def signal(self) -> Signal: ...

    def every(self, interval: float, job: Callable[[], object], *, guarded: bool = True) -> Job:
        """Run `job` every `interval` seconds after the previous run ended. Unguarded, a
        threaded runtime runs it outside the state's guard: a job that waits on the network
        (the webhook sender) takes the guard itself around its calls into the state."""

    def schedule(self) -> Schedule: ...


def _run_logged(job: Callable[[], object]) -> None:
    try:
        job()
    except Exception:
        log.exception("background task %s failed", getattr(job, "__name__", job))
    except BaseException as exc:
        # gevent's Timeout is a BaseException: one that escaped the code it was meant for
        # must not end a background loop for good (the node would stop collecting, or
        # sampling, silently). Stopping the loop (GreenletExit) and exiting still do.
        if isinstance(exc, (GreenletExit, SystemExit, KeyboardInterrupt)):
            raise
        log.exception("background task %s failed", getattr(job, "__name__", job))


# -- gevent ------------------------------------------------------------------------------
class GreenSignal:
    def __init__(self) -> None:
        from gevent.event import Event

        self._event = Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        return bool(self._event.wait(timeout))

    def pause(self, seconds: float) -> None:
        import gevent

        gevent.sleep(seconds)


class GreenletJob:
    def __init__(self, interval: float, job: Callable[[], object]) -> None:
        import gevent

        def loop() -> None:
            while True:
                gevent.sleep(interval)
                _run_logged(job)

        self._greenlet = gevent.spawn(loop)

    def stop(self) -> None:
        self._greenlet.kill()


class Cooperative:
    threaded = False
    guard: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()

    def signal(self) -> Signal:
        return GreenSignal()

    def every(self, interval: float, job: Callable[[], object], *, guarded: bool = True) -> Job:
        return GreenletJob(interval, job)

    def schedule(self) -> Schedule:
        from channelstream.realtime.scheduling import CoalescingSchedule

        return CoalescingSchedule()


# -- threads -----------------------------------------------------------------------------
class ThreadSignal:
    """A held poll's wake-up: a condition of the state lock, so that waiting frees the lock
    for the thread that publishes (and sets this signal under it)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._condition = threading.Condition(lock)
        self._set = False

    def set(self) -> None:
        with self._condition:
            self._set = True
            self._condition.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self._set, timeout)

    def pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._condition:
            while (left := deadline - time.monotonic()) > 0:
                self._condition.wait(left)


class ThreadJob:
    def __init__(self, interval: float, job: Callable[[], object], guard: Any) -> None:
        self._stopping = threading.Event()

        def loop() -> None:
            while not self._stopping.wait(interval):
                with guard:
                    _run_logged(job)

        name = f"channelstream-{getattr(job, '__name__', 'job')}"
        self._thread = threading.Thread(target=loop, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5)


class Threaded:
    threaded = True

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.guard: contextlib.AbstractContextManager[Any] = self.lock

    def signal(self) -> Signal:
        return ThreadSignal(self.lock)

    def every(self, interval: float, job: Callable[[], object], *, guarded: bool = True) -> Job:
        return ThreadJob(interval, job, self.guard if guarded else contextlib.nullcontext())

    def schedule(self) -> Schedule:
        # No event loop to flush at the end of: the publishing thread flushes, under the lock.
        return flush_now


# -- which one ---------------------------------------------------------------------------
def serves_with_gevent() -> bool:
    """Greenlets when threading is gevent-patched, or when channelstream's runner serves
    this process (``pserve`` imports it before the application; under ``--reload`` it
    patches only once it starts serving)."""
    if "channelstream.server" in sys.modules:
        return True
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return bool(monkey.is_module_patched("threading"))


_runtime: Concurrency | None = None


def for_this_process() -> Concurrency:
    """One runtime per process (one state, one lock), chosen at its first use."""
    global _runtime
    if _runtime is None:
        _runtime = Cooperative() if serves_with_gevent() else Threaded()
        log.info(
            "channelstream runs its work in %s", "threads" if _runtime.threaded else "greenlets"
        )
    return _runtime


# Sign-in answers a wrong password after a pause: held under the lock, that pause would stop
# every other channelstream request. It reads only the (immutable) settings.
UNGUARDED_ROUTES = frozenset({"channelstream.admin_sign_in"})


def serialised_view(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """Pyramid view deriver: channelstream's views run under the process's guard in a
    threaded host; a no-op (the view itself) under gevent and for the host's own views."""
    route = info.options.get("route_name") or ""
    runtime = for_this_process()
    if not runtime.threaded or not route.startswith("channelstream.") or route in UNGUARDED_ROUTES:
        return view
    guard = runtime.guard

    def guarded(context: Any, request: Any) -> Any:
        with guard:
            return view(context, request)

    return guarded
