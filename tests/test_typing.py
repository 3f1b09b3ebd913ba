"""The theory layer type-checks: ``python -m mypy`` (configured in pyproject.toml) is clean."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")
def test_mypy_is_clean_on_the_theory_layer():
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "statmech/theory" in open(ROOT / "pyproject.toml", encoding="utf-8").read()


def test_the_package_ships_its_type_marker():
    assert (ROOT / "statmech" / "py.typed").exists()
