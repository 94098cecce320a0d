"""A webhook request as channelstream makes it is what channelstream_client verifies."""

from __future__ import annotations

import json

import pytest

from channelstream.engine.base import OutboxBatch, Transition
from channelstream.webhooks import payload
from channelstream_client import WebhookError, verify_webhook

BATCH = OutboxBatch(
    "e1",
    [
        Transition(7, "user_online", 1_700_000_000_123, None, "alice"),
        Transition(8, "channel_vacated", 1_700_000_000_124, "lobby", None),
        Transition(9, "user_joined", 1_700_000_000_125, "lobby", 'ålice "q"'),
    ],
    0,
)


def test_the_body_names_each_event_with_a_stable_id_and_only_its_fields() -> None:
    body = json.loads(payload.body(BATCH, 1_700_000_001_000))
    assert body == {
        "time_ms": 1_700_000_001_000,
        "events": [
            {"name": "user_online", "id": "e1-7", "time_ms": 1_700_000_000_123, "user": "alice"},
            {"name": "channel_vacated", "id": "e1-8", "time_ms": 1_700_000_000_124,
             "channel": "lobby"},
            {"name": "user_joined", "id": "e1-9", "time_ms": 1_700_000_000_125,
             "channel": "lobby", "user": "ålice \"q\""},
        ],
    }  # fmt: skip


def test_the_client_verifies_what_the_server_signs() -> None:
    body = payload.body(BATCH, 1_700_000_001_000)
    headers = payload.headers(["webhook-key-0123456789"], body, 1_700_000_001)
    assert headers["Content-Type"] == "application/json"
    events = verify_webhook("webhook-key-0123456789", headers, body, now=1_700_000_001)
    assert [event["id"] for event in events] == ["e1-7", "e1-8", "e1-9"]
    with pytest.raises(WebhookError, match="does not match"):
        verify_webhook("another-key-0123456789", headers, body, now=1_700_000_001)
    with pytest.raises(WebhookError, match="from now"):
        verify_webhook("webhook-key-0123456789", headers, body, now=1_700_000_001 + 301)


def test_while_rotating_a_signature_for_each_key_verifies_with_either() -> None:
    body = payload.body(BATCH, 1)
    header = payload.signature(["new-key-0123456789", "old-key-0123456789"], body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and header.count("v1=") == 2
    signed = {payload.SIGNATURE_HEADER: header}
    for key in ("new-key-0123456789", "old-key-0123456789"):
        assert len(verify_webhook(key, signed, body, now=1_700_000_000)) == 3
