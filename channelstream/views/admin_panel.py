"""The admin panel: its page at /admin and the JSON actions it calls under /admin/api/.

The actions are for a signed-in admin (the cookie set by /admin/sign_in) or a backend
holding the API signature. They validate with the API's own schemas and do what the
server API does, through ``channelstream.operations``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from marshmallow import fields

from channelstream import operations
from channelstream.errors import BadRequest, Forbidden, NotFound
from channelstream.schemas.connections import ChannelConfigChangesSchema, DisconnectSchema
from channelstream.schemas.fields import BaseSchema, channel_name
from channelstream.schemas.messages import MessageSchema
from channelstream.views.call_limits import check_messages
from channelstream.views.helpers import is_admin, json_body, json_view, load, state_of
from channelstream.views.methods import refuse_other_methods

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

PAGE_KEY = "channelstream.admin_page"


class AdminChannelConfigSchema(BaseSchema):
    """POST /admin/api/channel_config: one existing channel and the keys to change."""

    channel = channel_name(required=True)
    config = fields.Nested(ChannelConfigChangesSchema, required=True)


def admin_page_template() -> str:
    """The panel's HTML; ``admin.AdminViews.admin_page`` fills in its URLs."""
    page = resources.files("channelstream") / "static" / "admin" / "index.html"
    return page.read_text(encoding="utf-8")


class AdminApiViews:
    """Every action answers JSON: 403 when the caller is not an admin."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state = state_of(request)
        if not is_admin(request):
            raise Forbidden({"request": "Sign in as the admin first."})
        self._check_origin()

    def _check_origin(self) -> None:
        """A browser's cross-site POST never acts with the admin's cookie: the cookie is
        SameSite=Lax, and here an Origin (when sent) must name this server's host. The
        scheme is not compared: a TLS-terminating proxy may forward as plain HTTP."""
        origin = self.request.headers.get("Origin")
        if not origin:
            return
        hosts = {self.request.host.lower()}
        forwarded = self.request.headers.get("X-Forwarded-Host")
        if forwarded:
            # A cross-site page cannot set this header without a preflight, which fails.
            hosts.update(part.strip().lower() for part in forwarded.split(","))
        sent = urlsplit(origin)
        if sent.netloc.lower() not in hosts:
            raise Forbidden({"request": "Cross-origin admin actions are refused."})

    def _body(self) -> Any:
        content_type = self.request.content_type or ""
        if content_type != "application/json":
            raise BadRequest({"body": ["Send JSON (Content-Type: application/json)."]})
        return json_body(self.request, self.state)

    @json_view
    def publish(self) -> list[dict[str, Any]]:
        """A list of messages, exactly as POST /message takes them."""
        body = self._body()
        check_messages(body, self.state.settings)
        messages = load(MessageSchema, body, many=True)
        return operations.publish_messages(self.state, messages)

    @json_view
    def channel_config(self) -> dict[str, Any]:
        data = load(AdminChannelConfigSchema, self._body())
        name = data["channel"]
        if self.state.engine.channel_config(name) is None:
            raise NotFound({"channel": ["No such channel."]})
        names = operations.set_channel_configs(self.state, {name: data["config"]})
        return operations.channels_info(
            self.state, names, include_history=False, include_users=False
        )

    @json_view
    def disconnect(self) -> dict[str, Any]:
        conn_id = load(DisconnectSchema, self._body())["conn_id"]
        return {"conn_id": conn_id, "disconnected": operations.disconnect(self.state, conn_id)}


ACTIONS = (
    ("message", "/admin/api/message", "publish"),
    ("channel_config", "/admin/api/channel_config", "channel_config"),
    ("disconnect", "/admin/api/disconnect", "disconnect"),
)


def includeme(config: Configurator) -> None:
    """Wired by ``channelstream.routes`` before its /admin/* catch-all."""
    for name, pattern, attr in ACTIONS:
        route_name = f"channelstream.admin_api_{name}"
        config.add_route(route_name, pattern)
        config.add_view(
            AdminApiViews,
            attr=attr,
            route_name=route_name,
            request_method="POST",
        )
        refuse_other_methods(config, route_name, ("POST",))
    if PAGE_KEY not in config.registry:
        config.registry[PAGE_KEY] = admin_page_template()
    config.include("channelstream.views.explorer")
