"""The client API: what browsers call with only a conn_id (no signature)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

from pyramid.response import Response

from channelstream import operations, presenters
from channelstream.delivery import attach as attaching
from channelstream.delivery.hub import LocalConnection
from channelstream.errors import UNKNOWN_CONNECTION, BadRequest, RequestError, ValidationFailed
from channelstream.realtime.frames import json_array
from channelstream.realtime.longpoll import LongPollTransport
from channelstream.realtime.websocket import (
    CLOSE_NORMAL,
    CLOSE_TRY_AGAIN,
    UPGRADE_KEY,
    WebSocketSession,
    valid_handshake_key,
)
from channelstream.runtime import runtime_of
from channelstream.schemas import responses
from channelstream.schemas.connections import DisconnectSchema
from channelstream.views.errors import json_response
from channelstream.views.helpers import json_body, json_view, load, state_of
from channelstream.views.openapi import CONN_ID_QUERY, JSON, RESUME_QUERY, documented

if TYPE_CHECKING:
    from pyramid.request import Request

log = logging.getLogger(__name__)

JSONP_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,127}$")


def _conn_id(request: Request, refusal: type[RequestError] = BadRequest) -> str:
    """The query's conn_id; a missing or malformed one is refused with `refusal`."""
    value = request.GET.get("conn_id")
    if not value:
        raise refusal({"conn_id": ["Missing data for required field."]})
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise refusal({"conn_id": ["Not a valid UUID."]}) from None


class ClientViews:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.state = state_of(request)

    @documented(
        "Attach a WebSocket",
        params=(CONN_ID_QUERY, RESUME_QUERY),
        responses={
            "101": {
                "description": "Switching protocols. Every text frame is a JSON array of "
                "message objects (`[]` is a heartbeat, every 5 s); an unknown conn_id is "
                "closed with 1000.",
                "content": {
                    JSON: {"schema": {"type": "array", "items": responses.DeliveredMessageSchema}}
                },
            },
            "400": "BadRequest",
            "426": {"description": "Not a version 13 WebSocket upgrade."},
        },
        description="Needs a WebSocket client: Swagger UI cannot try it.",
    )
    def websocket(self) -> Response:
        request = self.request
        # The headers from the environ directly: request.headers is a view made per
        # request that translates each name on each lookup.
        environ = request.environ
        if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            raise BadRequest({"request": ["Expected a WebSocket upgrade."]})
        version = environ.get("HTTP_SEC_WEBSOCKET_VERSION")
        if not version:
            raise RequestError.with_status(426, {"Sec-WebSocket-Version": ["Required: 13."]})
        if version != "13":
            raise BadRequest({"Sec-WebSocket-Version": ["Only version 13 is supported."]})
        if not valid_handshake_key(environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()):
            raise BadRequest({"Sec-WebSocket-Key": ["Not a valid WebSocket key."]})
        conn_id = _conn_id(request)
        resume = attaching.parse_resume(request.GET.get("resume"))
        upgrade = request.environ.get(UPGRADE_KEY)
        if upgrade is None:
            raise RequestError.with_status(
                501, {"request": ["WebSocket needs channelstream's gevent server runner."]}
            )
        settings = self.state.settings
        state = self.state
        frame_rate = runtime_of(request).limits.frames

        def make_session(sock: Any, leftover: bytes) -> WebSocketSession:
            return WebSocketSession(
                sock,
                conn_id=conn_id,
                max_message=settings.ws_max_message_size,
                max_queued=settings.max_queued_bytes,
                clock=state.clock,
                leftover=leftover,
                frame_rate=frame_rate,
                closes=state.hub.ws_closes,
            )

        def run(session: WebSocketSession) -> None:
            serve_websocket(state, session, resume)

        upgrade(make_session, run)
        return Response(status=101)

    @documented(
        "Long-poll for messages",
        answer=[responses.DeliveredMessageSchema],
        answer_description="What is queued, or `[]` after 5 s idle; JSONP with `callback`.",
        params=(
            CONN_ID_QUERY,
            RESUME_QUERY,
            {
                "name": "callback",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "JSONP: wrap the answer in this function call.",
            },
        ),
        responses={
            "400": "BadRequest",
            "401": {
                "description": 'No such connection: {"conn_id": ["Unknown connection"]} '
                "(0.7.1's answer).",
                "content": {JSON: {"schema": {"type": "object", "additionalProperties": True}}},
            },
            "422": "ValidationFailed",
        },
    )
    def listen(self) -> Response:
        # 0.7.1: 422 for a malformed conn_id, 401 for an unknown one.
        conn_id = _conn_id(self.request, ValidationFailed)
        resume = attaching.parse_resume(self.request.GET.get("resume"))
        callback = self.request.GET.get("callback")
        if callback is not None and not JSONP_CALLBACK.match(callback):
            raise BadRequest({"callback": ["Not a valid JavaScript name."]})
        transport = LongPollTransport(self.state.concurrency.signal())
        local = attaching.attach(self.state, conn_id, transport, resume)
        if local is None:
            raise RequestError.with_status(401, UNKNOWN_CONNECTION)
        try:
            bodies = transport.wait(self.state.settings.longpoll_timeout)
        finally:
            attaching.detach(self.state, local)
            # The client's next poll continues this one: no new upgrade (limits.buckets).
            runtime_of(self.request).limits.poll_ended(local.conn_id)
        body = json_array(bodies)
        if callback:
            return Response(
                body=b"/**/" + callback.encode() + b"(" + body + b");",
                content_type="application/javascript",
                charset=None,
            )
        return Response(body=body, content_type="application/json", charset=None)

    @documented(
        "Close a connection",
        method="POST",
        body=DisconnectSchema,
        answer={"type": "boolean"},
        answer_description="true when the connection existed.",
    )
    @documented(
        "Close a connection",
        method="GET",
        answer={"type": "boolean"},
        answer_description="true when the connection existed.",
        params=(CONN_ID_QUERY,),
        responses={"400": "BadRequest", "422": "ValidationFailed"},
    )
    @json_view
    def disconnect(self) -> bool:
        # As 0.7.1: the conn_id of the body or the query, validated by the schema, so that a
        # missing one reads "Field may not be null." and a malformed one "Not a valid UUID."
        # (422); a well-formed but unknown one answers false.
        if self.request.method == "POST":
            body = json_body(self.request, self.state)
            payload = {"conn_id": body.get("conn_id")} if isinstance(body, dict) else body
        else:
            payload = {"conn_id": self.request.GET.get("conn_id")}
        data = load(DisconnectSchema, payload)
        return operations.disconnect(self.state, data["conn_id"])

    @documented(
        "Health of this node and its engine",
        answer=responses.HealthSchema,
        responses={
            "503": {
                "description": "The engine is unavailable.",
                "content": {JSON: {"schema": responses.HealthSchema}},
            }
        },
    )
    def health(self) -> Response:
        body, ok = presenters.health(self.state)
        return json_response(body, 200 if ok else 503)


def serve_websocket(state: Any, session: WebSocketSession, resume: attaching.Resume) -> None:
    """Attach an upgraded socket (catch-up, then live) and let its watcher take over."""
    try:
        local = attaching.attach(state, session.conn_id, session, resume)
    except Exception:
        # The shared state is unreachable (Redis down): the client retries with backoff.
        log.warning("attaching %s failed", session.conn_id, exc_info=True)
        session.close(CLOSE_TRY_AGAIN, "try again later")
        session.start(on_end=_nothing)
        return
    if local is None:
        session.close(CLOSE_NORMAL, "unknown connection")
        session.start(on_end=_nothing)
        return
    # The socket's own id string goes: the connection's (the engine's) is kept anyway.
    session.conn_id = local.conn_id
    session.start(_detach_closed, state, local)


def _detach_closed(state: Any, local: LocalConnection) -> None:
    attaching.detach(state, local, socket_closed=True)


def _nothing() -> None:
    return None
