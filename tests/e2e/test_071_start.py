"""0.7.1's own ways to start keep working: `channelstream -i old.ini` with the
`[channelstream]` section that 0.7.1's `channelstream_utils make_config` wrote
(tests/e2e/data/channelstream-071.ini is its output, unchanged), `CHANNELSTREAM_INI`, a start
from environment variables alone, and its `-v`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from itsdangerous import TimestampSigner

from channelstream import __version__
from tests.e2e.helpers import clients, name, open_ws
from tests.support.server import ROOT, ServerProcess, free_port, serving

pytestmark = pytest.mark.timeout(60)

BIN = Path(sys.executable).parent
INI_071 = Path(__file__).parent / "data" / "channelstream-071.ini"
# What that file holds (0.7.1's make_config, run with CHANNELSTREAM_SECRET and friends set).
SECRET, ADMIN_PASSWORD = "old-api-secret-from-071", "old-admin-password-071"


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELSTREAM_")}
    env.update(values)
    return env


def old_ini(tmp_path: Path, port: int, *extra: str) -> Path:
    """0.7.1's file with only its port changed (and any extra lines)."""
    text = INI_071.read_text().replace("port = 8000", f"port = {port}")
    text = text.replace(
        "enforce_https = False", "enforce_https = True" if extra else "enforce_https = False"
    )
    target = tmp_path / "old.ini"
    target.write_text(text + "".join(f"\n{line}" for line in extra) + "\n")
    return target


def signed(secret: str) -> dict[str, str]:
    return {"x-channelstream-secret": TimestampSigner(secret).sign("channelstream").decode()}


def check_serves(url: str, port: int, secret: str, admin_password: str | None) -> None:
    """The node works end to end: connect, a WebSocket, publish, admin sign-in."""
    channel = name("old")
    connected = requests.post(
        url + "/connect",
        json={"username": "old-user", "channels": [channel]},
        headers=signed(secret),
        timeout=10,
    )
    assert connected.status_code == 200, connected.text
    with clients(open_ws(ServerProcess(port=port), connected.json()["conn_id"])) as (client,):
        requests.post(
            url + "/message",
            json=[{"channel": channel, "user": "old-user", "message": {"text": "as before"}}],
            headers=signed(secret),
            timeout=10,
        ).raise_for_status()
        assert client.messages(1, type_="message")[0]["message"] == {"text": "as before"}
    if admin_password is not None:
        session = requests.Session()
        signed_in = session.post(
            url + "/admin/sign_in",
            data={"username": "admin", "password": admin_password},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302
        assert session.get(url + "/admin/admin.json", timeout=10).status_code == 200


def test_channelstream_i_serves_the_ini_071_wrote(tmp_path: Path) -> None:
    port = free_port()
    ini = old_ini(tmp_path, port)
    log = tmp_path / "old.log"
    command = [str(BIN / "channelstream"), "-i", str(ini)]
    with serving(command, port, clean_env(), log) as url:
        check_serves(url, port, SECRET, ADMIN_PASSWORD)
        # allow_posting_from as 0.7.1 wrote it (a comma list over two lines) was understood.
        admin = requests.post(url + "/admin/admin.json", headers=signed(SECRET), timeout=10)
        assert admin.status_code == 200
    # Nothing to warn about in what 0.7.1 wrote (its defaults mean what we do anyway).
    assert "WARNING" not in log.read_text(), log.read_text()


def test_channelstream_ini_variable(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(CHANNELSTREAM_INI=str(old_ini(tmp_path, port)))
    with serving([str(BIN / "channelstream")], port, env, tmp_path / "env-ini.log") as url:
        check_serves(url, port, SECRET, ADMIN_PASSWORD)


def test_a_start_from_environment_variables_alone(tmp_path: Path) -> None:
    """0.7.1's names: CHANNELSTREAM_HOST and _PORT, comma lists, its checker's name; no
    cookie secret means a random one, as 0.7.1 made."""
    port = free_port()
    env = clean_env(
        CHANNELSTREAM_HOST="127.0.0.1",
        CHANNELSTREAM_PORT=str(port),
        CHANNELSTREAM_SECRET="an-api-secret-from-env",
        CHANNELSTREAM_ADMIN_SECRET="an-admin-password-from-env",
        CHANNELSTREAM_ALLOW_POSTING_FROM="10.0.0.7,127.0.0.1",
        CHANNELSTREAM_SIGNATURE_CHECKER="channelstream.utils.DefaultSigner",
        CHANNELSTREAM_ENFORCE_HTTPS="false",
    )
    log = tmp_path / "env.log"
    with serving([str(BIN / "channelstream")], port, env, log) as url:
        check_serves(url, port, "an-api-secret-from-env", "an-admin-password-from-env")
    text = log.read_text()
    assert "made a random one" in text
    assert "ENFORCE_HTTPS" not in text  # false is what we do anyway


def test_our_settings_and_071_oddities_in_the_section(tmp_path: Path) -> None:
    """The section takes our settings too; a key 0.7.1 had and we do not use is reported,
    and so is a misspelt one, with the nearest real name (0.7.1 ignored both silently)."""
    port = free_port()
    ini = old_ini(tmp_path, port, "gc_conns_after = 20", "egnine = redis")
    log = tmp_path / "mixed.log"
    command = [str(BIN / "channelstream"), str(ini)]
    with serving(command, port, clean_env(), log) as url:
        check_serves(url, port, SECRET, None)
    text = log.read_text()
    assert "[channelstream] enforce_https = True is ignored" in text
    assert "[channelstream] egnine is ignored: no such setting (did you mean engine?)" in text
    assert "'gc_conns_after': 20.0" in text  # the configured settings are logged at start


def test_an_empty_cookie_secret_is_made_up_as_in_071(tmp_path: Path) -> None:
    port = free_port()
    ini = old_ini(tmp_path, port)
    ini.write_text(
        "\n".join(
            "cookie_secret =" if line.startswith("cookie_secret") else line
            for line in ini.read_text().splitlines()
        )
    )
    with serving([str(BIN / "channelstream"), str(ini)], port, clean_env(), tmp_path / "c.log"):
        check_serves(f"http://127.0.0.1:{port}", port, SECRET, ADMIN_PASSWORD)


def test_a_misspelt_variable_is_reported_with_the_nearest_name(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(CHANNELSTREAM_LISTEN=f"127.0.0.1:{port}", CHANNELSTREAM_GC_CONS_AFTER="5")
    log = tmp_path / "typo.log"
    command = [str(BIN / "pserve"), str(ROOT / "development.ini")]
    with serving(command, port, env, log):
        pass
    assert (
        "CHANNELSTREAM_GC_CONS_AFTER is ignored: no such setting "
        "(did you mean CHANNELSTREAM_GC_CONNS_AFTER?)" in log.read_text()
    )


@pytest.mark.parametrize("option", ["-v", "--version"])
def test_version(option: str) -> None:
    result = subprocess.run(
        [str(BIN / "channelstream"), option], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout == f"{__version__}\n"
