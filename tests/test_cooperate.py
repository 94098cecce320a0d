"""Long loops hand every item on and take a turn every so often."""

from __future__ import annotations

import pytest

from channelstream import cooperate


@pytest.fixture
def turns(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    taken: list[int] = []
    monkeypatch.setattr(cooperate, "pause", lambda: taken.append(1))
    return taken


def test_in_turns_hands_on_everything_and_pauses_every_n(turns: list[int]) -> None:
    assert list(cooperate.in_turns(range(250), every=100)) == list(range(250))
    assert len(turns) == 2


def test_slices_cover_the_list_with_a_turn_between(turns: list[int]) -> None:
    assert list(cooperate.slices(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(turns) == 2
    assert list(cooperate.slices([], 3)) == []


def test_without_gevent_patching_a_pause_does_nothing() -> None:
    cooperate.pause()  # the test process is not monkey-patched: returns at once
