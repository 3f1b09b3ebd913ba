"""The documentation's executable parts: the tutorial notebook runs from top to bottom, and the
packages ship their type-annotation marker.

The docs build (``python -m sphinx -W --keep-going -b html docs docs/_build/html``, run by CI)
executes the notebook too; this test covers it without Sphinx, with nbclient and an IPython
kernel (the ``docs`` extra; skipped without them).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"


def _code_cells() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_notebook_is_saved_without_outputs():
    """The build executes it; stored outputs would only go stale."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None


def test_notebook_covers_the_workflow():
    """Import, integrate, simulate, prune (explicitly and in theory) and plot with ``plot_*``."""
    code = "\n".join(_code_cells())
    for call in ("import statmech", "sm.integrate(", "sm.simulate(", "sm.prune_student(",
                 "sm.pruned_error(", "sm.prune_theory(", "sm.plot_trajectory(",
                 "sm.plot_ensemble(", "sm.plot_pruned_error("):
        assert call in code, f"the tutorial no longer calls {call}"


def test_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, "the tutorial drew no figure"


@pytest.mark.parametrize("package", ["statmech", "empirical"])
def test_packages_ship_py_typed(package):
    """PEP 561: the marker exists and the package data installs it."""
    assert (ROOT / package / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in data["package-data"][package]
