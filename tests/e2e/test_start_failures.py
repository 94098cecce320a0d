"""Every way a start can fail: one clear line that names the setting or the cause, a non-zero
exit, no traceback; through the real commands (`pserve FILE`, `channelstream FILE`, and
`channelstream` with the environment alone)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer
from tests.support.server import ROOT, free_port

pytestmark = pytest.mark.timeout(60)

BIN = Path(sys.executable).parent
DEVELOPMENT = str(ROOT / "development.ini")
GOOD_SECRETS = {
    "CHANNELSTREAM_SECRET": "a-long-enough-api-secret",
    "CHANNELSTREAM_ADMIN_SECRET": "a-long-enough-admin-password",
    "CHANNELSTREAM_COOKIE_SECRET": "a-long-enough-cookie-secret",
}


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELSTREAM_")}
    env["CHANNELSTREAM_LISTEN"] = f"127.0.0.1:{free_port()}"
    env.update(values)
    return env


def command(kind: str, ini: str | None) -> list[str]:
    if kind == "pserve":
        assert ini is not None
        return [str(BIN / "pserve"), ini]
    return [str(BIN / "channelstream")] + ([ini] if ini else [])


def refused(argv: list[str], env: dict[str, str], *expected: str) -> str:
    """Run a start that must fail; answer its one `channelstream:` line, which must hold
    every expected text."""
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("channelstream")]
    reports = [
        line for line in lines if line.startswith(("channelstream:", "channelstream_utils:"))
    ]
    assert len(reports) == 1, output
    for text in expected:
        assert text in reports[0], reports[0]
    return reports[0]


BOTH = pytest.mark.parametrize("kind", ["pserve", "channelstream"])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


# -- where to listen -----------------------------------------------------------------------
@BOTH
def test_port_in_use(kind: str, busy_port: int) -> None:
    env = clean_env(CHANNELSTREAM_LISTEN=f"127.0.0.1:{busy_port}")
    refused(command(kind, DEVELOPMENT), env, f"127.0.0.1:{busy_port}", "in use")


def test_port_in_use_environment_only(busy_port: int) -> None:
    env = clean_env(CHANNELSTREAM_HOST="127.0.0.1", CHANNELSTREAM_PORT=str(busy_port))
    del env["CHANNELSTREAM_LISTEN"]
    refused(command("channelstream", None), {**env, **GOOD_SECRETS}, f":{busy_port}", "in use")


@BOTH
@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1:http", "127.0.0.1"])
def test_bad_port(kind: str, listen: str) -> None:
    env = clean_env(CHANNELSTREAM_LISTEN=listen)
    refused(command(kind, DEVELOPMENT), env, "CHANNELSTREAM_LISTEN", repr(listen))


@BOTH
def test_bad_host(kind: str) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    env = clean_env(CHANNELSTREAM_LISTEN="192.0.2.1:8000")
    refused(command(kind, DEVELOPMENT), env, "cannot listen on 192.0.2.1:8000")


@BOTH
def test_bad_port_in_server_main(kind: str, tmp_path: Path) -> None:
    ini = tmp_path / "server-port.ini"
    text = (ROOT / "development.ini").read_text()
    ini.write_text(
        text.replace(
            "use = egg:channelstream#gevent", "use = egg:channelstream#gevent\nport = eighty"
        )
    )
    env = clean_env()
    del env["CHANNELSTREAM_LISTEN"]
    refused(command(kind, str(ini)), env, "[server:main]", "'0.0.0.0:eighty'")


# -- the ini -------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["argument", "-i", "CHANNELSTREAM_INI"])
def test_missing_ini(how: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.ini")
    env = clean_env()
    argv = [str(BIN / "channelstream")]
    if how == "argument":
        argv.append(missing)
    elif how == "-i":
        argv += ["-i", missing]
    else:
        env["CHANNELSTREAM_INI"] = missing
    refused(argv, env, "no such ini file", missing)


def test_an_ini_that_is_neither_ours_nor_071s(tmp_path: Path) -> None:
    ini = tmp_path / "other.ini"
    ini.write_text("[something]\nkey = value\n")
    refused(command("channelstream", str(ini)), clean_env(), "[app:main]", "[channelstream]")


# -- settings ------------------------------------------------------------------------------
@BOTH
def test_bad_log_level(kind: str) -> None:
    env = clean_env(CHANNELSTREAM_LOG_LEVEL="LOUD")
    refused(command(kind, DEVELOPMENT), env, "CHANNELSTREAM_LOG_LEVEL", "'LOUD'", "DEBUG, INFO")


@pytest.mark.parametrize(
    ("value", "complaint"), [("-5", "must be 0 or more"), ("two minutes", "a number of seconds")]
)
def test_bad_idempotency_window(value: str, complaint: str) -> None:
    env = clean_env(CHANNELSTREAM_IDEMPOTENCY_WINDOW=value)
    refused(command("pserve", DEVELOPMENT), env, "CHANNELSTREAM_IDEMPOTENCY_WINDOW", complaint)


@BOTH
def test_malformed_redis_url(kind: str) -> None:
    env = clean_env(CHANNELSTREAM_ENGINE="redis", CHANNELSTREAM_REDIS_URL="http://127.0.0.1:6379")
    refused(command(kind, DEVELOPMENT), env, "CHANNELSTREAM_REDIS_URL", "redis://")


@BOTH
def test_non_numeric_redis_database(kind: str) -> None:
    url = "redis://127.0.0.1:6379/sessions"
    env = clean_env(CHANNELSTREAM_ENGINE="redis", CHANNELSTREAM_REDIS_URL=url)
    refused(command(kind, DEVELOPMENT), env, "CHANNELSTREAM_REDIS_URL", "'sessions'", "number")


@BOTH
def test_unreachable_redis(kind: str) -> None:
    url = f"redis://:hunter2-password@127.0.0.1:{free_port()}/0"
    env = clean_env(CHANNELSTREAM_ENGINE="redis", CHANNELSTREAM_REDIS_URL=url)
    line = refused(command(kind, DEVELOPMENT), env, "channelstream.redis_url", "cannot reach")
    assert "hunter2" not in line


def test_a_reachable_redis_starts(tmp_path: Path) -> None:
    """The other side of the check above: with Redis up, the same start serves."""
    from tests.support.server import serving

    with RedisServer() as redis:
        port = free_port()
        env = clean_env(
            CHANNELSTREAM_ENGINE="redis",
            CHANNELSTREAM_REDIS_URL=redis.url,
            CHANNELSTREAM_LISTEN=f"127.0.0.1:{port}",
        )
        with serving(command("channelstream", DEVELOPMENT), port, env, tmp_path / "r.log"):
            pass


@BOTH
def test_placeholder_secrets_are_named_all_at_once(kind: str, tmp_path: Path) -> None:
    env = clean_env(
        CHANNELSTREAM_SECRET="changeme",
        CHANNELSTREAM_ADMIN_SECRET="secret",
        CHANNELSTREAM_COOKIE_SECRET="",
    )
    refused(
        command(kind, str(ROOT / "production.ini")),
        env,
        "channelstream.secret is a placeholder",
        "channelstream.admin_secret is a placeholder",
        "channelstream.cookie_secret is a placeholder",
    )


def test_placeholder_secrets_environment_only() -> None:
    env = clean_env(CHANNELSTREAM_SECRET="secret", CHANNELSTREAM_ADMIN_SECRET="admin_secret")
    refused(
        command("channelstream", None),
        env,
        "channelstream.secret is a placeholder",
        "channelstream.admin_secret is a placeholder",
    )


@BOTH
def test_short_secrets_in_production(kind: str) -> None:
    env = clean_env(**{**GOOD_SECRETS, "CHANNELSTREAM_SECRET": "fifteen-chars!!"})
    line = refused(
        command(kind, str(ROOT / "production.ini")),
        env,
        "channelstream.secret is shorter than 16 characters",
    )
    assert "admin_secret" not in line and "fifteen" not in line


@BOTH
def test_misspelt_ini_key_is_refused(kind: str, tmp_path: Path) -> None:
    ini = tmp_path / "typo.ini"
    text = (ROOT / "development.ini").read_text()
    ini.write_text(text.replace("[app:main]\n", "[app:main]\nchannelstream.gc_con_after = 5\n"))
    refused(
        command(kind, str(ini)),
        clean_env(),
        "channelstream.gc_con_after is not a setting",
        "did you mean channelstream.gc_conns_after?",
    )


@BOTH
def test_unimportable_signature_checker(kind: str) -> None:
    env = clean_env(CHANNELSTREAM_SIGNATURE_CHECKER="no_such_module.check")
    refused(command(kind, DEVELOPMENT), env, "channelstream.signature_checker", "no_such_module")


def test_a_071_checker_class_is_refused() -> None:
    # A class with unsign(), as 0.7.1 called its checkers (any class will do here).
    env = clean_env(CHANNELSTREAM_SIGNATURE_CHECKER="itsdangerous.TimestampSigner")
    refused(command("pserve", DEVELOPMENT), env, "is a class (0.7.1's interface)")


def test_make_config_cannot_write(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "x.ini"
    result = subprocess.run(
        [str(BIN / "channelstream_utils"), "make_config", "-o", str(target)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"cannot write {target}" in result.stderr
