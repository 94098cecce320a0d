"""The admin dashboard's queries (paging, sorting, filtering) and, for the OpenAPI document
only, what its summary, pages and channel view answer (``channelstream.dashboard``)."""

from __future__ import annotations

from marshmallow import fields, validate

from channelstream.schemas.fields import BaseSchema, channel_name
from channelstream.schemas.responses import (
    ChannelInfoSchema,
    ChannelSettingsSchema,
    WebhookStateSchema,
    _state,
)

# A page holds at most this many rows: each row of the channel list costs an engine read.
MAX_PAGE = 200
DEFAULT_PAGE = 50
CHANNEL_SORTS = ("name", "-name", "rate", "-rate")
USER_SORTS = ("name", "-name", "connections", "-connections")


class _PageSchema(BaseSchema):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=DEFAULT_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))
    q = fields.String(
        load_default="",
        validate=validate.Length(max=256),
        metadata={"description": "Only names holding this text (any case)."},
    )


class ChannelPageQuery(_PageSchema):
    sort = fields.String(load_default="name", validate=validate.OneOf(CHANNEL_SORTS))


class UserPageQuery(_PageSchema):
    sort = fields.String(load_default="name", validate=validate.OneOf(USER_SORTS))


class ChannelQuery(BaseSchema):
    name = channel_name(required=True)


# -- answers (described, never loaded) ------------------------------------------------
def _series(description: str) -> fields.List:
    return fields.List(fields.Float(), metadata={"description": description})


class TrendsSchema(BaseSchema):
    interval = fields.Float(metadata={"description": "Seconds between two samples."})
    minutes = fields.Integer(metadata={"description": "channelstream.admin_trend_minutes."})
    end = fields.Float(
        allow_none=True,
        metadata={"description": "When the newest sample was taken (Unix time; null: none)."},
    )
    connections = _series("This node's connections, oldest sample first.")
    websocket = _series("Of them, WebSockets.")
    longpoll = _series("Of them, long-polls.")
    messages = _series("Events handed to this node's hub per second.")
    deliveries = _series("Messages this node delivered to connections per second.")


class DashboardSummarySchema(BaseSchema):
    remembered_user_count = fields.Integer()
    unique_user_count = fields.Integer(metadata={"description": "Users with a connection."})
    total_connections = fields.Integer()
    total_channels = fields.Integer()
    total_messages = fields.Integer(metadata={"description": "As admin.json's."})
    total_unique_messages = fields.Integer()
    node_connections = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "This node's connections by transport."},
    )
    uptime = fields.String()
    uptime_seconds = fields.Integer()
    version = fields.String()
    webhook = fields.Nested(WebhookStateSchema)
    trends = fields.Nested(TrendsSchema)


class _PageAnswer(BaseSchema):
    total = fields.Integer(metadata={"description": "Rows matching q, on every page."})
    offset = fields.Integer()
    limit = fields.Integer()
    sort = fields.String()
    q = fields.String()


class ChannelRowSchema(BaseSchema):
    name = fields.String()
    total_users = fields.Integer()
    total_connections = fields.Integer()
    settings = fields.Nested(ChannelSettingsSchema)
    last_active = fields.String()
    offset = fields.Integer()
    rate = fields.Float(metadata={"description": "Events per second, the last sample."})


class ChannelPageSchema(_PageAnswer):
    items = fields.List(fields.Nested(ChannelRowSchema))


class ConnectionRowSchema(BaseSchema):
    conn_id = fields.String()
    stand_in = fields.Boolean(
        metadata={"description": "Holds a departed connection's presence (presence_grace)."}
    )


class UserRowSchema(BaseSchema):
    user = fields.String()
    uuid = fields.String(allow_none=True)
    state = _state()
    connections = fields.List(fields.Nested(ConnectionRowSchema))


class UserPageSchema(_PageAnswer):
    items = fields.List(fields.Nested(UserRowSchema))


class ChannelViewSchema(ChannelInfoSchema):
    rate = fields.Float(metadata={"description": "Events per second, the last sample."})
    rates = _series("The channel's events per second, oldest sample first.")
    interval = fields.Float()
    members = fields.List(
        fields.Nested(UserRowSchema),
        metadata={"description": "Its users (the first of them), with their connections in it."},
    )
