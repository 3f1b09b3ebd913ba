"""Install metadata: what pyproject.toml declares covers what the code imports.

* NumPy >= 2.0 (the array-API functions ``permute_dims``, ``concat``, ``astype`` on plain NumPy).
* The ``empirical`` extra installs every third-party module that ``empirical`` imports, directly
  or through ``statmech``'s torch backend (``array_api_compat`` was missing, so the README's main
  command failed on a fresh machine).
* One version string: ``statmech.__version__`` is read from the package metadata.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import statmech

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

#: import name -> distribution name, for the third-party modules the packages use
DISTRIBUTION = {
    "numpy": "numpy", "scipy": "scipy", "matplotlib": "matplotlib", "pandas": "pandas",
    "pyarrow": "pyarrow", "torch": "torch", "array_api_compat": "array-api-compat",
    "sklearn": "scikit-learn", "mnist1d": "mnist1d", "distributed": "distributed",
    "cupy": "cupy", "cupyx": "cupy", "dppy": "dppy", "array_api_strict": "array-api-strict",
    "threadpoolctl": "threadpoolctl", "tqdm": "tqdm", "dask": "distributed", "mpmath": "mpmath",
}
#: optional modules imported behind a try/except or only for an extra other than `empirical`
OPTIONAL = {"cupy", "cupyx", "distributed", "dask", "dppy", "array_api_strict", "threadpoolctl",
            "tqdm"}


def _requirement_names(reqs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].strip().lower() for r in reqs}


def _third_party_imports(package: str) -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top not in ("statmech", "empirical"):
                    found.add(top)
    return found


def test_numpy_2_required() -> None:
    spec = next(r for r in PYPROJECT["project"]["dependencies"] if r.startswith("numpy"))
    assert re.search(r">=\s*2", spec), spec
    assert int(np.__version__.split(".")[0]) >= 2


@pytest.mark.parametrize("package", ["statmech", "empirical"])
def test_every_import_is_known(package: str) -> None:
    unknown = _third_party_imports(package) - set(DISTRIBUTION)
    assert not unknown, f"map these imports to their distributions: {unknown}"


def test_empirical_extra_covers_empirical_and_the_torch_backend() -> None:
    """A fresh ``pip install -e .[empirical]`` has everything ``empirical`` and the torch
    backend of ``statmech`` import."""
    core = _requirement_names(PYPROJECT["project"]["dependencies"])
    extra = _requirement_names(PYPROJECT["project"]["optional-dependencies"]["empirical"])
    needed = (_third_party_imports("empirical") | {"torch", "array_api_compat"}) - OPTIONAL
    missing = {DISTRIBUTION[m] for m in needed} - core - extra
    assert not missing, f"the empirical extra lacks {missing}"


def test_core_dependencies_cover_statmech() -> None:
    core = _requirement_names(PYPROJECT["project"]["dependencies"])
    torch_extra = _requirement_names(PYPROJECT["project"]["optional-dependencies"]["torch"])
    needed = _third_party_imports("statmech") - OPTIONAL - {"torch", "array_api_compat"}
    assert {DISTRIBUTION[m] for m in needed} <= core
    assert {"torch", "array-api-compat"} <= torch_extra


def test_one_version_string() -> None:
    assert statmech.__version__ == version("statmech-pruning")
    assert statmech.__version__ == PYPROJECT["project"]["version"]
    for path in list((ROOT / "statmech").rglob("*.py")) + list((ROOT / "empirical").rglob("*.py")):
        assert not re.search(r"__version__\s*=\s*['\"]", path.read_text()), path
    cff = (ROOT / "CITATION.cff").read_text()
    m = re.search(r"^version:\s*(\S+)", cff, re.M)
    assert m is None or m.group(1).strip("'\"") == statmech.__version__


def test_citation_names_the_current_version_of_the_seed_paper() -> None:
    """arXiv 2006.16617 v3 (UAI 2021) is the current version: its title and five authors."""
    cff = (ROOT / "CITATION.cff").read_text()
    assert 'title: "Statistical Mechanical Analysis of Neural Network Pruning"' in cff
    for name in ("Acharyya", "Chattoraj", "Zhang", "Das", "Štefankovič"):
        assert f"family-names: {name}" in cff
    assert "arXiv:2006.16617v3" in cff and "year: 2021" in cff
