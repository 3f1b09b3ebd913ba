"""statmech: statistical-mechanics theory of two-layer teacher-student networks and their pruning.

Theory core: order parameters, Gaussian integrals for erf / linear / ReLU units, the
generalisation error, the online-SGD order-parameter ODEs, fixed points and time scales.
Monte Carlo: :func:`simulate` trains ensembles of explicit networks (NumPy, torch or CuPy) or runs
the exact finite-N reduced chain on the order parameters. Pruning: :func:`prune` (explicit, any
layer) and :func:`pruned_error` / :func:`prune_theory` (order-parameter theory) for every method
in :data:`PRUNING_METHODS`.
``import statmech`` loads only NumPy: every public name is imported from its submodule on first
use, and SciPy, pandas, matplotlib, torch and CuPy only where they are needed.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr as _lazy_getattr
from ._validation import InvalidParameterError
from ._version import package_version

#: Public name -> the submodule that defines it. Imported on first use (module ``__getattr__``)
#: so that ``import statmech`` stays cheap: SciPy's special functions and integrators, pandas,
#: matplotlib and torch are loaded only by the code that needs them.
_LAZY: dict[str, str] = {
    "dpp": "pruning",
    **dict.fromkeys(("ACTIVATIONS", "Activation", "get_activation"), "theory.activations"),
    **dict.fromkeys(("BACKENDS", "Backend", "get_backend", "member_seeds"), "simulation.backend"),
    **dict.fromkeys(("KDPP", "sample_dpp", "sample_k_dpp"), "pruning.dpp"),
    **dict.fromkeys(("Ensemble", "EnsembleMean"), "simulation.ensemble"),
    **dict.fromkeys(("critical_learning_rate", "escape_time", "optimal_learning_rate",
                     "plateau_height", "symmetric_plateau"), "theory.fixed_points"),
    **dict.fromkeys(("generalization_error", "test_loss"), "theory.generalization"),
    **dict.fromkeys(("integrate", "ode_rhs"), "theory.ode"),
    **dict.fromkeys(("DIVERGENCE_FACTOR", "METHODS", "ODE_METHODS"), "theory.solver_limits"),
    **dict.fromkeys(("PSD_RTOL", "SYMMETRY_RTOL", "OrderParameters"), "theory.order_parameters"),
    **dict.fromkeys(("PRUNING_METHODS", "PruneTheory", "PruningResult", "match_parameters",
                     "matched_edges", "method_names", "order_units_by_teacher", "prune",
                     "prune_student", "prune_theory", "pruned_error", "RetrainTheory",
                     "retrain", "retrain_pruned", "retrain_theory", "retraining_init",
                     "sparse_init"), "pruning"),
    **dict.fromkeys(("SIMULATION_METHODS", "ReconstructionWarning", "simulate"), "simulation.api"),
    "Trajectory": "theory.trajectory",
    **dict.fromkeys(("plot_ensemble", "plot_jensen_gap", "plot_order_parameters",
                     "plot_pruned_error", "plot_trajectory"), "plotting"),
    "SGDModel": "theory.model",
    "MaskedOrderParameters": "theory.masked",
    **dict.fromkeys(("BackendOptions", "StudentInit"), "simulation.settings"),
    "weights_from_order_parameters": "simulation.weights_reconstruction",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .plotting import (
        plot_ensemble,
        plot_jensen_gap,
        plot_order_parameters,
        plot_pruned_error,
        plot_trajectory,
    )
    from .pruning import (
        PRUNING_METHODS,
        PruneTheory,
        PruningResult,
        dpp,
        match_parameters,
        matched_edges,
        method_names,
        order_units_by_teacher,
        prune,
        prune_student,
        prune_theory,
        pruned_error,
        retrain,
        retrain_pruned,
        retrain_theory,
        retraining_init,
        sparse_init,
    )
    from .pruning.dpp import KDPP, sample_dpp, sample_k_dpp
    from .simulation.api import SIMULATION_METHODS, ReconstructionWarning, simulate
    from .simulation.backend import BACKENDS, Backend, get_backend, member_seeds
    from .simulation.ensemble import Ensemble, EnsembleMean
    from .simulation.settings import BackendOptions, StudentInit
    from .simulation.weights_reconstruction import weights_from_order_parameters
    from .theory.activations import ACTIVATIONS, Activation, get_activation
    from .theory.fixed_points import (
        critical_learning_rate,
        escape_time,
        optimal_learning_rate,
        plateau_height,
        symmetric_plateau,
    )
    from .theory.generalization import generalization_error, test_loss
    from .theory.masked import MaskedOrderParameters
    from .theory.model import SGDModel
    from .theory.ode import integrate, ode_rhs
    from .theory.order_parameters import PSD_RTOL, SYMMETRY_RTOL, OrderParameters
    from .theory.solver_limits import DIVERGENCE_FACTOR, METHODS, ODE_METHODS
    from .theory.trajectory import Trajectory


__getattr__ = _lazy_getattr(__name__, _LAZY, globals(), {"__version__": package_version})


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"__version__"})


__all__ = [
    "dpp",
    "ACTIVATIONS",
    "Activation",
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "DIVERGENCE_FACTOR",
    "Ensemble",
    "KDPP",
    "InvalidParameterError",
    "EnsembleMean",
    "METHODS",
    "MaskedOrderParameters",
    "ODE_METHODS",
    "OrderParameters",
    "PRUNING_METHODS",
    "PSD_RTOL",
    "PruneTheory",
    "PruningResult",
    "ReconstructionWarning",
    "RetrainTheory",
    "SGDModel",
    "SIMULATION_METHODS",
    "SYMMETRY_RTOL",
    "StudentInit",
    "Trajectory",
    "critical_learning_rate",
    "escape_time",
    "generalization_error",
    "get_activation",
    "get_backend",
    "integrate",
    "match_parameters",
    "matched_edges",
    "method_names",
    "member_seeds",
    "ode_rhs",
    "optimal_learning_rate",
    "order_units_by_teacher",
    "plateau_height",
    "plot_ensemble",
    "plot_jensen_gap",
    "plot_order_parameters",
    "plot_pruned_error",
    "plot_trajectory",
    "prune",
    "prune_student",
    "prune_theory",
    "pruned_error",
    "retrain",
    "retrain_pruned",
    "retrain_theory",
    "retraining_init",
    "sparse_init",
    "sample_dpp",
    "sample_k_dpp",
    "simulate",
    "symmetric_plateau",
    "test_loss",
    "weights_from_order_parameters",
]
