"""statmech: statistical-mechanics theory of two-layer teacher-student networks and their pruning.

Theory core: order parameters, Gaussian integrals for erf / linear / ReLU units, the
generalisation error, the online-SGD order-parameter ODEs, fixed points and time scales.
Monte Carlo: :func:`simulate` trains ensembles of explicit networks (NumPy, torch or CuPy) or runs
the exact finite-N reduced chain on the order parameters. Pruning: :func:`prune` (explicit, any
layer) and :func:`pruned_error` / :func:`prune_theory` (order-parameter theory) for every method
in :data:`PRUNING_METHODS`.
``import statmech`` needs only NumPy, SciPy and pandas (torch/CuPy are imported lazily, where used).
"""

from . import dpp
from ._validation import InvalidParameterError
from .activations import ACTIVATIONS, Activation, get_activation
from .backend import BACKENDS, Backend, get_backend, member_seeds
from .dpp import KDPP, sample_dpp, sample_k_dpp
from .ensemble import Ensemble, EnsembleMean
from .fixed_points import (
    critical_learning_rate,
    escape_time,
    optimal_learning_rate,
    plateau_height,
    symmetric_plateau,
)
from .generalization import generalization_error, test_loss
from .ode import DIVERGENCE_FACTOR, METHODS, integrate, ode_rhs
from .order_parameters import PSD_RTOL, SYMMETRY_RTOL, OrderParameters
from .pruning import (
    PRUNING_METHODS,
    PruneTheory,
    PruningResult,
    match_parameters,
    matched_edges,
    order_units_by_teacher,
    prune,
    prune_student,
    prune_theory,
    pruned_error,
)
from .simulation import SIMULATION_METHODS, ReconstructionWarning, simulate
from .trajectory import Trajectory
from .weights_reconstruction import weights_from_order_parameters


def _package_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("statmech-pruning")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree not installed
        return "0+unknown"


__version__ = _package_version()

__all__ = [
    "dpp",
    "ACTIVATIONS",
    "Activation",
    "BACKENDS",
    "Backend",
    "DIVERGENCE_FACTOR",
    "Ensemble",
    "KDPP",
    "InvalidParameterError",
    "EnsembleMean",
    "METHODS",
    "OrderParameters",
    "PRUNING_METHODS",
    "PSD_RTOL",
    "PruneTheory",
    "PruningResult",
    "ReconstructionWarning",
    "SIMULATION_METHODS",
    "SYMMETRY_RTOL",
    "Trajectory",
    "critical_learning_rate",
    "escape_time",
    "generalization_error",
    "get_activation",
    "get_backend",
    "integrate",
    "match_parameters",
    "matched_edges",
    "member_seeds",
    "ode_rhs",
    "optimal_learning_rate",
    "order_units_by_teacher",
    "plateau_height",
    "prune",
    "prune_student",
    "prune_theory",
    "pruned_error",
    "sample_dpp",
    "sample_k_dpp",
    "simulate",
    "symmetric_plateau",
    "test_loss",
    "weights_from_order_parameters",
]
