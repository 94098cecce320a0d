"""The Allow header of a 405."""

from __future__ import annotations

import pytest
from pyramid.httpexceptions import HTTPMethodNotAllowed

from channelstream.views.methods import RefuseMethod, allowed_methods


def test_get_implies_head_and_options_is_everywhere() -> None:
    assert allowed_methods(["GET"]) == "GET, HEAD, OPTIONS"
    assert allowed_methods(("POST", "PATCH", "DELETE")) == "DELETE, OPTIONS, PATCH, POST"


def test_the_fallback_view_refuses_with_allow() -> None:
    with pytest.raises(HTTPMethodNotAllowed) as refused:
        RefuseMethod("GET, HEAD, OPTIONS")(None)  # type: ignore[arg-type]
    assert refused.value.headers["Allow"] == "GET, HEAD, OPTIONS"
