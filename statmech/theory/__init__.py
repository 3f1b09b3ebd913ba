"""Theory: order parameters, Gaussian integrals, the online-SGD ODEs and their fixed points.

Modules (lowest first): ``activations`` (erf / linear / ReLU and their integrals by index
tuple), ``gaussian_integrals`` (the closed forms and quadrature of I2, J2, I3, I4 for any
covariance), ``order_parameters`` (:class:`OrderParameters`), ``ode_integrals`` (the integrals
contracted over all teacher and student fields, as the ODEs use them), ``generalization``
(ε_g), ``model`` (:class:`SGDModel`, the training settings), ``rhs`` (the right-hand side),
``trajectory`` (:class:`Trajectory`), ``ode`` (:func:`integrate`) and ``fixed_points``
(plateaus, escape times, learning-rate limits). Nothing here imports a higher layer.
Public names are imported from their module on first use.
"""

from .._lazy import lazy_getattr as _lazy_getattr

_LAZY: dict[str, str] = {
    **dict.fromkeys(("ACTIVATIONS", "Activation", "get_activation"), "activations"),
    **dict.fromkeys(("PSD_RTOL", "SYMMETRY_RTOL", "OrderParameters"), "order_parameters"),
    **dict.fromkeys(("generalization_error", "test_loss"), "generalization"),
    **dict.fromkeys(("SGDModel", "MODEL_FIELDS"), "model"),
    "ode_rhs": "rhs",
    **dict.fromkeys(("MaskedOrderParameters", "MAX_CELLS"), "masked"),
    "Trajectory": "trajectory",
    "integrate": "ode",
    **dict.fromkeys(("DIVERGENCE_FACTOR", "ODE_METHODS"), "solver_limits"),
    **dict.fromkeys(("critical_learning_rate", "escape_time", "optimal_learning_rate",
                     "plateau_height", "symmetric_plateau"), "fixed_points"),
}

__getattr__ = _lazy_getattr(__name__, _LAZY, globals())
__all__ = sorted(_LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
