"""The commands 0.7 users know: `channelstream_utils make_config -o FILE` writes a complete
ini with fresh secrets that starts in production mode; `channelstream FILE` serves it; and
`pserve --reload` keeps request thread-locals per request."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from itsdangerous import TimestampSigner

from tests.e2e.helpers import clients, name, open_ws
from tests.support.server import ROOT, ServerProcess, free_port, serving

pytestmark = pytest.mark.timeout(60)

BIN = Path(sys.executable).parent
PLACEHOLDERS = {"", "secret", "changeme", "admin_secret", "cookie_secret"}
SECRETS = ("secret", "admin_secret", "cookie_secret")


def make_config(target: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "channelstream_utils"), "make_config", "-o", str(target), *extra],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


def read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELSTREAM_")}
    env.update(extra)
    return env


def test_make_config_writes_a_complete_ini_with_fresh_secrets(tmp_path: Path) -> None:
    first, second = tmp_path / "one.ini", tmp_path / "two.ini"
    assert make_config(first).returncode == 0
    assert make_config(second).returncode == 0
    one, two = read_ini(first), read_ini(second)
    app = one["app:main"]
    assert app["use"] == "egg:channelstream"
    assert one["server:main"]["use"] == "egg:channelstream#gevent"
    assert app.get("channelstream.environment", "production") == "production"
    for secret in SECRETS:
        value = app[f"channelstream.{secret}"]
        assert value not in PLACEHOLDERS
        assert len(value) >= 16
        assert value != two["app:main"][f"channelstream.{secret}"]
    assert len({app[f"channelstream.{secret}"] for secret in SECRETS}) == 3
    # Every setting the server knows is written out.
    from channelstream.settings import SETTINGS

    for setting in SETTINGS:
        assert f"channelstream.{setting.name}" in app, setting.name
    # Logging sections make it a complete ini for pserve.
    assert "loggers" in one and "handlers" in one and "formatters" in one


def test_make_config_does_not_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "keep.ini"
    target.write_text("mine")
    result = make_config(target)
    assert result.returncode != 0
    assert target.read_text() == "mine"
    assert make_config(target, "--force").returncode == 0
    assert "[app:main]" in target.read_text()


def test_channelstream_serves_the_generated_ini(tmp_path: Path) -> None:
    ini = tmp_path / "generated.ini"
    assert make_config(ini).returncode == 0
    app = read_ini(ini)["app:main"]
    port = free_port()
    env = clean_env(CHANNELSTREAM_LISTEN=f"127.0.0.1:{port}")
    command = [str(BIN / "channelstream"), str(ini)]
    with serving(command, port, env, tmp_path / "generated.log") as url:
        assert requests.get(url + "/health", timeout=5).status_code == 200
        signed = TimestampSigner(app["channelstream.secret"]).sign("channelstream").decode()
        headers = {"x-channelstream-secret": signed}
        channel = name("gen")
        answer = requests.post(
            url + "/connect",
            json={"username": "gen", "channels": [channel]},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        conn_id = answer.json()["conn_id"]
        server = ServerProcess(port=port)
        with clients(open_ws(server, conn_id)) as (client,):
            published = requests.post(
                url + "/message",
                json=[{"channel": channel, "user": "gen", "message": {"text": "served"}}],
                headers=headers,
                timeout=10,
            )
            assert published.status_code == 200
            assert client.messages(1, type_="message")[0]["message"] == {"text": "served"}
        # Signed with a development secret instead: refused.
        wrong = TimestampSigner("secret").sign("channelstream").decode()
        refused = requests.post(
            url + "/info", headers={"x-channelstream-secret": wrong}, timeout=10
        )
        assert refused.status_code == 401
        # The admin password written to the file signs in.
        session = requests.Session()
        signed_in = session.post(
            url + "/admin/sign_in",
            data={
                "username": app["channelstream.admin_user"],
                "password": app["channelstream.admin_secret"],
            },
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302
        admin = session.get(url + "/admin/admin.json", allow_redirects=False, timeout=10)
        assert admin.status_code == 200


@pytest.mark.parametrize("secret", SECRETS)
def test_production_refuses_placeholder_secrets(tmp_path: Path, secret: str) -> None:
    ini = tmp_path / "placeholder.ini"
    assert make_config(ini).returncode == 0
    lines = [
        f"channelstream.{secret} = changeme"
        if line.startswith(f"channelstream.{secret} =")
        else line
        for line in ini.read_text().splitlines()
    ]
    ini.write_text("\n".join(lines) + "\n")
    env = clean_env(CHANNELSTREAM_LISTEN=f"127.0.0.1:{free_port()}")
    result = subprocess.run(
        [str(BIN / "channelstream"), str(ini)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode != 0
    assert f"channelstream.{secret}" in result.stdout + result.stderr


def test_shipped_production_ini_refuses_to_start_without_secrets() -> None:
    env = clean_env(CHANNELSTREAM_LISTEN=f"127.0.0.1:{free_port()}")
    result = subprocess.run(
        [str(BIN / "pserve"), "production.ini"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode != 0
    assert "channelstream.secret" in result.stdout + result.stderr


def test_pserve_reload_keeps_thread_locals_per_request(tmp_path: Path) -> None:
    """`pserve --reload` is the development command: the host app's concurrent requests
    must still each see their own request."""
    port = free_port()
    env = clean_env(
        CHANNELSTREAM_LISTEN=f"127.0.0.1:{port}",
        PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
    )
    command = [str(BIN / "pserve"), "--reload", "tests/e2e/hostapp.ini"]
    with serving(command, port, env, tmp_path / "reload.log") as url:

        def whoami(tag: str) -> bool:
            answer = requests.get(
                url + "/whoami", params={"tag": tag, "sleep": "0.3"}, timeout=20
            ).json()
            return bool(answer["same"] and answer["current_tag"] == tag)

        with ThreadPoolExecutor(max_workers=10) as pool:
            same = list(pool.map(whoami, [f"t{number}" for number in range(10)]))
        assert all(same), f"{same.count(False)} of 10 requests saw another request"


def test_make_config_writes_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    target = tmp_path / "private.ini"
    assert make_config(target).returncode == 0
    assert target.stat().st_mode & 0o777 == 0o600
    target.chmod(0o644)
    assert make_config(target, "--force").returncode == 0
    assert target.stat().st_mode & 0o777 == 0o600


def test_make_config_without_output_prints_the_ini() -> None:
    result = subprocess.run(
        [str(BIN / "channelstream_utils"), "make_config"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(result.stdout)
    assert parser["app:main"]["channelstream.environment"] == "production"


def test_the_repository_inis_are_what_make_config_writes(tmp_path: Path) -> None:
    """So the installed package can always write them again (regenerate them with
    `channelstream_utils make_config --development -o development.ini --force`)."""
    development = tmp_path / "development.ini"
    assert make_config(development, "--development").returncode == 0
    assert development.read_text() == (ROOT / "development.ini").read_text()
    production = tmp_path / "production.ini"
    assert make_config(production).returncode == 0
    written = read_ini(production)["app:main"]
    shipped = read_ini(ROOT / "production.ini")["app:main"]
    for secret in SECRETS:
        assert shipped[f"channelstream.{secret}"] == "changeme"
        written[f"channelstream.{secret}"] = "changeme"
    assert dict(written) == dict(shipped)


def test_make_config_takes_071s_json(tmp_path: Path) -> None:
    target = tmp_path / "json.ini"
    values = json.dumps(
        {
            "secret": "from-json-secret-value",
            "port": 9001,
            "allow_posting_from": ["10.0.0.1", "127.0.0.1"],
            "enforce_https": False,
        }
    )
    result = make_config(target, "-j", values)
    assert result.returncode == 0, result.stderr
    app = read_ini(target)["app:main"]
    assert app["channelstream.secret"] == "from-json-secret-value"
    assert app["channelstream.listen"] == "0.0.0.0:9001"
    assert app["channelstream.allow_posting_from"] == "10.0.0.1 127.0.0.1"
    assert "enforce_https is ignored" in result.stderr
