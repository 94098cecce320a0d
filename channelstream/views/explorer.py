"""The API explorer: an OpenAPI 3 document of every endpoint at /openapi.json, generated
with apispec from the marshmallow schemas, and Swagger UI (from the swagger-ui-bundle
package) at /api-explorer. Admins only, like the rest of /admin."""

from __future__ import annotations

import copy
import html
import logging
from typing import TYPE_CHECKING, Any

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response

from channelstream import __version__, request_signing, security
from channelstream.errors import Forbidden, RequestError
from channelstream.schemas import responses
from channelstream.schemas.connections import (
    ChannelConfigChangesSchema,
    ConnectSchema,
    DisconnectSchema,
    InfoBodySchema,
    SubscribeSchema,
    UserStateSchema,
)
from channelstream.schemas.fields import StateValue
from channelstream.schemas.messages import MessageDeleteSchema, MessageEditSchema, MessageSchema
from channelstream.views.errors import json_response
from channelstream.views.helpers import is_admin
from channelstream.views.methods import refuse_other_methods

if TYPE_CHECKING:
    from marshmallow import Schema
    from pyramid.config import Configurator
    from pyramid.request import Request

log = logging.getLogger(__name__)

SPEC_KEY = "channelstream.openapi"
SWAGGER_STATIC = "api-explorer/swagger-ui"
JSON = "application/json"

SIGNED: list[dict[str, list[str]]] = [
    {"requestSignature": []},
    {"signature": []},
    {"querySecret": []},
]
ADMIN: list[dict[str, list[str]]] = [
    {"adminCookie": []},
    {"requestSignature": []},
    {"signature": []},
]

# -- building the document ---------------------------------------------------------------


def _schema(schema: type[Schema] | dict[str, Any]) -> dict[str, Any]:
    return {"content": {JSON: {"schema": schema}}}


def _array(schema: type[Schema]) -> dict[str, Any]:
    return {"type": "array", "items": schema}


def _body(schema: type[Schema] | dict[str, Any], description: str = "") -> dict[str, Any]:
    body = {"required": True, **_schema(schema)}
    if description:
        body["description"] = description
    return body


def _html() -> dict[str, Any]:
    return {"content": {"text/html": {"schema": {"type": "string"}}}}


def _ok(schema: type[Schema] | dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, **_schema(schema)}


ERRORS_SIGNED: dict[str, Any] = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/BadSignature"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "422": {"$ref": "#/components/responses/ValidationFailed"},
}
ERRORS_ADMIN: dict[str, Any] = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "422": {"$ref": "#/components/responses/ValidationFailed"},
}

# What any operation may answer, whatever it does: a body announced over max_body_size,
# and a node out of file descriptors or (for most) without its engine.
EVERY_OPERATION: dict[str, Any] = {
    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}
# What an operation that reads a body may answer besides: a body cut short or too slow.
WITH_BODY: dict[str, Any] = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "408": {"$ref": "#/components/responses/RequestTimeout"},
}

CONN_ID_QUERY = {
    "name": "conn_id",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
    "description": "The connection's id, from /connect.",
}
RESUME_QUERY = {
    "name": "resume",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": 'JSON: {"channels": {name: [epoch, offset]}, "direct": [epoch, offset]}: '
    "replay what came after these positions.",
}


def _operation(
    summary: str,
    tag: str,
    response: dict[str, Any] | None,
    *,
    body: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    errors: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    description: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            **EVERY_OPERATION,
            **(WITH_BODY if body is not None else {}),
            **({"200": response} if response is not None else {}),
            **(errors or {}),
            **(extra or {}),
        },
    }
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    operation["security"] = security if security is not None else []
    return operation


def _paths() -> dict[str, dict[str, Any]]:
    server = "server API"
    client = "client API"
    admin = "admin"
    info_doc = (
        "Without a body: every channel, with history and users. With "
        '`{"info": {...}}`: the listed channels.'
    )
    return {
        "/connect": {
            "post": _operation(
                "Open a connection for a user",
                server,
                _ok(responses.ConnectResponseSchema),
                body=_body(ConnectSchema),
                security=SIGNED,
                errors=ERRORS_SIGNED,
                description="Creates (or names again) a connection; the browser then attaches "
                "to it with /ws or /listen using the conn_id.",
            )
        },
        "/subscribe": {
            "post": _operation(
                "Join channels",
                server,
                _ok(responses.SubscribeResponseSchema),
                body=_body(SubscribeSchema),
                security=SIGNED,
                errors=ERRORS_SIGNED,
                parameters=[{**CONN_ID_QUERY, "required": False}],
            )
        },
        "/unsubscribe": {
            "post": _operation(
                "Leave channels",
                server,
                _ok(responses.UnsubscribeResponseSchema),
                body=_body(SubscribeSchema),
                security=SIGNED,
                errors=ERRORS_SIGNED,
                parameters=[{**CONN_ID_QUERY, "required": False}],
            )
        },
        "/user_state": {
            "post": _operation(
                "Change a user's state",
                server,
                _ok(responses.UserStateResponseSchema),
                body=_body(UserStateSchema),
                security=SIGNED,
                errors=ERRORS_SIGNED,
            )
        },
        "/message": {
            "post": _operation(
                "Publish messages",
                server,
                _ok(_array(responses.PublishedMessageSchema), "The accepted list, in order."),
                body=_body(_array(MessageSchema), "A list; one bad item rejects the batch."),
                security=SIGNED,
                errors=ERRORS_SIGNED,
            ),
            "patch": _operation(
                "Edit messages",
                server,
                _ok(_array(responses.EditedMessageSchema)),
                body=_body(_array(MessageEditSchema)),
                security=SIGNED,
                errors=ERRORS_SIGNED,
            ),
            "delete": _operation(
                "Delete messages",
                server,
                _ok(_array(responses.DeletedMessageSchema)),
                body=_body(_array(MessageDeleteSchema)),
                security=SIGNED,
                errors=ERRORS_SIGNED,
            ),
        },
        "/channel_config": {
            "post": _operation(
                "Configure channels",
                server,
                _ok(responses.ChannelsInfoSchema),
                body=_body(
                    {
                        "type": "object",
                        "additionalProperties": {
                            "$ref": "#/components/schemas/ChannelConfigChanges"
                        },
                    },
                    "{channel name: the keys to change}",
                ),
                security=SIGNED,
                errors=ERRORS_SIGNED,
            )
        },
        "/info": {
            "get": _operation(
                "Every channel's information",
                server,
                _ok(responses.ChannelsInfoSchema),
                security=SIGNED,
                errors=ERRORS_SIGNED,
            ),
            "post": _operation(
                "Channel information",
                server,
                _ok(responses.ChannelsInfoSchema),
                body={**_body(InfoBodySchema), "required": False},
                security=SIGNED,
                errors=ERRORS_SIGNED,
                description=info_doc,
            ),
        },
        "/ws": {
            "get": _operation(
                "Attach a WebSocket",
                client,
                None,
                parameters=[CONN_ID_QUERY, RESUME_QUERY],
                errors={
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "426": {"description": "Not a version 13 WebSocket upgrade."},
                },
                extra={
                    "101": {
                        "description": "Switching protocols. Every text frame is a JSON array "
                        "of message objects (`[]` is a heartbeat, every 5 s); an unknown "
                        "conn_id is closed with 1000.",
                        **_schema(_array(responses.DeliveredMessageSchema)),
                    }
                },
                description="Needs a WebSocket client: Swagger UI cannot try it.",
            )
        },
        "/listen": {
            "get": _operation(
                "Long-poll for messages",
                client,
                _ok(
                    _array(responses.DeliveredMessageSchema),
                    "What is queued, or `[]` after 5 s idle; JSONP with `callback`.",
                ),
                parameters=[
                    CONN_ID_QUERY,
                    RESUME_QUERY,
                    {
                        "name": "callback",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "JSONP: wrap the answer in this function call.",
                    },
                ],
                errors={
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "422": {"$ref": "#/components/responses/ValidationFailed"},
                },
                extra={
                    "401": {
                        "description": 'No such connection: {"conn_id": ["Unknown '
                        "connection\"]} (0.7.1's answer).",
                        **_schema({"type": "object", "additionalProperties": True}),
                    }
                },
            )
        },
        "/disconnect": {
            "get": _operation(
                "Close a connection",
                client,
                _ok({"type": "boolean"}, "true when the connection existed."),
                parameters=[CONN_ID_QUERY],
                errors={
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "422": {"$ref": "#/components/responses/ValidationFailed"},
                },
            ),
            "post": _operation(
                "Close a connection",
                client,
                _ok({"type": "boolean"}, "true when the connection existed."),
                body=_body(DisconnectSchema),
                errors={
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "422": {"$ref": "#/components/responses/ValidationFailed"},
                },
            ),
        },
        "/health": {
            "get": _operation(
                "Health of this node and its engine",
                client,
                _ok(responses.HealthSchema),
                extra={"503": _ok(responses.HealthSchema, "The engine is unavailable.")},
            )
        },
        "/admin/admin.json": {
            method: _operation(
                "Totals, channels, users, uptime, version",
                admin,
                _ok(responses.AdminSummarySchema),
                security=ADMIN,
                extra={"302": {"description": "Not an admin: to /admin/sign_in."}},
            )
            for method in ("get", "post")
        },
        "/admin/sign_in": {
            "get": _operation("The sign-in form", admin, {"description": "HTML.", **_html()}),
            "post": _operation(
                "Sign in: sets the admin cookie",
                admin,
                None,
                body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "username": {"type": "string"},
                                    "password": {"type": "string", "format": "password"},
                                },
                                "required": ["username", "password"],
                            }
                        }
                    },
                },
                extra={
                    "302": {"description": "Signed in: to /admin, with the cookie."},
                    "401": {
                        "description": "Wrong user name or password: the form again.",
                        **_html(),
                    },
                    "429": {
                        "description": "Too many failed sign-ins from this address or for this "
                        "user name: the form again, with Retry-After (seconds).",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        **_html(),
                    },
                },
            ),
        },
        "/admin/sign_out": {
            "get": _operation(
                "Sign out: drops the cookie",
                admin,
                None,
                extra={"302": {"description": "To /admin/sign_in."}},
            )
        },
        "/openapi.json": {
            "get": _operation(
                "This document",
                admin,
                {"description": "OpenAPI 3.", **_schema({"type": "object"})},
                security=ADMIN,
                errors={"403": {"$ref": "#/components/responses/Forbidden"}},
            )
        },
        "/api-explorer": {
            "get": _operation(
                "Swagger UI on this document",
                admin,
                {"description": "HTML.", **_html()},
                security=ADMIN,
                extra={"302": {"description": "Not an admin: to /admin/sign_in."}},
            )
        },
        "/admin/api/message": {
            "post": _operation(
                "Publish messages as the admin",
                admin,
                _ok(_array(responses.PublishedMessageSchema)),
                body=_body(_array(MessageSchema), "As for POST /message."),
                security=ADMIN,
                errors=ERRORS_ADMIN,
            )
        },
        "/admin/api/channel_config": {
            "post": _operation(
                "Change an existing channel's config",
                admin,
                _ok(responses.ChannelsInfoSchema),
                body=_body(_admin_channel_config_schema()),
                security=ADMIN,
                errors={**ERRORS_ADMIN, "404": {"$ref": "#/components/responses/NotFound"}},
            )
        },
        "/admin/api/disconnect": {
            "post": _operation(
                "Disconnect a connection",
                admin,
                _ok(responses.AdminDisconnectResponseSchema),
                body=_body(DisconnectSchema),
                security=ADMIN,
                errors=ERRORS_ADMIN,
            )
        },
    }


def _admin_channel_config_schema() -> type[Schema]:
    from channelstream.views.admin_panel import AdminChannelConfigSchema

    return AdminChannelConfigSchema


def _state_value_attributes(converter: Any, field: Any, ret: Any, **kwargs: Any) -> dict[str, Any]:
    """User-state values: string, number, boolean or null."""
    if isinstance(field, StateValue):
        return {
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
            "nullable": True,
        }
    return {}


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3 document (without `servers`, which depends on the request)."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="channelstream",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": "The server API (signed calls from your application's backend), "
            "the client API (browsers, with only a conn_id) and the admin API.\n\n"
            "To try a server API call here, put a fresh signature into Authorize → "
            '`signature`: `TimestampSigner(secret).sign("channelstream")` from itsdangerous, '
            "valid for 60 s (while `legacy_signatures` is on). Backends should send the "
            "request-bound `requestSignature` instead (docs/signing.md; it covers the method, "
            "path, query and body, so it cannot be pasted here). Admin calls use the cookie "
            "you signed in with.",
        },
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_state_value_attributes)
    components = spec.components
    components.security_scheme(
        "requestSignature",
        {
            "type": "apiKey",
            "in": "header",
            "name": request_signing.HEADER,
            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "
            '"<t>.<METHOD>.<path?query>.<hex sha256 of the body>")>, at most '
            "signature_max_age (60) seconds from the server's clock.",
        },
    )
    components.security_scheme(
        "signature",
        {
            "type": "apiKey",
            "in": "header",
            "name": security.SIGNATURE_HEADER,
            "description": 'itsdangerous TimestampSigner(secret).sign("channelstream"), '
            "at most 60 s old.",
        },
    )
    components.security_scheme(
        "querySecret",
        {"type": "apiKey", "in": "query", "name": "secret", "description": "As the header."},
    )
    components.security_scheme(
        "adminCookie",
        {"type": "apiKey", "in": "cookie", "name": security.ADMIN_COOKIE},
    )
    error_object = {"$ref": "#/components/schemas/RequestError"}
    components.schema("RequestError", schema=responses.RequestErrorSchema)
    components.schema("ChannelConfigChanges", schema=ChannelConfigChangesSchema)
    for name, description in (
        ("BadRequest", "Malformed JSON, a wrong top-level type or a bad query parameter."),
        ("BadSignature", 'A bad, garbled or expired signature: {"request": "Bad Signature"}.'),
        ("Forbidden", "No signature (or not an admin), or an address not allowed to post."),
        ("NotFound", "Unknown connection or channel."),
    ):
        components.response(name, {"description": description, **_schema(error_object)})
    field_errors = {"type": "object", "additionalProperties": True}
    for name, description in (
        ("PayloadTooLarge", '{"body": ["Larger than N bytes."]}: over max_body_size.'),
        ("RequestTimeout", '{"body": ["Not received in time."]}: slower than body_timeout.'),
    ):
        components.response(name, {"description": description, **_schema(field_errors)})
    components.response(
        "Unavailable",
        {
            "description": "The engine (Redis) cannot be reached, or the node is out of "
            "connections: try again after Retry-After seconds.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            **_schema(error_object),
        },
    )
    components.response(
        "ValidationFailed",
        {
            "description": "{field: [messages]}; list bodies key items by string index.",
            **_schema(
                {
                    "type": "object",
                    "additionalProperties": True,
                    "example": {"1": {"uuid": ["Not a valid UUID."]}},
                }
            ),
        },
    )
    for path, operations in _paths().items():
        spec.path(path=path, operations=copy.deepcopy(operations))
    return spec.to_dict()


def openapi_document(request: Request) -> dict[str, Any]:
    registry = request.registry
    document = registry.get(SPEC_KEY)
    if document is None:
        try:
            document = registry[SPEC_KEY] = build_openapi()
        except ImportError:
            raise RequestError.with_status(
                503, {"request": "The OpenAPI document needs apispec: pip install apispec"}
            ) from None
    # The document's own URL minus its name: the application's URL plus any route prefix
    # the add-on is mounted under, so Swagger UI's "Try it out" calls the real routes.
    base = request.route_url("channelstream.openapi").rpartition("/")[0]
    return {**document, "servers": [{"url": base or "/"}]}


# -- views ------------------------------------------------------------------------------

EXPLORER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>channelstream API explorer</title>
<link rel="stylesheet" href="{swagger}swagger-ui.css">
<link rel="stylesheet" href="{admin_static}admin.css">
</head>
<body class="explorer" data-openapi-url="{openapi}">
<header class="topbar"><div class="brand"><a href="{admin}">channelstream admin</a>
<span class="sep">/</span> API explorer</div>
<nav aria-label="Account"><a href="{admin}">Dashboard</a>
<a href="{sign_out}">Sign out</a></nav></header>
<main id="swagger-ui" aria-label="API explorer"></main>
<script src="{swagger}swagger-ui-bundle.js"></script>
<script src="{admin_static}explorer.js"></script>
</body></html>
"""

MISSING_SWAGGER = (
    "<!doctype html><title>API explorer</title><p>The API explorer needs the "
    "swagger-ui-bundle package: <code>pip install swagger-ui-bundle</code>. "
    'The document itself is at <a href="{openapi}">{openapi}</a>.</p>'
)


def openapi_view(request: Request) -> Response:
    if not is_admin(request):
        raise Forbidden({"request": "Sign in as the admin, or sign the request."})
    return json_response(openapi_document(request), 200)


def explorer_view(request: Request) -> Response:
    if not is_admin(request):
        return HTTPFound(request.route_url("channelstream.admin_sign_in"))
    openapi = html.escape(request.route_url("channelstream.openapi"))
    if not request.registry.get("channelstream.swagger_ui"):
        return Response(MISSING_SWAGGER.format(openapi=openapi), status=503)
    page = EXPLORER_PAGE.format(
        swagger=html.escape(request.static_url(request.registry["channelstream.swagger_ui"])),
        admin_static=html.escape(request.static_url("channelstream:static/admin/")),
        openapi=openapi,
        admin=html.escape(request.route_url("channelstream.admin")),
        sign_out=html.escape(request.route_url("channelstream.admin_sign_out")),
    )
    return Response(page, content_type="text/html")


def includeme(config: Configurator) -> None:
    config.add_route("channelstream.openapi", "/openapi.json")
    config.add_view(
        openapi_view,
        route_name="channelstream.openapi",
        request_method="GET",
    )
    refuse_other_methods(config, "channelstream.openapi", ("GET",))
    config.add_route("channelstream.api_explorer", "/api-explorer")
    config.add_view(explorer_view, route_name="channelstream.api_explorer", request_method="GET")
    refuse_other_methods(config, "channelstream.api_explorer", ("GET",))
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.warning("swagger-ui-bundle is not installed: /api-explorer cannot show Swagger UI")
        return
    path = str(swagger_ui_path).rstrip("/") + "/"
    config.add_static_view(SWAGGER_STATIC, path, cache_max_age=3600)
    config.registry["channelstream.swagger_ui"] = path
