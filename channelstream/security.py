"""Who may call what: the server API signature, the address allow-list, the admin cookie."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from itsdangerous import BadData, TimestampSigner

from channelstream import request_signing
from channelstream.errors import BadSignature, Forbidden, SignatureMissing
from channelstream.request_body import raw_body

if TYPE_CHECKING:
    from pyramid.request import Request

    from channelstream.settings import Settings

# 0.7's signature header; the request-bound one is request_signing.HEADER.
SIGNATURE_HEADER = "x-channelstream-secret"


def _environ_key(name: str) -> str:
    """Where the environ holds a header: read there directly, as ``request.headers`` would
    (that view is a new object per request, translating the name on every lookup)."""
    return "HTTP_" + name.upper().replace("-", "_")


_SIGNATURE_KEY = _environ_key(SIGNATURE_HEADER)
_BOUND_KEY = _environ_key(request_signing.HEADER)
ADMIN_COOKIE = "channelstream_admin"
ADMIN_COOKIE_MAX_AGE = 12 * 3600

SignatureChecker = Callable[["Settings", str], None]


# Backends often send one signature for many calls within its minute; verifying it again
# (key derivation + HMAC) cost about 100 us a request. A signature verified once is
# remembered with its timestamp, so its age is still checked on every use.
_VERIFIED_MAX = 4096
_verified: dict[tuple[str, str], float] = {}


def check_signature(settings: Settings, signed: str) -> None:
    """The default checker of 0.7's signature: an itsdangerous TimestampSigner signature,
    made with any of the secrets, no older than the configured age. Like 0.7, only the
    signature is checked, not the signed value."""
    key = (settings.secret, signed)
    signed_at = _verified.get(key)
    if signed_at is not None:
        if time.time() - signed_at <= settings.signature_max_age:
            return
        del _verified[key]
    try:
        # itsdangerous tries every key of a list (it signs with the last one).
        keys = list(reversed(settings.secrets)) or [""]
        _value, stamp = TimestampSigner(keys).unsign(
            signed, max_age=settings.signature_max_age, return_timestamp=True
        )
    except (BadData, UnicodeError, ValueError):
        raise BadSignature() from None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = stamp.timestamp()


def signed_value(request: Request, settings: Settings) -> str:
    """0.7's signature: its header, or ``?secret=`` where that is accepted."""
    value = request.environ.get(_SIGNATURE_KEY)
    if value is None and settings.accept_query_secret:
        value = request.GET.get("secret")
    if not value:
        raise SignatureMissing({"request": "Missing signature"})
    return value


def signed_request(
    request: Request, settings: Settings, header: str
) -> request_signing.SignedRequest:
    """What a request-bound signature covers; reads the body (once, see request_body)."""
    return request_signing.SignedRequest(
        method=request.method,
        target=request_signing.request_target(request.environ),
        body=raw_body(request, settings.max_body_size),
        header=header,
    )


def client_address(request: Request, settings: Settings) -> str:
    """The caller's address; X-Forwarded-For is believed only from a trusted proxy."""
    remote = request.remote_addr or ""
    forwarded = request.environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded and remote in settings.trusted_proxies:
        # The nearest hop not ourselves: walk back over trusted proxies.
        for hop in reversed([part.strip() for part in forwarded.split(",")]):
            if hop and hop not in settings.trusted_proxies:
                return hop
    return remote


@functools.lru_cache(maxsize=1024)
def address_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    # Remembered: a network entry is parsed for every check (about 6 us a signed call).
    if "0.0.0.0" in allowed or address in allowed:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if "/" in entry and ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def require_api_caller(request: Request, settings: Settings, checker: SignatureChecker) -> None:
    """An allowed address and a valid signature. A request-bound signature, when present, is
    the one checked (a bad one is not excused by a 0.7 one beside it)."""
    address = client_address(request, settings)
    if not address_allowed(address, settings.allow_posting_from):
        raise Forbidden({"request": f"Address {address} is not allowed to post"})
    require_signature(request, settings, checker)


def require_signature(request: Request, settings: Settings, checker: SignatureChecker) -> None:
    """A valid signature, whoever sends it."""
    bound = request.environ.get(_BOUND_KEY)
    if bound is not None:
        request_signing.check_request_signature(settings, signed_request(request, settings, bound))
    elif settings.legacy_signatures:
        checker(settings, signed_value(request, settings))
    elif request.environ.get(_SIGNATURE_KEY):
        raise BadSignature(
            f"0.7 signatures are turned off here (legacy_signatures): sign with "
            f"{request_signing.HEADER}"
        )
    else:
        raise SignatureMissing({"request": f"Missing signature ({request_signing.HEADER})"})


def require_metrics_reader(request: Request, settings: Settings, checker: SignatureChecker) -> None:
    """/metrics: an allowed address (a Prometheus beside the node needs no key), or a
    signed request from anywhere; else 403, and 401 for a signature that is wrong."""
    address = client_address(request, settings)
    if address_allowed(address, settings.allow_posting_from):
        return
    if not (request.environ.get(_SIGNATURE_KEY) or request.environ.get(_BOUND_KEY)):
        raise Forbidden({"request": f"Address {address} may not read the metrics unsigned"})
    require_signature(request, settings, checker)


# -- admin -----------------------------------------------------------------------------
def credentials_match(settings: Settings, username: str, password: str) -> bool:
    user_ok = hmac.compare_digest(username.encode(), settings.admin_user.encode())
    pass_ok = hmac.compare_digest(password.encode(), settings.admin_secret.encode())
    return bool(settings.admin_secret) and user_ok and pass_ok


def admin_cookie_value(settings: Settings) -> str:
    return (
        TimestampSigner(settings.cookie_secret, salt="channelstream.admin")
        .sign(settings.admin_user)
        .decode()
    )


def is_admin(request: Request, settings: Settings, checker: SignatureChecker) -> bool:
    cookie = request.cookies.get(ADMIN_COOKIE)
    if cookie:
        try:
            value = TimestampSigner(settings.cookie_secret, salt="channelstream.admin").unsign(
                cookie, max_age=ADMIN_COOKIE_MAX_AGE
            )
            if value.decode() == settings.admin_user:
                return True
        except (BadData, UnicodeError, ValueError):
            pass
    if request.environ.get(_SIGNATURE_KEY) or request.environ.get(_BOUND_KEY):
        try:
            require_api_caller(request, settings, checker)
            return True
        except (BadSignature, Forbidden, SignatureMissing):
            return False
    return False
