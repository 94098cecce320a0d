"""`pip install ./clients/python` in a fresh virtualenv: the client alone, without the
server's dependencies, and it works against a real server from there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from client_support import NEW_KEY
from tests.support.server import ServerProcess

CLIENT_DIR = Path(__file__).resolve().parents[1]

PROBE = """
import importlib.util, json, sys
import channelstream_client
from channelstream_client import Client
with Client(sys.argv[1], sys.argv[2]) as client:
    info = client.info([])
print(json.dumps({
    "missing_server_parts": [
        name for name in ("gevent", "pyramid", "channelstream", "itsdangerous", "marshmallow")
        if importlib.util.find_spec(name) is not None
    ],
    "typed": (importlib.resources.files("channelstream_client") / "py.typed").is_file(),
    "file": channelstream_client.__file__,
    "info": info,
}))
"""


@pytest.mark.timeout(300)
def test_the_client_installs_alone_in_a_fresh_venv(
    tmp_path: Path, channelstream: ServerProcess
) -> None:
    # A copy, so that building leaves nothing in the repository (build/, egg-info).
    source = tmp_path / "python"
    shutil.copytree(
        CLIENT_DIR, source, ignore=shutil.ignore_patterns("tests", "*.egg-info", "build")
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    probe = subprocess.run(
        [str(python), "-c", "import importlib.resources\n" + PROBE, channelstream.url, NEW_KEY],
        capture_output=True,
        text=True,
        timeout=60,
        # Away from the repository, whose channelstream/ would be importable from the cwd.
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["missing_server_parts"] == []
    assert found["typed"] is True
    assert found["file"].startswith(str(venv))
    assert found["info"] == {"channels": {}, "users": []}
