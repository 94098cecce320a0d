"""Every error channelstream raises on purpose, each carrying its HTTP status.

ChannelstreamError
├── ConfigurationError        bad settings: the server refuses to start
├── Unavailable (503)         the shared state cannot be reached, or cannot yet tell an
│                             unknown stream from a lost one: the caller retries
└── RequestError (4xx)        one exception view turns these into JSON answers
    ├── BadRequest            400: malformed JSON, wrong top-level type, bad query
    ├── SignatureMissing      403: no signature on a server API call
    ├── BadSignature          401: bad, garbled or expired signature
    ├── Forbidden             403: caller's address not allowed
    ├── NotFound              404: unknown connection, channel or user
    ├── PayloadTooLarge       413: body over max_body_size
    ├── ValidationFailed      422: marshmallow said no; body is {field: [messages]}
    └── LimitReached          422, 429 or 503: a limit of channelstream.limits refused;
                              body is {"limit": setting name, field: [messages]}
"""

from __future__ import annotations

from typing import Any


class ChannelstreamError(Exception):
    """Base of everything channelstream raises on purpose."""


class ConfigurationError(ChannelstreamError):
    """The settings cannot work; raised at startup, never while serving."""


class Unavailable(ChannelstreamError):
    """Raised by an engine: answering now could lose what the caller sends (503)."""

    status = 503


class RequestError(ChannelstreamError):
    status = 400

    def __init__(self, body: Any) -> None:
        super().__init__(body)
        self.body = body

    @classmethod
    def with_status(cls, status: int, body: Any) -> RequestError:
        error = cls(body)
        error.status = status
        return error


class BadRequest(RequestError):
    status = 400


class SignatureMissing(RequestError):
    status = 403


class BadSignature(RequestError):
    status = 401

    def __init__(self, reason: str = "Bad Signature") -> None:
        # 0.7.1's exact body by default: existing backends may match on it.
        super().__init__({"request": reason})


class Forbidden(RequestError):
    status = 403


class NotFound(RequestError):
    status = 404


class PayloadTooLarge(RequestError):
    status = 413


class ValidationFailed(RequestError):
    status = 422


class LimitReached(RequestError):
    """A configured limit refused the call. `limit` names the setting (refusals are counted
    by it, in the one exception view); `retry_after`, when known, is sent as Retry-After."""

    def __init__(
        self, limit: str, status: int, field: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__({"limit": limit, field: [message]})
        self.limit = limit
        self.status = status
        self.message = message
        self.retry_after = retry_after


# 0.7.1's answer to a well-formed conn_id that names no connection (no trailing period).
UNKNOWN_CONNECTION = {"conn_id": ["Unknown connection"]}
