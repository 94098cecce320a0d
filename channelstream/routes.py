"""Every route and view of channelstream, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channelstream.runtime import runtime_of
from channelstream.views.admin import AdminViews
from channelstream.views.api import ServerApiViews
from channelstream.views.client import ClientViews
from channelstream.views.guards import ADMIN_PAGE, API, METRICS, OPTION, POLL, SOCKET
from channelstream.views.methods import refuse_other_methods
from channelstream.views.metrics import metrics

if TYPE_CHECKING:
    from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Each view says who may call it (``views.guards``): the server API is signed, the
    client API is open (a conn_id is its key), the admin's pages need the admin."""
    route = config.add_route
    view = config.add_view
    signed = {OPTION: API}
    admin = {OPTION: ADMIN_PAGE}
    config.include("channelstream.views.body")

    # CORS preflight: OPTIONS on any path answers 200 (0.7 behaviour). First, so that it
    # matches before any route that does not allow OPTIONS.
    route("channelstream.options", "/*path", request_method="OPTIONS")
    view(lambda request: request.response, route_name="channelstream.options")

    # Pyramid tries routes in order, one regex each: the busiest calls come first.
    route("channelstream.message", "/message")
    for method, attr in (
        ("POST", "message_post"),
        ("PATCH", "message_patch"),
        ("DELETE", "message_delete"),
    ):
        view(
            ServerApiViews,
            attr=attr,
            route_name="channelstream.message",
            request_method=method,
            **signed,
        )
    refuse_other_methods(config, "channelstream.message", ("POST", "PATCH", "DELETE"))
    route("channelstream.ws", "/ws")
    # /ws and /listen are let in by this node's limits (views.guards), before any upgrade.
    view(
        ClientViews,
        attr="websocket",
        route_name="channelstream.ws",
        request_method="GET",
        **{OPTION: SOCKET},
    )
    refuse_other_methods(config, "channelstream.ws", ("GET",))

    # Server API: signed calls from the application's backend.
    api_routes = [
        ("connect", "/connect", ("POST",), "connect"),
        ("subscribe", "/subscribe", ("POST",), "subscribe"),
        ("unsubscribe", "/unsubscribe", ("POST",), "unsubscribe"),
        ("user_state", "/user_state", ("POST",), "user_state"),
        ("channel_config", "/channel_config", ("POST",), "channel_config"),
        ("info", "/info", ("GET", "POST"), "info"),
    ]
    for name, pattern, methods, attr in api_routes:
        route(f"channelstream.{name}", pattern)
        view(
            ServerApiViews,
            attr=attr,
            route_name=f"channelstream.{name}",
            request_method=methods,
            **signed,
        )
        refuse_other_methods(config, f"channelstream.{name}", methods)

    # Client API: browsers, with only a conn_id (/ws is above).
    route("channelstream.listen", "/listen")
    view(
        ClientViews,
        attr="listen",
        route_name="channelstream.listen",
        request_method="GET",
        **{OPTION: POLL},
    )
    refuse_other_methods(config, "channelstream.listen", ("GET",))
    route("channelstream.disconnect", "/disconnect")
    view(
        ClientViews,
        attr="disconnect",
        route_name="channelstream.disconnect",
        request_method=("GET", "POST"),
    )
    refuse_other_methods(config, "channelstream.disconnect", ("GET", "POST"))
    route("channelstream.health", "/health")
    view(ClientViews, attr="health", route_name="channelstream.health", request_method="GET")
    refuse_other_methods(config, "channelstream.health", ("GET",))
    route("channelstream.metrics", "/metrics")
    view(metrics, route_name="channelstream.metrics", request_method="GET", **{OPTION: METRICS})
    refuse_other_methods(config, "channelstream.metrics", ("GET",))

    # Admin.
    route("channelstream.admin", "/admin")
    view(AdminViews, attr="admin_page", route_name="channelstream.admin", **admin)
    route("channelstream.admin_json", "/admin/admin.json")
    view(
        AdminViews,
        attr="admin_json",
        route_name="channelstream.admin_json",
        request_method=("GET", "POST"),
        **admin,
    )
    refuse_other_methods(config, "channelstream.admin_json", ("GET", "POST"))
    route("channelstream.admin_sign_in", "/admin/sign_in")
    view(
        AdminViews,
        attr="sign_in",
        route_name="channelstream.admin_sign_in",
        request_method=("GET", "POST"),
    )
    refuse_other_methods(config, "channelstream.admin_sign_in", ("GET", "POST"))
    route("channelstream.admin_sign_out", "/admin/sign_out")
    view(AdminViews, attr="sign_out", route_name="channelstream.admin_sign_out")
    config.include("channelstream.views.admin_panel")
    config.include("channelstream.views.admin_data")
    route("channelstream.admin_other", "/admin/*rest")
    view(AdminViews, attr="admin_page", route_name="channelstream.admin_other", **admin)

    config.add_static_view("static", "channelstream:static/", cache_max_age=3600)
    prefix = (config.route_prefix or "").strip("/")
    runtime = runtime_of(config.registry)
    runtime.route_prefix = f"/{prefix}" if prefix else ""
    runtime.static_path = f"{runtime.route_prefix}/static/"
