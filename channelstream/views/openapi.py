"""The OpenAPI 3 document, derived from what is registered: every route and view Pyramid
knows (its pattern, methods and guard) and the marshmallow schemas the view names.

A view takes part by saying what it is about, beside its code::

    @documented("Open a connection for a user", body=ConnectSchema, answer=ConnectAnswer)

Paths, methods and security come from the registration (``routes.py`` and the modules it
includes); request and answer schemas are the same marshmallow schemas that validate; the
errors follow from the guard (``views.guards``) and the body. Nothing is listed twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channelstream import request_signing, security
from channelstream.schemas import responses
from channelstream.schemas.connections import ChannelConfigChangesSchema
from channelstream.schemas.fields import StateValue
from channelstream.version import __version__
from channelstream.views import guards
from channelstream.views.errors import ROUTE_PREFIX

if TYPE_CHECKING:
    from pyramid.registry import Registry

JSON = "application/json"
# What a body or an answer may be: a schema class, [schema] for a list, or plain OpenAPI.
Shape = type | list[type] | dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Doc:
    summary: str
    description: str = ""
    # The audience, when the guard does not say it: "server API", "client API", "admin".
    tag: str | None = None
    body: Shape | None = None
    body_description: str = ""
    body_required: bool = True
    # Another media type than JSON for the body (the sign-in form).
    body_media: str = JSON
    answer: Shape | None = None
    answer_description: str = "OK"
    answer_media: str = JSON
    params: tuple[dict[str, Any], ...] = ()
    # More answers, by status: {"404": "NotFound"} names a shared response; a dict is literal.
    responses: dict[str, str | dict[str, Any]] = dataclasses.field(default_factory=dict)


def documented(summary: str, *, method: str | None = None, **fields: Any) -> Callable[..., Any]:
    """Describe a view for the OpenAPI document; `method` limits it to one of its methods."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        docs = dict(getattr(view, "__openapi__", {}))
        docs[method.lower() if method else None] = Doc(summary, **fields)
        view.__openapi__ = docs  # type: ignore[attr-defined]
        return view

    return mark


# -- query parameters the client API shares -----------------------------------------------
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

# -- what a guard means for an operation ---------------------------------------------------
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
TAGS = {
    guards.API: "server API",
    guards.ADMIN: "admin",
    guards.ADMIN_PAGE: "admin",
    guards.ADMIN_ACT: "admin",
    guards.SOCKET: "client API",
    guards.POLL: "client API",
    None: "client API",
}
SECURITY: dict[str | None, list[dict[str, list[str]]]] = {
    guards.API: SIGNED,
    guards.ADMIN: ADMIN,
    guards.ADMIN_PAGE: ADMIN,
    guards.ADMIN_ACT: ADMIN,
    guards.SOCKET: [],
    guards.POLL: [],
    None: [],
}
GUARD_ANSWERS: dict[str | None, dict[str, str | dict[str, Any]]] = {
    guards.API: {"401": "BadSignature", "403": "Forbidden"},
    guards.ADMIN: {"403": "Forbidden"},
    guards.ADMIN_PAGE: {"302": {"description": "Not an admin: to /admin/sign_in."}},
    guards.ADMIN_ACT: {"403": "Forbidden"},
    guards.SOCKET: {"429": "TooManyUpgrades", "503": "NodeFull"},
    guards.POLL: {"429": "TooManyUpgrades", "503": "NodeFull"},
    None: {},
}
# What any operation may answer, whatever it does: a body announced over max_body_size, and
# a node out of file descriptors or (for most) without its engine; and what one that reads
# a body may answer besides: a body cut short, or too slow.
EVERY_OPERATION: dict[str, str | dict[str, Any]] = {
    "413": "PayloadTooLarge",
    "503": "Unavailable",
}
WITH_BODY: dict[str, str | dict[str, Any]] = {"400": "BadRequest", "408": "RequestTimeout"}
SHARED_RESPONSES = {
    "BadRequest": "Malformed JSON, a wrong top-level type or a bad query parameter.",
    "BadSignature": 'A bad, garbled or expired signature: {"request": "Bad Signature"}.',
    "Forbidden": "No signature (or not an admin), or an address not allowed to post.",
    "NotFound": "Unknown connection or channel.",
}
# What a limit answers (README "Limits"): {"limit": its setting, field: [message]}.
LIMIT_RESPONSES = {
    "TooManyUpgrades": "This client address started connections faster than "
    "upgrades_per_second_per_address allows; Retry-After says when to try again.",
    "NodeFull": "This node serves max_connections already; Retry-After says when to try "
    "again (a load balancer tries another node).",
    "TooManyConnections": "The user holds max_connections_per_user connections already.",
}


def _content(shape: Shape, media: str = JSON) -> dict[str, Any]:
    if isinstance(shape, list):
        schema: Any = {"type": "array", "items": shape[0]}
    else:
        schema = shape
    return {"content": {media: {"schema": schema}}}


def _answer(value: str | dict[str, Any]) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{value}"} if isinstance(value, str) else value


def operation(doc: Doc, guard: str | None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if doc.answer is not None:
        answers["200"] = {
            "description": doc.answer_description,
            **_content(doc.answer, doc.answer_media),
        }
    derived: dict[str, str | dict[str, Any]] = {**EVERY_OPERATION, **GUARD_ANSWERS[guard]}
    if doc.body is not None:
        derived.update(WITH_BODY)
    if (doc.body is not None and doc.body_media == JSON) or guard == guards.API:
        derived.update({"400": "BadRequest", "422": "ValidationFailed"})
    for status, value in {**derived, **doc.responses}.items():
        answers[status] = _answer(value)
    result: dict[str, Any] = {
        "summary": doc.summary,
        "tags": [doc.tag or TAGS[guard]],
        "responses": dict(sorted(answers.items())),
        "security": SECURITY[guard],
    }
    if doc.description:
        result["description"] = doc.description
    if doc.body is not None:
        body: dict[str, Any] = {"required": doc.body_required, **_content(doc.body, doc.body_media)}
        if doc.body_description:
            body["description"] = doc.body_description
        result["requestBody"] = body
    if doc.params:
        result["parameters"] = [dict(param) for param in doc.params]
    return result


def endpoints(registry: Registry, prefix: str) -> dict[str, dict[str, dict[str, Any]]]:
    """{path: {method: operation}} for every documented view of our routes."""
    introspector = registry.introspector
    paths: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in introspector.get_category("views"):
        view = entry["introspectable"]
        route_name = view["route_name"]
        if not route_name or not route_name.startswith(ROUTE_PREFIX):
            continue
        target = view["callable"]
        docs = getattr(getattr(target, view["attr"]) if view["attr"] else target, "__openapi__", {})
        if not docs:
            continue
        route = introspector.get("routes", route_name)
        path = "/" + route["pattern"].lstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        methods = view["request_methods"] or [name for name in docs if name] or ["GET"]
        for method in [methods] if isinstance(methods, str) else methods:
            doc = docs.get(method.lower()) or docs.get(None)
            if doc is not None:
                guard = view.get(guards.OPTION)
                paths.setdefault(path, {})[method.lower()] = operation(doc, guard)
    return dict(sorted(paths.items()))


def _state_value_attributes(converter: Any, field: Any, ret: Any, **kwargs: Any) -> dict[str, Any]:
    """User-state values: string, number, boolean or null."""
    if isinstance(field, StateValue):
        return {
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
            "nullable": True,
        }
    return {}


def build_openapi(registry: Registry, prefix: str = "") -> dict[str, Any]:
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
    components.schema("RequestError", schema=responses.RequestErrorSchema)
    components.schema("ChannelConfigChanges", schema=ChannelConfigChangesSchema)
    error_object = {"$ref": "#/components/schemas/RequestError"}
    for name, description in SHARED_RESPONSES.items():
        components.response(name, {"description": description, **_content(error_object)})
    field_errors = {"type": "object", "additionalProperties": True}
    for name, description in (
        ("PayloadTooLarge", '{"body": ["Larger than N bytes."]}: over max_body_size.'),
        ("RequestTimeout", '{"body": ["Not received in time."]}: slower than body_timeout.'),
    ):
        components.response(name, {"description": description, **_content(field_errors)})
    components.response(
        "Unavailable",
        {
            "description": "The engine (Redis) cannot be reached, or the node is out of "
            "connections: try again after Retry-After seconds.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            **_content(error_object),
        },
    )
    limit_object = {"$ref": "#/components/schemas/LimitReached"}
    components.schema("LimitReached", schema=responses.LimitReachedSchema)
    for name, description in LIMIT_RESPONSES.items():
        components.response(name, {"description": description, **_content(limit_object)})
    components.response(
        "ValidationFailed",
        {
            "description": "{field: [messages]}; list bodies key items by string index.",
            **_content(
                {
                    "type": "object",
                    "additionalProperties": True,
                    "example": {"1": {"uuid": ["Not a valid UUID."]}},
                }
            ),
        },
    )
    for path, operations in endpoints(registry, prefix).items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
