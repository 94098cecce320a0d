"""What the client raises.

ChannelstreamClientError
├── APIError          the server answered 4xx or 5xx: ``.status``, ``.errors`` (its JSON body)
├── TransportError    no answer at all (refused, reset, timed out), after the retries
└── WebhookError      a webhook whose signature, age or body is not acceptable
"""

from __future__ import annotations

from typing import Any


class ChannelstreamClientError(Exception):
    """Base of everything channelstream_client raises on purpose."""


class APIError(ChannelstreamClientError):
    """channelstream answered with an error status.

    ``errors`` is the answer's JSON body: ``{"request": "Bad Signature"}`` for a 401,
    ``{field: [messages]}`` for a 422 (list bodies key items by their index as a string),
    the raw text when the body was not JSON (a proxy's error page, say).
    """

    def __init__(self, status: int, errors: Any, method: str = "", path: str = "") -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}{self.status} {self.errors!r}"


class TransportError(ChannelstreamClientError):
    """The request got no answer (connection refused or reset, timeout) after every try;
    the underlying httpx error is ``__cause__``."""


class WebhookError(ChannelstreamClientError, ValueError):
    """A webhook request to refuse (answer it with 400 or 401)."""
