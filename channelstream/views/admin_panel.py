"""The admin panel: its page at /admin and the JSON actions it calls under /admin/api/.

The actions are for a signed-in admin (the cookie set by /admin/sign_in) or a backend
holding the API signature. They validate with the API's own schemas and do what the
server API does, through ``channelstream.operations``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from marshmallow import fields

from channelstream import operations, presenters
from channelstream.errors import BadRequest, NotFound
from channelstream.runtime import runtime_of
from channelstream.schemas import responses
from channelstream.schemas.connections import ChannelConfigChangesSchema
from channelstream.schemas.fields import BaseSchema, LowerUUID, channel_name
from channelstream.schemas.messages import MessageSchema
from channelstream.views.call_limits import check_messages
from channelstream.views.guards import ADMIN_ACT, OPTION
from channelstream.views.helpers import json_body, json_view, load, state_of
from channelstream.views.methods import refuse_other_methods
from channelstream.views.openapi import documented

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request


class AdminChannelConfigSchema(BaseSchema):
    """POST /admin/api/channel_config: one existing channel and the keys to change."""

    channel = channel_name(required=True)
    config = fields.Nested(ChannelConfigChangesSchema, required=True)


class ConnectionOrStandIn(LowerUUID):
    """A connection's id, or a presence_grace stand-in's (``operations.STAND_IN`` + a UUID):
    the panel lists both under a user."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and value.startswith(operations.STAND_IN):
            rest = super()._deserialize(value[len(operations.STAND_IN) :], attr, data, **kwargs)
            return operations.STAND_IN + rest
        return super()._deserialize(value, attr, data, **kwargs)


class AdminDisconnectSchema(BaseSchema):
    """POST /admin/api/disconnect. Disconnecting a stand-in ends the presence it holds at
    the next collection: its users' departures go out then, as when its grace ends."""

    conn_id = ConnectionOrStandIn(required=True)


def admin_page_template() -> str:
    """The panel's HTML; ``admin.AdminViews.admin_page`` fills in its URLs."""
    page = resources.files("channelstream") / "static" / "admin" / "index.html"
    return page.read_text(encoding="utf-8")


class AdminApiViews:
    """Every action answers JSON; each is added with the ADMIN_ACT guard: 403 when the
    caller is not an admin, or a browser on another site."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state = state_of(request)

    def _body(self) -> Any:
        content_type = self.request.content_type or ""
        if content_type != "application/json":
            raise BadRequest({"body": ["Send JSON (Content-Type: application/json)."]})
        return json_body(self.request, self.state)

    @documented(
        "Publish messages as the admin",
        body=[MessageSchema],
        body_description="As for POST /message.",
        answer=[responses.PublishedMessageSchema],
    )
    @json_view
    def publish(self) -> list[dict[str, Any]]:
        """A list of messages, exactly as POST /message takes them."""
        body = self._body()
        check_messages(body, self.state.settings)
        messages = load(MessageSchema, body, many=True)
        return operations.publish_messages(self.state, messages)

    @documented(
        "Change an existing channel's config",
        body=AdminChannelConfigSchema,
        answer=responses.ChannelsInfoSchema,
        responses={"404": "NotFound"},
    )
    @json_view
    def channel_config(self) -> dict[str, Any]:
        data = load(AdminChannelConfigSchema, self._body())
        name = data["channel"]
        if not operations.reconfigure_channel(self.state, name, data["config"]):
            raise NotFound({"channel": ["No such channel."]})
        names = [name]
        return presenters.channels_info(
            self.state, names, include_history=False, include_users=False
        )

    @documented(
        "Disconnect a connection",
        body=AdminDisconnectSchema,
        answer=responses.AdminDisconnectResponseSchema,
    )
    @json_view
    def disconnect(self) -> dict[str, Any]:
        conn_id = load(AdminDisconnectSchema, self._body())["conn_id"]
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
            **{OPTION: ADMIN_ACT},
        )
        refuse_other_methods(config, route_name, ("POST",))
    runtime = runtime_of(config.registry)
    if not runtime.admin_page:
        runtime.admin_page = admin_page_template()
    config.include("channelstream.views.explorer")
