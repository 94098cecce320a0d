from __future__ import annotations

import re
from pathlib import Path

import pytest

from channelstream.errors import ConfigurationError
from channelstream.settings import SETTINGS, Settings, parse_settings

ROOT = Path(__file__).resolve().parents[1]
DEV = {"channelstream.environment": "development"}


def test_defaults_are_0_7_collection_intervals() -> None:
    settings = parse_settings(DEV, environ={})
    assert settings.gc_conns_after == 15
    assert settings.gc_conns_interval == 1
    assert settings.gc_users_after == 86400
    assert settings.backlog >= 1024


def test_ini_values_are_typed() -> None:
    settings = parse_settings(
        {
            **DEV,
            "channelstream.allow_posting_from": "10.0.0.1, 10.0.0.2",
            "channelstream.catchup_size": "5",
            "channelstream.reuse_port": "true",
        },
        environ={},
    )
    assert settings.allow_posting_from == ("10.0.0.1", "10.0.0.2")
    assert settings.catchup_size == 5 and settings.reuse_port is True


def test_environment_overrides_ini() -> None:
    settings = parse_settings(
        {**DEV, "channelstream.secret": "from-ini"},
        environ={"CHANNELSTREAM_SECRET": "from-env", "CHANNELSTREAM_LISTEN": "127.0.0.1:9"},
    )
    assert settings.secret == "from-env" and settings.listen == "127.0.0.1:9"


def test_bad_value_names_its_source() -> None:
    with pytest.raises(ConfigurationError, match="CHANNELSTREAM_CATCHUP_SIZE"):
        parse_settings(DEV, environ={"CHANNELSTREAM_CATCHUP_SIZE": "lots"})


@pytest.mark.parametrize("name", ["secret", "admin_secret", "cookie_secret"])
def test_production_refuses_placeholder_secrets_and_names_them(name: str) -> None:
    good = {
        f"channelstream.{key}": "a-real-secret-value"
        for key in ("secret", "admin_secret", "cookie_secret")
    }
    with pytest.raises(ConfigurationError, match=f"channelstream.{name} is a placeholder"):
        parse_settings({**good, f"channelstream.{name}": "changeme"}, environ={})


def test_secret_holds_several_keys_each_checked_in_production() -> None:
    good = {
        f"channelstream.{key}": "a-real-secret-value"
        for key in ("secret", "admin_secret", "cookie_secret")
    }
    new, old = "the-new-key-0123456789", "the-old-key-0123456789"
    settings = parse_settings({**good, "channelstream.secret": f" {new}\t{old}  "}, environ={})
    assert settings.secrets == (new, old)
    assert settings.legacy_signatures is True
    for value in (f"{new} changeme", "   "):
        with pytest.raises(ConfigurationError, match=r"channelstream\.secret is a placeholder"):
            parse_settings({**good, "channelstream.secret": value}, environ={})
    # Each key must be long enough, the old ones too.
    with pytest.raises(ConfigurationError, match=r"channelstream\.secret is shorter than 16"):
        parse_settings({**good, "channelstream.secret": f"{new} short-old"}, environ={})


def test_every_setting_is_a_field_and_back() -> None:
    assert [s.name for s in SETTINGS] == list(Settings.__dataclass_fields__)


def test_readme_table_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = {
        name: quoted or ""
        for name, quoted in re.findall(
            r"^\| `channelstream\.(\w+)` \| (?:`([^`]*)`|\(empty\)) \|", readme, re.M
        )
    }
    assert set(rows) == {s.name for s in SETTINGS}
    for setting in SETTINGS:
        assert rows[setting.name] == setting.default, setting.name


def test_every_setting_is_read_by_the_code() -> None:
    sources = "\n".join(path.read_text() for path in (ROOT / "channelstream").rglob("*.py"))
    unread = [s.name for s in SETTINGS if not re.search(rf"\.{s.name}\b", sources)]
    assert unread == []


def test_production_ini_is_complete() -> None:
    text = (ROOT / "production.ini").read_text()
    keys = set(re.findall(r"^channelstream\.(\w+)\s*=", text, re.M))
    assert keys >= {s.name for s in SETTINGS} - {
        "signature_checker",
        "accept_query_secret",
        "signature_max_age",
        "reuse_port",
    }


GOOD_SECRETS = {
    f"channelstream.{key}": "a-real-secret-value"
    for key in ("secret", "admin_secret", "cookie_secret")
}


def test_every_placeholder_and_short_secret_is_named_at_once() -> None:
    ini = {
        "channelstream.secret": "changeme",
        "channelstream.admin_secret": "short",
        "channelstream.cookie_secret": "",
    }
    with pytest.raises(ConfigurationError) as raised:
        parse_settings(ini, environ={})
    assert str(raised.value).startswith(
        "channelstream.secret is a placeholder; channelstream.admin_secret is shorter than 16 "
        "characters; channelstream.cookie_secret is a placeholder: "
    )
    # Development takes anything.
    assert parse_settings({**ini, **DEV}, environ={}).admin_secret == "short"


@pytest.mark.parametrize(
    ("text", "level"), [("debug", "DEBUG"), (" Warning ", "WARNING"), ("warn", "WARNING")]
)
def test_log_levels(text: str, level: str) -> None:
    assert parse_settings({**DEV, "channelstream.log_level": text}, environ={}).log_level == level


def test_a_bad_log_level_names_the_levels() -> None:
    with pytest.raises(ConfigurationError, match=r"channelstream.log_level: must be one of DEBUG"):
        parse_settings({**DEV, "channelstream.log_level": "loud"}, environ={})


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://:pass@host",
        "rediss://user:pass@host:6380/15",
        "unix:///run/redis.sock?db=2",
        "redis+sentinel://s1:26379,s2/mymaster/3",
        "rediss+sentinel://s1/mymaster",
    ],
)
def test_redis_urls_that_are_accepted(url: str) -> None:
    assert parse_settings({**DEV, "channelstream.redis_url": url}, environ={}).redis_url == url


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://host:6379", "must start with one of redis://"),
        ("127.0.0.1:6379", "must start with one of"),
        ("redis://host:port/0", "the port must be a number"),
        ("redis://host/zero", "the Redis database must be a number, got 'zero'"),
        ("redis://host/0/1", "the path names one Redis database"),
        ("unix:///run/redis.sock?db=x", "must be a number, got 'x'"),
        ("redis+sentinel://s1:26379", "names the service"),
        ("redis+sentinel://s1/svc/db", "must be a number, got 'db'"),
    ],
)
def test_malformed_redis_urls(url: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match="CHANNELSTREAM_REDIS_URL: ") as raised:
        parse_settings(DEV, environ={"CHANNELSTREAM_REDIS_URL": url})
    assert complaint in str(raised.value)


@pytest.mark.parametrize("listen", ["host", "host:0", "host:65536", ":x", "a b:80", "u@h:80"])
def test_bad_listen_addresses(listen: str) -> None:
    with pytest.raises(ConfigurationError, match=r"channelstream\.listen: listen address"):
        parse_settings({**DEV, "channelstream.listen": listen}, environ={})


@pytest.mark.parametrize(
    ("environ", "listen"),
    [
        ({"CHANNELSTREAM_PORT": "9000"}, "0.0.0.0:9000"),
        ({"CHANNELSTREAM_HOST": "127.0.0.1"}, "127.0.0.1:8000"),
        ({"CHANNELSTREAM_HOST": "::1", "CHANNELSTREAM_PORT": "9"}, "[::1]:9"),
        (
            {"CHANNELSTREAM_LISTEN": "10.0.0.1:1", "CHANNELSTREAM_PORT": "9"},
            "10.0.0.1:1",
        ),
    ],
)
def test_071s_host_and_port_variables(environ: dict[str, str], listen: str) -> None:
    ini = {**DEV, "channelstream.listen": "127.0.0.1:7"}
    assert parse_settings(ini, environ=environ).listen == listen


def test_071s_signature_checker_is_ours() -> None:
    ini = {**DEV, "channelstream.signature_checker": "channelstream.utils.DefaultSigner"}
    checker = parse_settings(ini, environ={}).signature_checker
    assert checker == "channelstream.security.check_signature"


def test_unknown_ini_keys_are_refused_with_the_nearest_name() -> None:
    ini = {**DEV, "channelstream.gc_con_after": "5", "channelstream.zzz": "1", "other.key": "x"}
    with pytest.raises(ConfigurationError) as raised:
        parse_settings(ini, environ={})
    assert str(raised.value) == (
        "channelstream.gc_con_after is not a setting (did you mean channelstream.gc_conns_after?)"
        "; channelstream.zzz is not a setting"
    )


def test_unknown_variables_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "CHANNELSTREAM_SECRT": "x",
        "CHANNELSTREAM_INI": "a.ini",
        "CHANNELSTREAM_DEBUG": "true",
        "CHANNELSTREAM_VALIDATE_REQUESTS": "true",
        "OTHER": "y",
    }
    with caplog.at_level("WARNING", logger="channelstream.settings"):
        parse_settings(DEV, environ=environ)
    assert [record.getMessage() for record in caplog.records] == [
        "CHANNELSTREAM_DEBUG (a 0.7.1 setting) is ignored: 0.7.1 did nothing with it",
        "CHANNELSTREAM_SECRT is ignored: no such setting (did you mean CHANNELSTREAM_SECRET?)",
    ]


def test_webhook_settings_are_checked_and_named() -> None:
    settings = parse_settings(DEV, environ={})
    assert settings.webhook_url == "" and settings.presence_grace == 0
    assert settings.webhook_events == (
        "user_online",
        "user_offline",
        "channel_occupied",
        "channel_vacated",
        "user_joined",
        "user_parted",
    )
    chosen = parse_settings(
        {**DEV, "channelstream.webhook_events": "user_parted, user_online"}, environ={}
    )
    assert chosen.webhook_events == ("user_online", "user_parted")
    for key, value, message in [
        ("webhook_url", "ftp://backend/hook", "http:// or https://"),
        ("webhook_url", "https:///hook", "http:// or https://"),
        ("webhook_events", "user_online,user_left", "'user_left' is no event"),
        ("presence_grace", "-1", "must be 0 or more"),
        ("webhook_timeout", "0", "greater than 0"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            parse_settings({**DEV, f"channelstream.{key}": value}, environ={})


def test_webhook_keys_fall_back_to_the_api_key_and_are_masked() -> None:
    ini = {**DEV, "channelstream.secret": "api-key other-key"}
    assert parse_settings(ini, environ={}).webhook_keys == ("api-key",)
    own = parse_settings({**ini, "channelstream.webhook_secret": "new old"}, environ={})
    assert own.webhook_keys == ("new", "old")
    redacted = parse_settings(
        {
            **ini,
            "channelstream.webhook_secret": "k",
            "channelstream.webhook_url": "https://u:p@h/x?token=t",
        },
        environ={},
    ).redacted()
    assert redacted["webhook_secret"] == "***"
    assert redacted["webhook_url"] == "https://h/x (redacted)"
    with pytest.raises(ConfigurationError, match="needs a key to sign with"):
        parse_settings({**DEV, "channelstream.webhook_url": "http://h/x"}, environ={})


def test_production_holds_a_webhook_secret_to_the_rules_of_secrets() -> None:
    good = {**GOOD_SECRETS, "channelstream.webhook_url": "https://h/x"}
    assert parse_settings(good, environ={}).webhook_keys == ("a-real-secret-value",)
    for value, message in [("changeme", "a placeholder"), ("new-key-0123456789 short", "shorter")]:
        with pytest.raises(ConfigurationError, match=f"channelstream.webhook_secret is {message}"):
            parse_settings({**good, "channelstream.webhook_secret": value}, environ={})


def test_idempotency_window_is_seconds_from_0_to_a_day() -> None:
    assert parse_settings(DEV, environ={}).idempotency_window == 120
    for text, value in [("0", 0.0), ("0.5", 0.5), ("86400", 86400.0)]:
        chosen = parse_settings({**DEV, "channelstream.idempotency_window": text}, environ={})
        assert chosen.idempotency_window == value
    for text, message in [
        ("-1", "must be 0 or more seconds, at most 86400"),
        ("86401", "at most 86400"),
        ("nan", "0 or more"),
        ("inf", "0 or more"),
        ("2 minutes", "must be a number of seconds"),
    ]:
        with pytest.raises(
            ConfigurationError, match=f"channelstream.idempotency_window.*{message}"
        ):
            parse_settings({**DEV, "channelstream.idempotency_window": text}, environ={})
