"""Layering rules, checked on the source (every import, module-level or inside a function).

Layers, lowest first (the layout is described in ``docs/layout.md``):

    base (statmech/_*.py, statmech/paths.py) ← theory ← simulation ← companion ← pruning
        ← sweep | plotting ← figures ← cli ← statmech (the lazy facade, ``__init__``)

(``companion`` holds the companion papers' own mathematics, which the MBP and spectral pruning
methods build on.)

A module may import its own layer (its own subpackage) or lower ones; ``sweep`` and ``plotting``
share a layer but do not import each other. No import circle between modules (a registry is
filled by the modules that define its entries, imported by the registry's package ``__init__``).
``statmech`` never imports ``empirical``, and imports torch and CuPy only lazily (tested by
running ``import statmech`` below).
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "statmech"
BASE = {"_lazy", "_linalg", "_progress", "_resources", "_validation", "_version", "paths"}
LAYERS = {"theory": 1, "simulation": 2, "companion": 3, "pruning": 4, "sweep": 5,
          "plotting": 5, "figures": 6, "cli": 7}
FACADE = 8


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _group(module: str) -> str:
    """The layer group of a statmech module: 'base', a subpackage name, or 'statmech'."""
    parts = module.split(".")
    if len(parts) == 1:
        return "statmech"
    return "base" if parts[1] in BASE else parts[1]


def _level(module: str) -> int:
    group = _group(module)
    return {"base": 0, "statmech": FACADE}.get(group, LAYERS.get(group, -1))


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def _imports(module: str, path: Path) -> set[str]:
    """The absolute names of every module ``module`` imports (outside ``if TYPE_CHECKING``);
    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    return out


GRAPH = {m: {t for t in _imports(m, p) if t.split(".")[0] == "statmech"}
         for m, p in MODULES.items()}
EXTERNAL = {m: {t.split(".")[0] for t in _imports(m, p)} for m, p in MODULES.items()}


def test_every_module_belongs_to_a_layer():
    stray = sorted(m for m in MODULES if _level(m) < 0)
    assert not stray, f"modules outside the known layers: {stray}"
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert len(top) <= 8, f"statmech/ holds {len(top)} top-level modules: {top}"


def test_no_module_imports_a_higher_layer():
    bad = []
    for module, targets in GRAPH.items():
        for target in targets:
            lo, hi = _level(target), _level(module)
            same_layer_other_group = (lo == hi and _group(target) != _group(module)
                                      and _group(module) != "base")
            if lo > hi or same_layer_other_group:
                bad.append(f"{module} ({_group(module)}) imports {target} ({_group(target)})")
    assert not bad, "layering violations:\n" + "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    # a package __init__ re-exporting its own modules is not a circle: a module importing a
    # sibling by the package's name is resolved to the sibling (see _imports)
    cycles = _cycles(GRAPH)
    assert not cycles, f"import circles: {cycles}"


def test_the_cycle_finder_finds_a_circle():
    """Negative control: a two-module circle and a three-module one are reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_statmech_never_names_empirical():
    bad = sorted(m for m, ext in EXTERNAL.items() if "empirical" in ext)
    assert not bad, f"statmech modules importing empirical: {bad}"


def test_statmech_imports_without_torch_cupy_or_empirical():
    code = (
        "import sys, statmech, statmech.pruning, statmech.theory, statmech.simulation\n"
        "statmech.integrate, statmech.simulate, statmech.prune, statmech.dpp.sample_k_dpp\n"
        "bad = [m for m in ('torch', 'cupy', 'empirical') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_empirical_builds_on_statmech():
    subprocess.run([sys.executable, "-c", "import empirical, statmech; "
                    "assert empirical.order_parameters"], check=True)
