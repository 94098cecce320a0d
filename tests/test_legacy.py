"""0.7.1's [channelstream] section, translated to our settings."""

from __future__ import annotations

from channelstream.legacy import section_settings, with_cookie_secret


def test_section_keys_become_settings() -> None:
    settings, warnings = section_settings(
        {
            "secret": " s3cret ",
            "admin_user": "boss",
            "allow_posting_from": "127.0.0.1,\n10.0.0.7\n",
            "port": "9001",
            "engine": "redis",
            "enforce_https": "False",
            "http_scheme": "",
            "validate_requests": "True",
        }
    )
    assert settings == {
        "channelstream.secret": "s3cret",
        "channelstream.admin_user": "boss",
        "channelstream.allow_posting_from": "127.0.0.1,\n10.0.0.7",
        "channelstream.engine": "redis",
        "channelstream.listen": "0.0.0.0:9001",
    }
    assert warnings == []


def test_what_is_ignored_is_said() -> None:
    settings, warnings = section_settings(
        {"host": "::1", "debug": "true", "validate_requests": "false", "gc_con_after": "3"}
    )
    assert settings == {"channelstream.listen": "[::1]:8000"}
    assert warnings == [
        "[channelstream] debug = true is ignored: 0.7.1 did nothing with it",
        "[channelstream] validate_requests = false is ignored: signatures always expire "
        "after channelstream.signature_max_age",
        "[channelstream] gc_con_after is ignored: no such setting (did you mean gc_conns_after?)",
    ]


def test_a_cookie_secret_is_made_only_when_none_is_set() -> None:
    made, fresh = with_cookie_secret({}, {})
    assert fresh and len(made["channelstream.cookie_secret"]) >= 32
    kept = {"channelstream.cookie_secret": "mine"}
    assert with_cookie_secret(kept, {}) == (kept, False)
    assert with_cookie_secret({}, {"CHANNELSTREAM_COOKIE_SECRET": "env"}) == ({}, False)
