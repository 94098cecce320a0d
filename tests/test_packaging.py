"""`pip install channelstream` is all it takes: the wheel builds without setuptools warnings
and holds the static files, the LICENSE and the Redis engine's requirements."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "channelstream",
        source / "channelstream",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",  # as a user's pip builds it: isolated, with today's setuptools
            "-v",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("channelstream-*.whl")
    return found, built.stdout + built.stderr


def test_building_warns_about_nothing(wheel: tuple[Path, str]) -> None:
    _, log = wheel
    setuptools_lines = [
        line
        for line in log.splitlines()
        if "Warning" in line or "would be ignored" in line or "deprecated" in line.lower()
    ]
    assert setuptools_lines == []


def test_the_wheel_holds_what_serving_needs(wheel: tuple[Path, str]) -> None:
    path, _ = wheel
    names = set(zipfile.ZipFile(path).namelist())
    for static in (ROOT / "channelstream" / "static").rglob("*"):
        if static.is_file():
            assert str(static.relative_to(ROOT)) in names, static
    assert any(name.endswith("licenses/LICENSE") for name in names)
    metadata = next(name for name in names if name.endswith("METADATA"))
    text = zipfile.ZipFile(path).read(metadata).decode()
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    base = [line for line in requires if "extra ==" not in line]
    assert any(line.startswith("Requires-Dist: redis") for line in base)
    assert any(line.startswith("Requires-Dist: hiredis") for line in base)
    assert "Provides-Extra: redis" in text
    assert "License: BSD-3-Clause" in text or "License-Expression: BSD-3-Clause" in text
