"""The request-bound signature: ``x-channelstream-signature: t=<unix seconds>,v1=<hex>``.

0.7's signature (``x-channelstream-secret``) only proves that its sender knew the secret in
the last minute: a captured header works on any call with any body. This one is an
HMAC-SHA256 of ``"<t>.<METHOD>.<target>.<hex sha256 of the raw body>"``, where ``target``
is the path with its query exactly as it arrived on the request line (docs/signing.md).

Everything here is a plain function of the settings and of what was read off the request
(``SignedRequest``), so any guard can call it; nothing here knows Pyramid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from channelstream.errors import BadSignature

if TYPE_CHECKING:
    from channelstream.settings import Settings

HEADER = "x-channelstream-signature"
VERSION = "v1"
# A header longer than this is no signature of ours (a few v1 values at most).
MAX_HEADER_LENGTH = 1024
# Characters a client leaves unescaped in a path; used only where the server gives no raw URI.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """What the signature covers, read off one request."""

    method: str
    # The path with its query, as the client sent it on the request line.
    target: str
    body: bytes
    # The header's value.
    header: str


def signing_payload(timestamp: int, method: str, target: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}.{method.upper()}.{target}.{digest}".encode()


def signature(secret: str, timestamp: int, method: str, target: str, body: bytes) -> str:
    payload = signing_payload(timestamp, method, target, body)
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def sign(
    secret: str, method: str, target: str, body: bytes = b"", timestamp: int | None = None
) -> str:
    """The header value for one request (what a backend sends)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},{VERSION}={signature(secret, stamp, method, target, body)}"


def parse_header(value: str) -> tuple[int, list[str]]:
    """``t`` and the ``v1`` values; unknown keys are ignored so that a later version can be
    sent beside v1. Anything malformed is a bad signature."""
    if len(value) > MAX_HEADER_LENGTH:
        raise BadSignature()
    stamp: int | None = None
    found: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise BadSignature()
        if key == "t":
            if stamp is not None or not (item.isascii() and item.isdigit()) or len(item) > 12:
                raise BadSignature()
            stamp = int(item)
        elif key == VERSION:
            found.append(item.lower())
    if stamp is None or not found:
        raise BadSignature()
    return stamp, found


def check_request_signature(
    settings: Settings, signed: SignedRequest, now: float | None = None
) -> None:
    """Accept the request if one of its v1 values was made with any configured secret for
    this very method, target and body, at most ``signature_max_age`` seconds away from now
    (either way: a backend's clock may run a little ahead)."""
    stamp, candidates = parse_header(signed.header)
    current = time.time() if now is None else now
    if abs(current - stamp) > settings.signature_max_age:
        raise BadSignature()
    if not _matches(settings.secrets, stamp, signed, candidates):
        raise BadSignature()


def _matches(
    secrets: Iterable[str], stamp: int, signed: SignedRequest, candidates: list[str]
) -> bool:
    payload = signing_payload(stamp, signed.method, signed.target, signed.body)
    for secret in secrets:
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        for candidate in candidates:
            if hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace")):
                return True
    return False


def request_target(environ: Mapping[str, Any]) -> str:
    """The path with its query as it arrived at this server, prefix included.

    The raw request line when the server hands it over (channelstream's runner and gunicorn
    set RAW_URI, waitress and uWSGI REQUEST_URI); otherwise rebuilt from SCRIPT_NAME,
    PATH_INFO and QUERY_STRING, which gives the same text for any path a client sends in
    canonical percent-encoding."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if not raw.startswith("/"):  # absolute-form: "http://host/path?query"
            parts = urlsplit(raw)
            raw = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return str(raw)
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    target = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE) or "/"
    query = environ.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target
