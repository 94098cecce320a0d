"""What a webhook request carries: the events of a batch, its body and its signature.

``X-Channelstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>``,
one ``v1`` per key of ``webhook_secret`` (while rotating, receivers holding either key
verify); ``channelstream_client.verify_webhook`` checks it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from channelstream import jsonenc
from channelstream.engine.base import OutboxBatch, Transition
from channelstream.version import __version__

SIGNATURE_HEADER = "X-Channelstream-Signature"
USER_AGENT = f"channelstream/{__version__} (webhook)"


def event(epoch: str, transition: Transition) -> dict[str, Any]:
    """One event: name, an id unique in the cluster and stable across retries, its time,
    and the channel and/or user it is about."""
    found: dict[str, Any] = {
        "name": transition.name,
        "id": f"{epoch}-{transition.seq}",
        "time_ms": transition.time_ms,
    }
    if transition.channel is not None:
        found["channel"] = transition.channel
    if transition.user is not None:
        found["user"] = transition.user
    return found


def body(batch: OutboxBatch, time_ms: int) -> bytes:
    events = [event(batch.epoch, transition) for transition in batch.transitions]
    return jsonenc.dumps({"time_ms": time_ms, "events": events})


def signature(keys: Iterable[str], body_bytes: bytes, t: int) -> str:
    signed = str(t).encode() + b"." + body_bytes
    macs = [hmac.new(key.encode(), signed, hashlib.sha256).hexdigest() for key in keys]
    return ",".join([f"t={t}", *(f"v1={mac}" for mac in macs)])


def headers(keys: Iterable[str], body_bytes: bytes, t: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(keys, body_bytes, t),
    }
