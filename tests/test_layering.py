"""Layering rules: ``import statmech`` needs neither torch nor CuPy, and never imports empirical."""

import subprocess
import sys


def test_statmech_imports_without_torch_cupy_or_empirical():
    code = (
        "import sys, statmech, empirical\n"
        "bad = [m for m in ('torch', 'cupy') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import importlib; sys.modules.pop('empirical')\n"
        "importlib.reload(statmech)\n"
        "assert 'empirical' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
