"""Layering rules: ``import statmech`` needs neither torch nor CuPy, and never imports empirical."""

import importlib.util
import subprocess
import sys

import pytest


def test_statmech_imports_without_torch_cupy_or_empirical():
    code = (
        "import sys, statmech, statmech.pruning, statmech.dpp\n"
        "bad = [m for m in ('torch', 'cupy', 'empirical') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_empirical_builds_on_statmech():
    subprocess.run([sys.executable, "-c", "import empirical, statmech; "
                    "assert empirical.order_parameters"], check=True)
