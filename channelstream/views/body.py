"""``max_body_size`` on every route: a body announced larger than the limit is refused
before any channelstream view runs (a view deriver), whether or not the view reads bodies.

Forms (the admin sign-in) are read as every body is (``request_body``: in pieces, within
the limit) and parsed here, not by WebOb, which would read any size into memory first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from channelstream.errors import BadRequest
from channelstream.request_body import check_declared_length, raw_body
from channelstream.runtime import runtime_of
from channelstream.views.errors import ROUTE_PREFIX

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

# A sign-in form has two fields; a few more are tolerated, thousands are an attack.
MAX_FORM_FIELDS = 20
FORM_TYPE = "application/x-www-form-urlencoded"


def form_fields(request: Request, limit: int) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each)."""
    if request.content_type not in ("", FORM_TYPE):
        raise BadRequest({"body": [f"Send the form as {FORM_TYPE}."]})
    raw = raw_body(request, limit)
    try:
        pairs = parse_qsl(
            raw.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:
        raise BadRequest({"body": [f"More than {MAX_FORM_FIELDS} form fields."]}) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def body_limit(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """View deriver: every channelstream view refuses an announced body over the limit
    before it runs (views that read no body included: nobody sends 100 MB for free)."""
    if info.exception_only:
        return view

    def limited(context: Any, request: Request) -> Any:
        route = getattr(request, "matched_route", None)
        if route is not None and route.name.startswith(ROUTE_PREFIX):
            check_declared_length(request, runtime_of(request).state.settings.max_body_size)
        return view(context, request)

    return limited


def includeme(config: Configurator) -> None:
    config.add_view_deriver(body_limit)
