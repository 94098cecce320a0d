"""What the admin panel polls (``channelstream.dashboard``): the summary each second, a page
of channels or users, the channel being viewed. For the signed-in admin or a backend holding
the API signature, as admin.json; a stranger gets 403 JSON, a bad query 422 naming the
parameter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channelstream import dashboard, presenters
from channelstream.errors import NotFound
from channelstream.runtime import runtime_of
from channelstream.schemas import admin as schemas
from channelstream.views.guards import ADMIN, OPTION
from channelstream.views.helpers import json_view, load, state_of
from channelstream.views.methods import refuse_other_methods
from channelstream.views.openapi import documented

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request


def _param(name: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind, **extra},
    }


PAGE_PARAMS = (
    _param("offset", "integer", "Rows to skip (0 or more).", minimum=0, default=0),
    _param(
        "limit",
        "integer",
        "Rows to answer.",
        minimum=1,
        maximum=schemas.MAX_PAGE,
        default=schemas.DEFAULT_PAGE,
    ),
    _param("q", "string", "Only names holding this text (any case).", maxLength=256),
)


# A query parameter out of its range, or not a number: 422 naming it.
BAD_QUERY: dict[str, str | dict[str, Any]] = {"422": "ValidationFailed"}


def _sort(choices: tuple[str, ...]) -> dict[str, Any]:
    return _param(
        "sort",
        "string",
        "Names in natural order (ch2 before ch10); '-' first: descending.",
        enum=list(choices),
        default="name",
    )


class AdminDataViews:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.state = state_of(request)
        self.trends = runtime_of(request).trends

    def _query(self, schema: type[schemas.BaseSchema]) -> Any:
        # A repeated parameter counts once: the last one, as browsers' URLSearchParams.set.
        return load(schema, dict(self.request.GET.items()))

    @documented(
        "The dashboard's totals and this node's trends (no channel or user lists)",
        tag="admin",
        answer=schemas.DashboardSummarySchema,
    )
    @json_view
    def summary(self) -> dict[str, Any]:
        found = dashboard.summary(self.state, self.trends)
        sender = runtime_of(self.request).webhooks
        found["webhook"] = presenters.webhook_summary(
            self.state, sending=bool(sender and sender.holding)
        )
        return found

    @documented(
        "A page of channels, without history or user lists",
        tag="admin",
        params=(*PAGE_PARAMS, _sort(schemas.CHANNEL_SORTS)),
        answer=schemas.ChannelPageSchema,
        responses=BAD_QUERY,
    )
    @json_view
    def channels(self) -> dict[str, Any]:
        query = self._query(schemas.ChannelPageQuery)
        return dashboard.channel_page(self.state, self.trends, query)

    @documented(
        "A page of the users with a connection",
        tag="admin",
        params=(*PAGE_PARAMS, _sort(schemas.USER_SORTS)),
        answer=schemas.UserPageSchema,
        responses=BAD_QUERY,
    )
    @json_view
    def users(self) -> dict[str, Any]:
        return dashboard.user_page(self.state, self._query(schemas.UserPageQuery))

    @documented(
        "One channel: history, users and their connections, its rate over the last minutes",
        tag="admin",
        params=(
            {
                **_param("name", "string", "The channel.", minLength=1, maxLength=256),
                "required": True,
            },
        ),
        answer=schemas.ChannelViewSchema,
        responses={**BAD_QUERY, "404": "NotFound"},
    )
    @json_view
    def channel(self) -> dict[str, Any]:
        name = self._query(schemas.ChannelQuery)["name"]
        found = dashboard.channel_view(self.state, self.trends, name)
        if found is None:
            raise NotFound({"name": ["No such channel."]})
        return found


VIEWS = (
    ("summary", "/admin/summary.json"),
    ("channels", "/admin/channels.json"),
    ("users", "/admin/users.json"),
    ("channel", "/admin/channel.json"),
)


def includeme(config: Configurator) -> None:
    """Wired by ``channelstream.routes`` before its /admin/* catch-all."""
    for attr, pattern in VIEWS:
        route_name = f"channelstream.admin_{attr}"
        config.add_route(route_name, pattern)
        config.add_view(
            AdminDataViews,
            attr=attr,
            route_name=route_name,
            request_method="GET",
            **{OPTION: ADMIN},
        )
        refuse_other_methods(config, route_name, ("GET",))
