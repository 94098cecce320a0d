"""``verify_webhook``: check a webhook request from channelstream and answer its events.

channelstream signs every webhook POST with
``X-Channelstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret,
"<t>." + raw body)>``; its body is ``{"time_ms": <int>, "events": [{"name", "id",
"time_ms", ...}, ...]}``. A receiver refuses a ``t`` older than five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

from channelstream_client.errors import WebhookError
from channelstream_client.types import WebhookEvent

SIGNATURE_HEADER = "X-Channelstream-Signature"
DEFAULT_MAX_AGE = 300
_HEADER_NAMES = (SIGNATURE_HEADER, SIGNATURE_HEADER.lower(), "HTTP_X_CHANNELSTREAM_SIGNATURE")


def verify_webhook(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    max_age: float = DEFAULT_MAX_AGE,
    now: float | None = None,
) -> list[WebhookEvent]:
    """The batch's events if the request is genuine; ``WebhookError`` if not.

    ``secret`` is the webhook secret (several, as a list or whitespace-separated, while you
    rotate it: any one verifies). ``headers`` is the request's headers (Flask's
    ``request.headers``, Django's ``request.headers`` or ``request.META``, a plain dict);
    ``body`` the raw body, as received (``request.get_data()``, ``request.body``,
    ``await request.body()``): a body parsed and re-encoded would not verify.
    A ``t`` more than ``max_age`` seconds from now, either way, is refused: a captured
    request cannot be replayed later. The same batch may arrive twice (delivery is at least
    once): drop events whose ``id`` you have seen.
    """
    keys = secret.split() if isinstance(secret, str) else [key for key in secret if key]
    if not keys:
        raise ValueError("verify_webhook needs the webhook secret")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    stamp, candidates = _parse(_header(headers))
    current = time.time() if now is None else now
    if abs(current - stamp) > max_age:
        raise WebhookError(f"signature time {stamp} is more than {max_age:g} s from now")
    signed = str(stamp).encode() + b"." + raw
    expected = [hmac.new(key.encode(), signed, hashlib.sha256).hexdigest().encode() for key in keys]
    if not any(hmac.compare_digest(e, c) for e in expected for c in candidates):
        raise WebhookError("the signature does not match the body")
    return _events(raw)


def _header(headers: Mapping[str, str]) -> str:
    for name in _HEADER_NAMES:
        value = headers.get(name)
        if value:
            return value
    wanted = SIGNATURE_HEADER.lower()
    for name, value in headers.items():
        if name.lower() == wanted and value:
            return value
    raise WebhookError(f"no {SIGNATURE_HEADER} header")


def _parse(value: str) -> tuple[int, list[bytes]]:
    stamp: int | None = None
    candidates: list[bytes] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isascii() and item.isdigit() and len(item) <= 12:
            stamp = int(item)
        elif key == "v1" and item.isascii():
            candidates.append(item.lower().encode())
    if stamp is None or not candidates:
        raise WebhookError(f"malformed {SIGNATURE_HEADER}: expected t=<seconds>,v1=<hex>")
    return stamp, candidates


def _events(raw: bytes) -> list[WebhookEvent]:
    try:
        batch: Any = json.loads(raw)
    except ValueError:
        raise WebhookError("the body is not JSON") from None
    if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
        raise WebhookError('the body is not {"time_ms": ..., "events": [...]}')
    events = batch["events"]
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise WebhookError("every event is an object with a name")
    return cast(list[WebhookEvent], events)
