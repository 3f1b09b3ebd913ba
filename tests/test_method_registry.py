"""Pruning methods: the registry is the single source of truth for names, looks and lists."""

import ast
from pathlib import Path

import pytest

import statmech as sm
from statmech.plotting.style import method_label, method_style
from statmech.pruning import PRUNING_METHODS, EdgeMethod, NodeMethod, method_names

ROOT = Path(__file__).resolve().parents[1]
NAMES = set(PRUNING_METHODS)


def test_every_method_declares_how_it_is_shown():
    gallery = method_names(gallery=True)
    assert gallery == ("random_edge", "magnitude_edge", "dpp_edge", "random_node",
                       "magnitude_node", "dpp_node", "spectral_node")
    assert set(method_names()) == NAMES and "mbp_edge" not in gallery
    looks = set()
    for name, m in PRUNING_METHODS.items():
        assert m.name == name and m.kind in ("edge", "node")
        assert m.kind == (EdgeMethod if isinstance(m, EdgeMethod) else NodeMethod).kind
        assert m.label and m.color and m.marker, name
        assert method_label(name) == m.label
        assert method_style(name)["color"] == m.color
        looks.add((m.color, m.marker))
    assert len(looks) == len(PRUNING_METHODS)  # no two methods look alike
    assert method_names(kind="node") == ("random_node", "magnitude_node", "dpp_node",
                                         "spectral_node")
    assert sm.ODE_METHODS is sm.METHODS  # solvers, not pruning methods (old name kept)


def _sources():
    for top in ("statmech", "empirical", "scripts"):
        yield from sorted((ROOT / top).rglob("*.py"))


def _literal_names(node):
    return [e.value for e in node.elts
            if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in NAMES]


def test_no_hand_written_list_of_method_names():
    """Every list of methods derives from the registry: no list, tuple or set literal in the
    packages or scripts names three or more methods."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple | ast.Set) and len(
                    set(_literal_names(node))) >= 3:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_no_dispatch_on_method_names():
    """Outside a method's own module nothing compares a method's name with a literal name
    (``if m.name == "dpp_edge"``): behaviour lives on the method class."""
    found = []
    for path in _sources():
        own = path.stem if path.parent.name == "pruning" else None
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for side in (node.left, *node.comparators):
                lits = ([side.value] if isinstance(side, ast.Constant) else
                        _literal_names(side) if isinstance(side, ast.Tuple | ast.List | ast.Set)
                        else [])
                hits = [v for v in lits if isinstance(v, str) and v in NAMES and v != own]
                if hits:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {hits}")
    assert not found, found


#: Where method behaviour is dispatched (``statmech.prune``, ``prune_theory``, the validation
#: study, pruning real networks): the kind comes from the method's base class and behaviour from
#: its hooks, never from a comparison of ``m.kind`` or the name's suffix with a string.
DISPATCHERS = [*sorted((ROOT / "statmech" / "pruning").glob("*.py")),
               ROOT / "empirical" / "pruning.py"]


def _kind_string_dispatch(tree):
    """Lines comparing ``<x>.kind`` with "edge"/"node", or testing a name's "node"/"edge"
    suffix (``method.endswith("node")``)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if (any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides)
                    and any(isinstance(s, ast.Constant) and s.value in ("edge", "node")
                            for s in sides)):
                lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("endswith", "startswith") and node.args
              and isinstance(node.args[0], ast.Constant)
              and str(node.args[0].value).strip("_") in ("edge", "node")):
            lines.append(node.lineno)
    return lines


def test_no_dispatch_on_kind_strings():
    found = [f"{path.relative_to(ROOT)}:{line}" for path in DISPATCHERS
             for line in _kind_string_dispatch(ast.parse(path.read_text()))]
    assert not found, found


@pytest.mark.parametrize("code", ['if m.kind == "node": pass', 'x = "edge" != res.kind',
                                  'node = method.endswith("node")',
                                  'node = df["method"].str.endswith("_node")'])
def test_the_kind_check_would_catch_kind_dispatch(code):
    assert _kind_string_dispatch(ast.parse(code)) == [1]


@pytest.mark.parametrize("bad", [["random_edge", "dpp_edge", "dpp_node"]])
def test_the_list_check_would_catch_a_literal_list(bad):
    tree = ast.parse(f"METHODS = {bad!r}")
    lists = [n for n in ast.walk(tree) if isinstance(n, ast.List)]
    assert len(set(_literal_names(lists[0]))) == 3
