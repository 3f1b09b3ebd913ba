"""Shared fixtures: reference states from ``docs/ode_theory.md`` §3.1 (nn2pp tests), and
``load_script`` (a file of ``scripts/`` imported as a module)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from statmech import OrderParameters

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="session")
def load_script():
    """``load_script("companion_mbp", as_name=None)``: a fresh module from
    ``scripts/companion_mbp.py`` (scripts are not a package), under ``as_name`` if given."""
    def load(name: str, as_name: str | None = None):
        spec = importlib.util.spec_from_file_location(as_name or name, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load



def _sym(upper):
    a = np.array(upper, dtype=float)
    return np.triu(a) + np.triu(a, 1).T


@pytest.fixture
def nn2pp_scm():
    """`eg_erf_scm`: N = 10, K = 3, M = 2, v = v* = 1; ε_g = 1.08045."""
    Q = _sym([[0.772420547, 0.385502882, 0.282784577], [0, 0.635785628, 0.004612275],
              [0, 0, 0.823152166]])
    R = [[-0.077793808, -0.069839546], [0.090417111, -0.215252852], [-0.296334744, 0.081775441]]
    T = _sym([[0.536540425, -0.062958618], [0, 0.736953620]])
    return OrderParameters(Q, R, T)


@pytest.fixture
def nn2pp_both():
    """`eg_erf_both`: N = 5, K = 3, M = 2, trained v; ε_g = 0.0803271 (erf), 0.287911 (linear)."""
    Q = _sym([[1.012492225, 0.286657089, 0.192249235], [0, 1.467712780, 0.663357857],
              [0, 0, 0.409672962]])
    R = [[-0.513013675, 0.245462171], [0.595202748, 0.531985948], [0.157067246, 0.275276747]]
    T = _sym([[0.717609713, 0.106609450], [0, 0.229006119]])
    return OrderParameters(Q, R, T, v=[-1.3598, -0.0671005, -0.395626], v_star=[0.965846, -1.40304])
