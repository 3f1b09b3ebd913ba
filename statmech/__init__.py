"""statmech: statistical-mechanics theory of two-layer teacher-student networks and their pruning.

Theory core (this release): order parameters, Gaussian integrals for erf / linear / ReLU units,
the generalisation error, the online-SGD order-parameter ODEs, fixed points and time scales.
``import statmech`` needs only NumPy, SciPy and pandas (torch/CuPy are imported lazily, where used).
"""

from .activations import ACTIVATIONS, Activation, get_activation
from .backend import BACKENDS, Backend, get_backend, member_seeds
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
from .trajectory import Trajectory

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "BACKENDS",
    "Backend",
    "DIVERGENCE_FACTOR",
    "METHODS",
    "OrderParameters",
    "PSD_RTOL",
    "SYMMETRY_RTOL",
    "Trajectory",
    "critical_learning_rate",
    "escape_time",
    "generalization_error",
    "get_activation",
    "get_backend",
    "integrate",
    "member_seeds",
    "ode_rhs",
    "optimal_learning_rate",
    "plateau_height",
    "symmetric_plateau",
    "test_loss",
]
