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
    settings = parse_settings({**good, "channelstream.secret": " new-key\told-key  "}, environ={})
    assert settings.secrets == ("new-key", "old-key")
    assert settings.legacy_signatures is True
    for value in ("new-key changeme", "   "):
        with pytest.raises(ConfigurationError, match=r"channelstream\.secret is a placeholder"):
            parse_settings({**good, "channelstream.secret": value}, environ={})


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
