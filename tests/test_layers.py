"""The library in layers: every import points down the pipeline, and no module imports in a circle.

The packages, lowest first: the foundation (errors, contracts, the window grid,
process maps), io, data, models, then training and detection beside each other,
vectorize, evaluation and synth. A module may import its own package and the
packages below it (``ALLOWED``), at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "geonoise"
FOUNDATION = {"geonoise", "geonoise.errors", "geonoise.contracts", "geonoise.windows"}
FOUNDATION |= {"geonoise.parallel"}
ALLOWED: dict[str, set[str]] = {
    "foundation": set(),
    "io": {"foundation"},
    "data": {"foundation", "io"},
    "models": {"foundation", "io", "data"},
    "training": {"foundation", "io", "data", "models"},
    "detection": {"foundation", "io", "data", "models"},
    "vectorize": {"foundation", "io"},
    "evaluation": {"foundation", "io", "data", "detection"},
    "synth": {"foundation", "io"},
    "fixing": {"foundation", "io", "data", "vectorize"},
}


def package_of(module: str) -> str:
    if module in FOUNDATION:
        return "foundation"
    return module.split(".")[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported geonoise module, at module level)`` of every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("geonoise"):
            names = [f"{node.module}.{a.name}" for a in node.names]
            targets = [n for n in names if _is_module(n)] or [node.module]
            found += [(t, id(node) in top) for t in targets]
        elif isinstance(node, ast.Import):
            found += [
                (a.name, id(node) in top) for a in node.names if a.name.startswith("geonoise")
            ]
    return found


def _is_module(name: str) -> bool:
    path = ROOT.parent / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    layer = package_of(module)
    allowed = ALLOWED[layer] | {layer}
    wrong = [m for m, _ in imports(MODULES[module]) if package_of(m) not in allowed]
    assert not wrong, f"{module} ({layer}) imports {wrong}"


def test_no_module_imports_in_a_circle():
    graph = {m: {t for t, _ in imports(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    for package in {m for m in MODULES if m.count(".") == 1 and (ROOT / m.split(".")[1]).is_dir()}:
        graph[package] = set()  # a package's __init__ only describes it: no edges through it
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [])
