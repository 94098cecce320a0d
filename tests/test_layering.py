"""How the package hangs together: no import cycles, the engine imports nothing above it,
the core never reaches for the application, modules stay small, and importing the package
imports neither Pyramid nor gevent (the runner must patch first)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "channelstream"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """Every channelstream module `name` imports, wherever the import is (at the top, in a
    function, under TYPE_CHECKING): a cycle through any of them is still a tangle."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from pkg import module` depends on that module, not on pkg's __init__.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    # The detector sees real edges (a broken parser would find no cycle in anything).
    assert "channelstream.engine.base" in GRAPH["channelstream.engine.memory"]
    assert "channelstream.engine.redis.scripts" in GRAPH["channelstream.engine.redis.client"]
    assert "channelstream.delivery.hub" in GRAPH["channelstream.state"]


def test_the_detector_finds_a_cycle() -> None:
    saved = dict(GRAPH)
    try:
        GRAPH["channelstream.model.event"] = {*GRAPH["channelstream.model.event"]} | {
            "channelstream.operations"
        }
        assert any("channelstream.operations" in cycle for cycle in cycles())
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_no_import_cycles() -> None:
    assert cycles() == []


def test_the_engine_imports_nothing_above_it() -> None:
    allowed = ("channelstream.engine", "channelstream.model", "channelstream.jsonenc")
    allowed_exact = {"channelstream.settings", "channelstream.errors"}
    offenders = {
        name: sorted(
            target
            for target in GRAPH[name]
            if not target.startswith(allowed) and target not in allowed_exact
        )
        for name in GRAPH
        if name.startswith("channelstream.engine")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_core_never_reaches_for_the_application() -> None:
    """The model, the engines, delivery and the use cases receive the state as an argument;
    only the edges (views, the runner, the composition root) know the runtime."""
    edges = ("channelstream.runtime", "channelstream.app", "channelstream.views")
    core = ("channelstream.model", "channelstream.engine", "channelstream.delivery")
    offenders = [
        f"{name} -> {target}"
        for name in GRAPH
        if name.startswith(core) or name in ("channelstream.operations", "channelstream.state")
        for target in GRAPH[name]
        if target.startswith(edges)
    ]
    assert offenders == []


def test_modules_stay_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


@pytest.mark.process
def test_importing_the_package_imports_neither_pyramid_nor_gevent() -> None:
    code = (
        "import channelstream, sys; "
        "print(sorted(m for m in ('pyramid', 'gevent') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
