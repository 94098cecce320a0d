"""The memory engine's record of recent publishes: asked once per publish, forgotten by
the window."""

from __future__ import annotations

from channelstream.engine.memory_seen import RecentMessages


def test_an_entry_answers_within_its_window_only() -> None:
    seen = RecentMessages(10.0)
    seen.remember(("c", None, "u1"), b"first", 100.0)
    assert seen.get(("c", None, "u1"), 105.0) == b"first"
    assert seen.get(("c", None, "u2"), 105.0) is None
    assert seen.get(("c", None, "u1"), 110.0) is None
    assert seen.size() == 0


def test_forgetting_once_then_asking_answers_what_get_answers() -> None:
    seen = RecentMessages(10.0)
    seen.remember(("c", None, "old"), b"old", 100.0)
    seen.remember(("c", None, "new"), b"new", 105.0)
    seen.forget(111.0)
    assert seen.size() == 1
    # What a list of publishes at one time remembers is asked about without a new sweep.
    seen.remember(("c", None, "now"), b"now", 111.0)
    assert seen.answered(("c", None, "now"), 111.0) == b"now"
    assert seen.answered(("c", None, "new"), 111.0) == b"new"
    assert seen.answered(("c", None, "old"), 111.0) is None


def test_a_clock_gone_back_never_answers_an_ended_entry() -> None:
    seen = RecentMessages(10.0)
    seen.remember(("c", None, "u"), b"late", 200.0)
    seen.remember(("c", None, "v"), b"early", 100.0)  # the clock went back
    assert seen.answered(("c", None, "v"), 150.0) is None
    assert seen.answered(("c", None, "u"), 150.0) == b"late"
