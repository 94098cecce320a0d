"""The request-bound signature scheme: the documented test vector, parsing, checking."""

from __future__ import annotations

import dataclasses

import pytest

from channelstream import request_signing
from channelstream.errors import BadSignature
from channelstream.request_signing import SignedRequest, check_request_signature, sign
from channelstream.settings import parse_settings
from tests.support.signing_vectors import DOC, Vector, documented_vectors

DEV = {"channelstream.environment": "development"}


@pytest.mark.parametrize("vector", documented_vectors(), ids=["post-message", "get-info"])
def test_the_documented_vector_is_what_we_sign_and_accept(
    vector: Vector,
) -> None:
    secret, method, target, body, t, header = vector
    assert sign(secret, method, target, body, timestamp=t) == header
    settings = parse_settings({**DEV, "channelstream.secret": secret}, environ={})
    check_request_signature(settings, SignedRequest(method, target, body, header), now=t + 1)


def test_the_documented_signed_string() -> None:
    _secret, method, target, body, t, _header = documented_vectors()[0]
    line = request_signing.signing_payload(t, method, target, body).decode()
    assert line in DOC.read_text()


SETTINGS = parse_settings({**DEV, "channelstream.secret": "new-key  old-key"}, environ={})
NOW = 1_800_000_000
BODY = b'[{"channel": "c", "user": "u"}]'


def request(header: str, **changes: object) -> SignedRequest:
    base = SignedRequest("POST", "/message", BODY, header)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_every_configured_key_verifies_and_no_other() -> None:
    for key in ("new-key", "old-key"):
        check_request_signature(SETTINGS, request(sign(key, "POST", "/message", BODY, NOW)), NOW)
    with pytest.raises(BadSignature):
        check_request_signature(
            SETTINGS, request(sign("other-key", "POST", "/message", BODY, NOW)), NOW
        )
    assert SETTINGS.secrets == ("new-key", "old-key")


@pytest.mark.parametrize(
    "changes",
    [
        {"method": "PATCH"},
        {"target": "/connect"},
        {"target": "/message?x=1"},
        {"body": BODY + b" "},
    ],
    ids=["method", "path", "query", "body"],
)
def test_a_signature_for_another_request_is_refused(changes: dict[str, object]) -> None:
    header = sign("new-key", "POST", "/message", BODY, NOW)
    check_request_signature(SETTINGS, request(header), NOW)
    with pytest.raises(BadSignature) as refused:
        check_request_signature(SETTINGS, request(header, **changes), NOW)
    assert refused.value.status == 401
    assert refused.value.body == {"request": "Bad Signature"}


def test_age_is_bounded_both_ways() -> None:
    max_age = SETTINGS.signature_max_age
    for offset in (-max_age, 0, max_age):
        header = sign("new-key", "POST", "/message", BODY, NOW + offset)
        check_request_signature(SETTINGS, request(header), NOW)
    for offset in (-max_age - 1, max_age + 1):
        header = sign("new-key", "POST", "/message", BODY, NOW + offset)
        with pytest.raises(BadSignature):
            check_request_signature(SETTINGS, request(header), NOW)


def test_one_matching_v1_among_several_is_enough_and_unknown_keys_are_ignored() -> None:
    good = sign("old-key", "POST", "/message", BODY, NOW).split("v1=")[1]
    header = f"t={NOW}, v1={'0' * 64}, v2=whatever, v1={good.upper()}"
    check_request_signature(SETTINGS, request(header), NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW}",
        "v1=" + "0" * 64,
        f"t=abc,v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW},v1=ünïcode",
        f"t={NOW},v1={'0' * 2000}",
        f"t={'9' * 40},v1={'0' * 64}",
        f"t=\u0661\u0662,v1={'0' * 64}",
    ],
)
def test_malformed_headers_are_bad_signatures(header: str) -> None:
    with pytest.raises(BadSignature):
        check_request_signature(SETTINGS, request(header), NOW)


@pytest.mark.parametrize(
    ("environ", "target"),
    [
        ({"RAW_URI": "/rt/info?a=%7E&b=2", "PATH_INFO": "/rt/info"}, "/rt/info?a=%7E&b=2"),
        ({"REQUEST_URI": "/inf%6F", "PATH_INFO": "/info"}, "/inf%6F"),
        ({"RAW_URI": "http://example.com:8000/message?x=1"}, "/message?x=1"),
        ({"RAW_URI": "http://example.com"}, "/"),
        ({"SCRIPT_NAME": "/rt", "PATH_INFO": "/info", "QUERY_STRING": "a=1"}, "/rt/info?a=1"),
        ({"PATH_INFO": "/caf\xc3\xa9 x"}, "/caf%C3%A9%20x"),
        ({}, "/"),
    ],
)
def test_the_target_is_the_path_as_the_server_received_it(
    environ: dict[str, str], target: str
) -> None:
    assert request_signing.request_target(environ) == target
