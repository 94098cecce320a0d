"""The two ways to sign a server API call.

The request-bound signature (channelstream 1.1+, docs/signing.md in the server's
repository) covers the method, the path with its query and the body's bytes; 0.7's
signature is an itsdangerous ``TimestampSigner(secret).sign("channelstream")``, written out
here so that the client needs no itsdangerous.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

REQUEST_HEADER = "x-channelstream-signature"
LEGACY_HEADER = "x-channelstream-secret"


def signing_key(secret: str) -> str:
    """The key to sign with: the first of a whitespace-separated list (the server's
    ``channelstream.secret`` may hold several during a rotation)."""
    keys = secret.split()
    if not keys:
        raise ValueError("the secret is empty")
    return keys[0]


def sign_request(
    secret: str, method: str, target: str, body: bytes, timestamp: int | None = None
) -> str:
    """The ``x-channelstream-signature`` value for one request; ``target`` is the path and
    query exactly as they go on the request line."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hashlib.sha256(body).hexdigest()
    payload = f"{stamp}.{method.upper()}.{target}.{digest}".encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_legacy(secret: str, value: str = "channelstream", timestamp: int | None = None) -> str:
    """0.7's ``x-channelstream-secret`` value: itsdangerous' TimestampSigner with its
    defaults (salt ``itsdangerous.Signer``, key derived by SHA-1 of salt + "signer" +
    secret, HMAC-SHA1)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    key = hashlib.sha1(b"itsdangerous.Signer" + b"signer" + secret.encode()).digest()
    signed = value.encode() + b"." + _b64(stamp.to_bytes((stamp.bit_length() + 7) // 8, "big"))
    mac = hmac.new(key, signed, hashlib.sha1).digest()
    return (signed + b"." + _b64(mac)).decode()
