"""405 for a method a route does not take, with the ``Allow`` header that names those it
does (not Pyramid's 404 for a view predicate that did not match)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pyramid.httpexceptions import HTTPMethodNotAllowed

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request


def allowed_methods(methods: Iterable[str]) -> str:
    """The Allow header: GET implies HEAD (Pyramid serves it), and OPTIONS answers
    anywhere (CORS preflight)."""
    names = set(methods) | {"OPTIONS"}
    if "GET" in names:
        names.add("HEAD")
    return ", ".join(sorted(names))


class RefuseMethod:
    """The route's fallback view: every method its other views do not take."""

    def __init__(self, allow: str) -> None:
        self.allow = allow

    def __call__(self, request: Request) -> None:
        raise HTTPMethodNotAllowed(headers={"Allow": self.allow})


def refuse_other_methods(config: Configurator, route_name: str, methods: Iterable[str]) -> None:
    """Call after the route's own views; a view without a method predicate is the one
    Pyramid falls back to."""
    config.add_view(RefuseMethod(allowed_methods(methods)), route_name=route_name)
