"""Who may call a view, said where the view is added, checked in one place.

``config.add_view(..., channelstream_guard=API)`` and the like (see ``channelstream.routes``):
a view deriver runs the guard's check before the view, so no view class checks anything
itself. A view without the option is left exactly as it is (the host's views included).

==============  ==========================================  ==============================
guard           who passes                                  everyone else gets
==============  ==========================================  ==============================
``API``         a caller from an allowed address with a     403 (no signature, address),
                valid signature (the server API)            401 (bad signature)
``ADMIN``       the signed-in admin (cookie), or a caller   403 JSON
                that passes ``API``
``ADMIN_PAGE``  as ``ADMIN``                                302 to /admin/sign_in
``ADMIN_ACT``   as ``ADMIN``, from this server's own pages  403 JSON
                (a browser's Origin, when sent, names it)
``SOCKET``      anyone this node has room for, whose        429 (address), 503 (node full),
                address is within its upgrade rate (/ws)    before any upgrade
``POLL``        as ``SOCKET``; a long-poll continuing its   as ``SOCKET``
                connection's previous one is no new upgrade
``METRICS``     a caller from an allowed address, or one    403 JSON, 401 (bad signature)
                with a valid signature from anywhere
==============  ==========================================  ==============================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPFound

from channelstream import security
from channelstream.errors import Forbidden
from channelstream.runtime import runtime_of

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

API = "api"
ADMIN = "admin"
ADMIN_PAGE = "admin_page"
ADMIN_ACT = "admin_act"
SOCKET = "socket"
POLL = "poll"
METRICS = "metrics"

OPTION = "channelstream_guard"


def is_admin(request: Request) -> bool:
    """A signed-in admin (the cookie) or a backend holding the API signature."""
    runtime = runtime_of(request)
    return security.is_admin(request, runtime.state.settings, runtime.check_signature)


def require_api_caller(request: Request) -> None:
    runtime = runtime_of(request)
    security.require_api_caller(request, runtime.state.settings, runtime.check_signature)


def require_admin(request: Request) -> None:
    if not is_admin(request):
        raise Forbidden({"request": "Sign in as the admin first."})


def require_admin_page(request: Request) -> None:
    if not is_admin(request):
        raise HTTPFound(request.route_url("channelstream.admin_sign_in"))


def require_admin_act(request: Request) -> None:
    """An admin action: a browser's cross-site POST never acts with the admin's cookie. The
    cookie is SameSite=Lax, and here an Origin (when sent) must name this server's host. The
    scheme is not compared: a TLS-terminating proxy may forward as plain HTTP."""
    require_admin(request)
    origin = request.headers.get("Origin")
    if not origin:
        return
    hosts = {request.host.lower()}
    forwarded = request.headers.get("X-Forwarded-Host")
    if forwarded:
        # A cross-site page cannot set this header without a preflight, which fails.
        hosts.update(part.strip().lower() for part in forwarded.split(","))
    if urlsplit(origin).netloc.lower() not in hosts:
        raise Forbidden({"request": "Cross-origin admin actions are refused."})


def require_metrics_reader(request: Request) -> None:
    runtime = runtime_of(request)
    security.require_metrics_reader(request, runtime.state.settings, runtime.check_signature)


def admit_socket(request: Request, *, poll: bool = False) -> None:
    """This node's limits (``limits.node``): the client address's upgrade rate, the room."""
    runtime = runtime_of(request)
    address = security.client_address(request, runtime.state.settings)
    with runtime.state.concurrency.guard:  # the buckets, in a threaded host
        runtime.limits.admit(address, request.GET.get("conn_id"), poll=poll)


def admit_poll(request: Request) -> None:
    admit_socket(request, poll=True)


CHECKS: dict[str, Callable[[Request], None]] = {
    API: require_api_caller,
    ADMIN: require_admin,
    ADMIN_PAGE: require_admin_page,
    ADMIN_ACT: require_admin_act,
    SOCKET: admit_socket,
    POLL: admit_poll,
    METRICS: require_metrics_reader,
}


def guarded_view(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    guard = info.options.get(OPTION)
    if guard is None:
        return view
    check = CHECKS[guard]

    def guarded(context: Any, request: Request) -> Any:
        check(request)
        return view(context, request)

    return guarded


guarded_view.options = (OPTION,)  # type: ignore[attr-defined]


def includeme(config: Configurator) -> None:
    config.add_view_deriver(guarded_view, name=OPTION)
