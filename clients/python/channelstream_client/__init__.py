"""channelstream_client: call a channelstream server from a Python backend.

    from channelstream_client import Client

    client = Client("http://127.0.0.1:8000", "secret")
    conn_id = client.connect("alice", ["lobby"])["conn_id"]
    client.publish({"channel": "lobby", "user": "alice", "message": {"text": "hi"}})

``AsyncClient`` is the same for asyncio; ``Publisher`` / ``AsyncPublisher`` gather
concurrent publishes into shared requests; ``verify_webhook`` checks channelstream's
webhook requests.
"""

from __future__ import annotations

__version__ = "1.0.0"

from channelstream_client._calls import NO_RETRIES, RetryPolicy
from channelstream_client._signing import sign_legacy, sign_request
from channelstream_client.async_client import AsyncClient
from channelstream_client.client import Client
from channelstream_client.errors import (
    APIError,
    ChannelstreamClientError,
    TransportError,
    WebhookError,
)
from channelstream_client.publisher import AsyncPublisher, Publisher
from channelstream_client.webhooks import verify_webhook

__all__ = [
    "NO_RETRIES",
    "APIError",
    "AsyncClient",
    "AsyncPublisher",
    "ChannelstreamClientError",
    "Client",
    "Publisher",
    "RetryPolicy",
    "TransportError",
    "WebhookError",
    "__version__",
    "sign_legacy",
    "sign_request",
    "verify_webhook",
]
