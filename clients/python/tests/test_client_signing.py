"""The client's signers: the documented request-bound vector, and 0.7's signature exactly
as itsdangerous makes and checks it."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from channelstream_client import sign_legacy, sign_request
from channelstream_client._signing import signing_key
from tests.support.signing_vectors import documented_vectors


def test_the_documented_vectors() -> None:
    for secret, method, target, body, t, header in documented_vectors():
        assert sign_request(secret, method, target, body, t) == header
    # The method is signed in capitals whatever case it is given in.
    secret, _method, target, body, t, header = documented_vectors()[1]
    assert sign_request(secret, "get", target, body, t) == header


@pytest.mark.parametrize("stamp", [0, 1, 255, 256, 1_767_225_600, 2**40])
def test_the_legacy_signature_is_itsdangerous_timestamp_signer(stamp: int) -> None:
    class FixedTime(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    assert (
        sign_legacy("s3cret", timestamp=stamp) == FixedTime("s3cret").sign("channelstream").decode()
    )
    assert sign_legacy("s3cret", "/connect", stamp) == FixedTime("s3cret").sign("/connect").decode()


def test_itsdangerous_accepts_a_fresh_legacy_signature() -> None:
    signed = sign_legacy("s3cret")
    value, when = TimestampSigner("s3cret").unsign(signed, max_age=60, return_timestamp=True)
    assert value == b"channelstream"
    assert abs(when.timestamp() - time.time()) < 5


def test_the_first_of_several_keys_signs() -> None:
    assert signing_key("  new\told  ") == "new"
    with pytest.raises(ValueError):
        signing_key(" ")
