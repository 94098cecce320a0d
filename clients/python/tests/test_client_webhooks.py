"""verify_webhook against bodies signed here as the webhook contract says:
``X-Channelstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``,
body ``{"time_ms", "events": [...]}``, a ``t`` older than five minutes refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from channelstream_client import WebhookError, verify_webhook

SECRET = "webhook-secret"
EVENTS = [
    {"name": "user_online", "id": "e1", "time_ms": 1, "user": "alice"},
    {"name": "channel_occupied", "id": "e2", "time_ms": 2, "channel": "lobby"},
    {"name": "user_joined", "id": "e3", "time_ms": 3, "channel": "lobby", "user": "alice"},
]


def webhook(
    events: Any = EVENTS, secret: str = SECRET, t: int | None = None
) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"time_ms": 1234, "events": events}).encode()
    stamp = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Channelstream-Signature": f"t={stamp},v1={mac}"}, body


def test_a_genuine_webhook_answers_its_events() -> None:
    headers, body = webhook()
    assert verify_webhook(SECRET, headers, body) == EVENTS
    assert verify_webhook(SECRET, headers, body.decode()) == EVENTS


@pytest.mark.parametrize(
    "form",
    [
        lambda value: {"x-channelstream-signature": value},  # a lowercased dict
        lambda value: {"HTTP_X_CHANNELSTREAM_SIGNATURE": value},  # Django's request.META
        lambda value: {"X-CHANNELSTREAM-SIGNATURE": value, "Other": "x"},
    ],
)
def test_headers_are_found_in_every_usual_form(form: Any) -> None:
    headers, body = webhook()
    assert verify_webhook(SECRET, form(headers["X-Channelstream-Signature"]), body) == EVENTS


def test_any_key_of_a_rotation_verifies() -> None:
    headers, body = webhook(secret="old-webhook-key")
    assert verify_webhook(f"{SECRET} old-webhook-key", headers, body) == EVENTS
    assert verify_webhook([SECRET, "old-webhook-key"], headers, body) == EVENTS


def test_a_wrong_secret_or_a_changed_body_is_refused() -> None:
    headers, body = webhook()
    with pytest.raises(WebhookError, match="does not match"):
        verify_webhook("another-secret", headers, body)
    with pytest.raises(WebhookError, match="does not match"):
        verify_webhook(SECRET, headers, body.replace(b"alice", b"mallory"))
    # Parsed and encoded again, the same JSON is other bytes: verify the raw body.
    with pytest.raises(WebhookError, match="does not match"):
        verify_webhook(SECRET, headers, json.dumps(json.loads(body), indent=1))


def test_old_and_future_timestamps_are_refused() -> None:
    now = time.time()
    headers, body = webhook(t=int(now) - 301)
    with pytest.raises(WebhookError, match="from now"):
        verify_webhook(SECRET, headers, body, now=now)
    headers, body = webhook(t=int(now) - 299)
    assert verify_webhook(SECRET, headers, body, now=now) == EVENTS
    headers, body = webhook(t=int(now) + 301)
    with pytest.raises(WebhookError, match="from now"):
        verify_webhook(SECRET, headers, body, now=now)
    headers, body = webhook(t=int(now) - 50)
    with pytest.raises(WebhookError):
        verify_webhook(SECRET, headers, body, now=now, max_age=10)


@pytest.mark.parametrize("value", ["", "garbage", "t=1", "v1=abc", "t=x,v1=abc", "t=\u0661,v1=abc"])
def test_a_missing_or_malformed_header_is_refused(value: str) -> None:
    _, body = webhook()
    with pytest.raises(WebhookError):
        verify_webhook(SECRET, {"X-Channelstream-Signature": value}, body)
    with pytest.raises(WebhookError, match="no X-Channelstream-Signature"):
        verify_webhook(SECRET, {}, body)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"time_ms": 1}',
        b'{"events": {}}',
        b'{"events": [1]}',
        b'{"events": [{"id": "x"}]}',
    ],
)
def test_a_signed_body_of_the_wrong_shape_is_refused(raw: bytes) -> None:
    stamp = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookError):
        verify_webhook(SECRET, {"X-Channelstream-Signature": f"t={stamp},v1={mac}"}, raw)


def test_an_empty_secret_is_a_programming_error() -> None:
    headers, body = webhook()
    with pytest.raises(ValueError):
        verify_webhook("", headers, body)
    assert issubclass(WebhookError, ValueError)
