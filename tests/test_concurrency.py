"""The threaded runtime's parts: a signal that frees the state lock while a poll waits, jobs
that run under the lock, and the view deriver that serialises only channelstream's views."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from channelstream import concurrency
from channelstream.concurrency import Threaded


def test_a_waiting_poll_frees_the_lock_and_wakes_when_set() -> None:
    runtime = Threaded()
    signal = runtime.signal()
    woke: list[bool] = []

    def poll() -> None:
        with runtime.lock:  # as a guarded /listen view holds it
            woke.append(signal.wait(5))

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    with runtime.lock:  # a publishing thread gets the lock while the poll waits
        signal.set()
    waiter.join(5)
    assert woke == [True] and time.monotonic() - started < 1


def test_an_unset_signal_times_out_and_pause_frees_the_lock() -> None:
    runtime = Threaded()
    signal = runtime.signal()
    with runtime.lock:
        assert signal.wait(0.05) is False
        # While the poll pauses, another thread can take the lock.
        got: list[bool] = []

        def take() -> None:
            got.append(runtime.lock.acquire(timeout=1))
            runtime.lock.release()

        other = threading.Thread(target=take)
        other.start()
        signal.pause(0.2)
        other.join(2)
        assert got == [True]


def test_jobs_run_under_the_lock_until_stopped() -> None:
    runtime = Threaded()
    held: list[bool] = []

    def job() -> None:
        held.append(lock_is_held(runtime.lock))

    running = runtime.every(0.01, job)
    deadline = time.monotonic() + 5
    while len(held) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    running.stop()
    count = len(held)
    time.sleep(0.05)
    assert held[:3] == [True, True, True] and len(held) == count


def lock_is_held(lock: Any) -> bool:
    """From another thread (an RLock lets its owner in again)."""
    found: list[bool] = []

    def probe() -> None:
        got = lock.acquire(False)
        if got:
            lock.release()
        found.append(not got)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return found[0]


def test_only_channelstreams_views_are_serialised(monkeypatch: Any) -> None:
    runtime = Threaded()
    monkeypatch.setattr(concurrency, "_runtime", runtime)

    def view(context: Any, request: Any) -> bool:
        return lock_is_held(runtime.lock)

    def derived(route: str) -> Any:
        return concurrency.serialised_view(view, SimpleNamespace(options={"route_name": route}))

    assert derived("host.page") is view
    assert derived("channelstream.admin_sign_in") is view
    assert view(None, None) is False
    assert derived("channelstream.info")(None, None) is True


def test_this_test_process_is_threaded() -> None:
    assert concurrency.serves_with_gevent() is False


def test_a_stray_timeout_does_not_end_a_background_loop() -> None:
    import gevent

    runs: list[int] = []

    def job() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise gevent.Timeout()  # a BaseException, as a leaked gevent timeout would be

    running = concurrency.Threaded().every(0.01, job)
    deadline = time.monotonic() + 5
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    running.stop()
    assert len(runs) >= 3


def test_stopping_and_exiting_still_end_the_job() -> None:
    from greenlet import GreenletExit

    for stop in (GreenletExit, SystemExit, KeyboardInterrupt):

        def job(stop: type[BaseException] = stop) -> None:
            raise stop()

        try:
            concurrency._run_logged(job)
        except stop:
            continue
        raise AssertionError(f"{stop.__name__} was swallowed")
