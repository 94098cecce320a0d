"""Trimming the C heap: only once enough became free, never twice for the same free memory."""

from __future__ import annotations

from typing import Any

from channelstream.heap import MIN_NEWLY_FREE, HeapTrimmer


class FakeLibc:
    """mallinfo2 and malloc_trim with the heap's figures under the test's control."""

    def __init__(self) -> None:
        self.arena = 64 * MIN_NEWLY_FREE
        self.fordblks = 0
        self.trimmed = 0

    def mallinfo2(self) -> Any:
        return self

    def malloc_trim(self, pad: int) -> int:
        self.trimmed += 1
        return 1


def test_the_heap_is_trimmed_once_enough_of_it_is_free() -> None:
    libc = FakeLibc()
    trimmer = HeapTrimmer(libc)
    libc.fordblks = MIN_NEWLY_FREE // 2
    assert trimmer.check() is False
    libc.fordblks = 20 * MIN_NEWLY_FREE  # a burst of connects ended: much is free
    assert trimmer.check() is True and libc.trimmed == 1
    assert trimmer.check() is False  # the same free memory: not again
    libc.fordblks = 20 * MIN_NEWLY_FREE + MIN_NEWLY_FREE // 2  # a little more: not worth it
    assert trimmer.check() is False
    libc.fordblks = 2 * MIN_NEWLY_FREE  # used again...
    assert trimmer.check() is False
    libc.fordblks = 20 * MIN_NEWLY_FREE  # ...and freed again
    assert trimmer.check() is True and libc.trimmed == 2 == trimmer.trims


def test_a_heap_mostly_in_use_is_left_alone() -> None:
    libc = FakeLibc()
    libc.fordblks = 2 * MIN_NEWLY_FREE  # free, but under a quarter of the heap
    assert HeapTrimmer(libc).check() is False and libc.trimmed == 0


def test_the_real_heap_can_be_looked_at() -> None:
    trimmer = HeapTrimmer(min_newly_free=0)
    if trimmer.available:  # glibc: a real trim, harmless
        trimmer.check()
    else:
        assert trimmer.check() is False
