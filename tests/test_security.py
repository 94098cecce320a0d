"""Who may call what: 0.7's signature, the address allow-list, the admin's credentials and
cookie, and how a server API caller is judged (on WebOb requests, in-process)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from webob import Request

from channelstream import security
from channelstream.errors import BadSignature, Forbidden, SignatureMissing
from channelstream.settings import Settings, parse_settings


def settings(**values: Any) -> Settings:
    return parse_settings(
        {
            "channelstream.environment": "development",
            "channelstream.secret": "s3cret",
            "channelstream.admin_secret": "pw",
            "channelstream.cookie_secret": "cookies",
            **{f"channelstream.{key}": str(value) for key, value in values.items()},
        },
        environ={},
    )


def signed(secret: str = "s3cret", value: str = "channelstream") -> str:
    return TimestampSigner(secret).sign(value).decode()


def request(path: str = "/message", remote: str = "127.0.0.1", **headers: str) -> Request:
    return Request.blank(path, remote_addr=remote, headers=headers)


# -- 0.7's signature -------------------------------------------------------------------------
def test_a_fresh_signature_of_any_value_passes() -> None:
    current = settings()
    security.check_signature(current, signed())
    security.check_signature(current, signed(value="/connect"))  # the README's example


@pytest.mark.parametrize("bad", ["garbage", signed("other-key"), "a.b.c", "Ω.Ω.Ω"])
def test_a_bad_or_foreign_signature_is_refused_with_0_7s_body(bad: str) -> None:
    with pytest.raises(BadSignature) as caught:
        security.check_signature(settings(), bad)
    assert caught.value.body == {"request": "Bad Signature"}


def test_an_expired_signature_is_refused_even_after_it_was_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    current = settings(signature_max_age=1)
    value = signed()
    security.check_signature(current, value)  # verified once: remembered
    later = time.time() + 5
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(BadSignature):
        security.check_signature(current, value)


def test_the_signature_comes_from_the_header_or_the_query() -> None:
    current = settings()
    assert security.signed_value(request(**{"x-channelstream-secret": "h"}), current) == "h"
    assert security.signed_value(request("/message?secret=q"), current) == "q"
    with pytest.raises(SignatureMissing):
        security.signed_value(request("/message?secret=q"), settings(accept_query_secret="false"))
    with pytest.raises(SignatureMissing):
        security.signed_value(request(), current)


# -- addresses -------------------------------------------------------------------------------
def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    proxied = settings(trusted_proxies="10.0.0.1")
    via_proxy = request(remote="10.0.0.1", **{"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
    assert security.client_address(via_proxy, proxied) == "203.0.113.7"
    direct = request(remote="198.51.100.2", **{"X-Forwarded-For": "127.0.0.1"})
    assert security.client_address(direct, proxied) == "198.51.100.2"


@pytest.mark.parametrize(
    ("address", "allowed", "ok"),
    [
        ("127.0.0.1", ("127.0.0.1",), True),
        ("10.1.2.3", ("10.0.0.0/8",), True),
        ("11.1.2.3", ("10.0.0.0/8",), False),
        ("anything", ("0.0.0.0",), True),
        ("not-an-ip", ("10.0.0.0/8",), False),
        ("::1", ("::1",), True),
        ("10.1.2.3", ("not-a-network/99", "10.0.0.0/8"), True),
    ],
)
def test_the_allow_list(address: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert security.address_allowed(address, allowed) is ok


def test_an_api_caller_needs_an_allowed_address_and_a_signature() -> None:
    current = settings()
    checker = security.check_signature
    security.require_api_caller(request(**{"x-channelstream-secret": signed()}), current, checker)
    with pytest.raises(Forbidden, match="not allowed to post"):
        security.require_api_caller(
            request(remote="203.0.113.9", **{"x-channelstream-secret": signed()}),
            current,
            checker,
        )
    with pytest.raises(SignatureMissing):
        security.require_api_caller(request(), current, checker)
    with pytest.raises(BadSignature):
        security.require_api_caller(request(**{"x-channelstream-secret": "x"}), current, checker)


def test_the_signature_checker_is_swappable() -> None:
    seen: list[str] = []
    security.require_api_caller(
        request(**{"x-channelstream-secret": "anything"}),
        settings(),
        lambda current, value: seen.append(value),
    )
    assert seen == ["anything"]


# -- the admin -------------------------------------------------------------------------------
def test_admin_credentials_compare_both_parts_and_need_a_password() -> None:
    current = settings()
    assert security.credentials_match(current, "admin", "pw")
    assert not security.credentials_match(current, "admin", "wrong")
    assert not security.credentials_match(current, "root", "pw")
    assert not security.credentials_match(settings(admin_secret=""), "admin", "")


def test_the_admin_cookie_or_an_api_signature_makes_an_admin() -> None:
    current = settings()
    checker = security.check_signature
    cookie = security.admin_cookie_value(current)
    with_cookie = request(Cookie=f"{security.ADMIN_COOKIE}={cookie}")
    assert security.is_admin(with_cookie, current, checker)
    forged = request(Cookie=f"{security.ADMIN_COOKIE}={cookie}x")
    assert not security.is_admin(forged, current, checker)
    other_key = settings(cookie_secret="another")
    assert not security.is_admin(with_cookie, other_key, checker)
    assert security.is_admin(request(**{"x-channelstream-secret": signed()}), current, checker)
    assert not security.is_admin(request(**{"x-channelstream-secret": "x"}), current, checker)
    assert not security.is_admin(request(), current, checker)
