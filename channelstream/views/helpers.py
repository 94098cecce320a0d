"""What the view classes share: the state, JSON answers and bodies, schema loading."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError

from channelstream import jsonenc
from channelstream.cooperate import slices
from channelstream.errors import BadRequest, ValidationFailed
from channelstream.request_body import raw_body
from channelstream.runtime import runtime_of
from channelstream.schemas import fastpath
from channelstream.state import State
from channelstream.views.errors import json_response

if TYPE_CHECKING:
    from pyramid.request import Request
    from pyramid.response import Response


def json_view(method: Callable[..., Any]) -> Callable[..., Response]:
    """Answer what a view method returns as JSON, built directly: Pyramid's renderer path
    (response object, content-type machinery) cost about 13 us of a 48 us API call."""

    @functools.wraps(method)
    def answer(self: Any) -> Response:
        result = method(self)
        if type(result) is list and len(result) > ANSWER_SLICE:
            return _long_list_response(result)
        return json_response(result, 200)

    return answer


# A long list answer (a big publish) is encoded this many items at a time.
ANSWER_SLICE = 5000


def _long_list_response(items: list[Any]) -> Response:
    """The same JSON as one ``dumps``, encoded a slice at a time with turns between."""
    from pyramid.response import Response

    parts = [jsonenc.dumps(part)[1:-1] for part in slices(items, ANSWER_SLICE)]
    body = b"[" + b",".join(parts) + b"]"
    return Response(body=body, status=200, content_type="application/json", charset=None)


def state_of(request: Request) -> State:
    return runtime_of(request).state


# What `json_body(..., allow_empty=True)` answers for a request without a body: not None,
# which is what a JSON `null` body decodes to (and a wrong type, refused like any other).
NO_BODY = object()


def json_body(request: Request, state: State, *, allow_empty: bool = False) -> Any:
    """The request's JSON body; 413 when too large, 400 when malformed or cut short;
    NO_BODY when empty and `allow_empty`."""
    raw = raw_body(request, state.settings.max_body_size)
    if not raw.strip():
        if allow_empty:
            return NO_BODY
        raise BadRequest({"body": ["A JSON body is required."]})
    try:
        return jsonenc.loads(raw)
    except ValueError:
        raise BadRequest({"body": ["Malformed JSON."]}) from None


# 0.7.1's answer (marshmallow's) to a body of the wrong JSON type: a list where an object is
# expected, an object where a list is, a string, a number or null.
INVALID_INPUT_TYPE = {"_schema": ["Invalid input type."]}

# Schemas are stateless once built and building one deep-copies its fields (about 150 us
# per request): one instance per schema class serves every request.
_instances: dict[type[Schema], Schema] = {}


def schema_instance(schema: type[Schema] | Schema) -> Schema:
    if isinstance(schema, Schema):
        return schema
    instance = _instances.get(schema)
    if instance is None:
        instance = _instances[schema] = schema()
    return instance


# A long list is validated this many items at a time, other clients served in between
# (about 3 ms of marshmallow, or of the fast path).
LOAD_SLICE = 200
FAST_SLICE = 1000


def load(schema: type[Schema] | Schema, data: Any, *, many: bool = False) -> Any:
    """Validate with marshmallow; 422 with {field: [messages]} (list items keyed "0", "1"...).
    A list is refused whole when any item is wrong."""
    schema = schema_instance(schema)
    if not isinstance(data, list if many else dict):
        raise ValidationFailed(INVALID_INPUT_TYPE)
    if isinstance(data, list) and len(data) > LOAD_SLICE:
        return _load_in_slices(schema, data)
    try:
        return schema.load(data, many=many)
    except ValidationError as exc:
        raise ValidationFailed(string_keys(exc.messages)) from None


def fast_messages(data: Any) -> list[dict[str, Any]] | None:
    """``fastpath.messages`` over a long list a slice at a time (None: the schema decides)."""
    if type(data) is not list or len(data) <= FAST_SLICE:
        return fastpath.messages(data)
    loaded: list[dict[str, Any]] = []
    for part in slices(data, FAST_SLICE):
        messages = fastpath.messages(part)
        if messages is None:
            return None
        loaded.extend(messages)
    return loaded


def _load_in_slices(schema: Schema, data: list[Any]) -> list[Any]:
    loaded: list[Any] = []
    errors: dict[str, Any] = {}
    for start, part in enumerate(slices(data, LOAD_SLICE)):
        try:
            loaded.extend(schema.load(part, many=True))
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            for key, value in messages.items():
                where = start * LOAD_SLICE + key if isinstance(key, int) else key
                errors[str(where)] = string_keys(value)
    if errors:
        raise ValidationFailed(errors)
    return loaded


def string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [string_keys(item) for item in value]
    return value
