"""The state manager is read only at the edges; the core receives it as an argument."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "channelstream"
CORE = ["model", "engine", "hub.py", "operations.py", "schemas"]


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_core_never_reads_the_global_state() -> None:
    offenders = []
    for entry in CORE:
        target = PACKAGE / entry
        for path in [target] if target.is_file() else target.rglob("*.py"):
            for name in imported_names(path):
                if name.startswith("channelstream.state.get_state") or name.endswith("install"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_importing_the_package_imports_neither_pyramid_nor_gevent() -> None:
    code = (
        "import channelstream, sys; "
        "print(sorted(m for m in ('pyramid', 'gevent') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
