"""A call leaves no reference cycle: its request, view instance and parsed query are freed
by refcounting as soon as the call is over."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from pyramid.request import Request

from channelstream.views.cycles import unlinking_tween_factory


class View:
    def __init__(self, request: Any) -> None:
        self.request = request


def test_a_call_leaves_nothing_for_the_cycle_collector() -> None:
    parsed: list[weakref.ref[Any]] = []

    def handler(request: Any) -> Any:
        request.__view__ = View(request)  # what Pyramid's class view mapper does
        parsed.append(weakref.ref(request.GET))  # WebOb keeps it in the environ
        return "answer"

    tween = unlinking_tween_factory(handler, None)  # type: ignore[arg-type]
    request = Request.blank("/ws?conn_id=c1")
    gone = weakref.ref(request)
    gc.disable()
    try:
        assert tween(request) == "answer"
        del request
        assert gone() is None and parsed[0]() is None  # no collection needed
    finally:
        gc.enable()


def test_the_view_is_unlinked_when_it_raises() -> None:
    def handler(request: Any) -> Any:
        request.__view__ = View(request)
        raise ValueError("bad")

    tween = unlinking_tween_factory(handler, None)  # type: ignore[arg-type]
    request = Request.blank("/connect")
    try:
        tween(request)
    except ValueError:
        pass
    assert "__view__" not in request.__dict__
