"""Limits of the order-parameter integrators: solvers, output times, cost and divergence.

Shared by :func:`statmech.integrate` and the escape trajectories of
:mod:`statmech.theory.fixed_points` (and by :func:`statmech.simulate` for its output times), so
that both refuse the same inputs with the same messages. Nothing here integrates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import InvalidParameterError

__all__ = ["ODE_METHODS", "METHODS", "DIVERGENCE_FACTOR", "ALPHA_MAX", "MAX_RHS_CALLS",
           "EXPLICIT_CALLS_PER_UNIT", "EXPLICIT_METHODS", "check_alpha", "check_cost"]

#: Integrators accepted by :func:`integrate` (``scipy.integrate.solve_ivp`` methods).
#: The ``scipy.integrate.solve_ivp`` methods :func:`integrate` accepts (ODE solvers, not
#: pruning methods: those are :data:`statmech.PRUNING_METHODS`).
ODE_METHODS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
#: The former name of :data:`ODE_METHODS` (kept for old code).
METHODS = ODE_METHODS
#: A member is declared diverged when max_k Q_kk exceeds
#: DIVERGENCE_FACTOR * max(1, max_k Q_kk(0), max_n T_nn): a student weight vector has grown ten
#: times longer than the largest of the initial student, the teacher and the unit scale. Learning
#: trajectories stay far below (converged students have Q ≈ T); beyond the stable learning rate
#: the norms grow without bound (slowly for erf units, exponentially for linear ones).
DIVERGENCE_FACTOR = 100.0
#: Largest final time α accepted by :func:`integrate` (and :func:`statmech.simulate`): 2⁵² =
#: 1/ε. Beyond it α + 1 == α in float64, so the O(1/η) time scales of the dynamics cannot be
#: resolved (such a call used to run for ever).
ALPHA_MAX = 2.0**52
#: Most right-hand-side evaluations an explicit method (DOP853, RK45, RK23) may be expected to
#: need: :func:`integrate` refuses (``InvalidParameterError``) when its estimate
#: ``EXPLICIT_CALLS_PER_UNIT · max(η, η_v) · α_end`` exceeds it. Near a stable fixed point the
#: explicit step is limited by stability, not accuracy, so the calls grow linearly in η·α
#: (measured, erf K = M = 2: 1.5-2.7 calls per unit of η·α for α in 1e3-1e5); 2e6 calls take
#: ~3 min (one member) to hours (large batches). The stiff methods (LSODA, BDF, Radau)
#: need ~1e3 calls whatever α.
MAX_RHS_CALLS = 2 * 10**6
EXPLICIT_CALLS_PER_UNIT = 2.0
EXPLICIT_METHODS = ("DOP853", "RK45", "RK23")


def check_alpha(alpha: Any, func: str) -> np.ndarray:
    """The output times: a scalar final time > 0 (201 equally spaced outputs on [0, alpha]) or a
    1-D array of non-negative, strictly increasing times; at most :data:`ALPHA_MAX`."""
    allowed = (f"a finite float in (0, {ALPHA_MAX:.0f}] (the final time) or a 1-D array of "
               f"finite, non-negative, strictly increasing output times <= {ALPHA_MAX:.0f}")

    def bad(shown: object = alpha, detail: str = "") -> InvalidParameterError:
        return InvalidParameterError.build(func, "alpha", allowed, shown, detail)

    if isinstance(alpha, str | bytes | bool | np.bool_) or alpha is None:
        raise bad()
    try:
        a = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        raise bad() from None
    if a.ndim == 0:
        if not np.isfinite(a) or a <= 0 or a > ALPHA_MAX:
            raise bad()
        return np.linspace(0.0, float(a), 201)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise bad()
    if np.any(np.diff(a) <= 0):
        i = int(np.argmax(np.diff(a) <= 0))
        raise bad(f"alpha[{i}] = {a[i]:g} >= alpha[{i + 1}] = {a[i + 1]:g}",
                  "The times must be strictly increasing.")
    if a[-1] > ALPHA_MAX:
        raise bad(float(a[-1]), f"(alpha[-1]; beyond {ALPHA_MAX:.0f} = 1/eps, α + 1 == α).")
    return a


def check_cost(method: str, rate: float, t_end: float, func: str) -> None:
    """Refuse explicit-method runs expected to need more than :data:`MAX_RHS_CALLS` calls."""
    if method not in EXPLICIT_METHODS:
        return
    est = EXPLICIT_CALLS_PER_UNIT * rate * t_end
    if est > MAX_RHS_CALLS:
        raise InvalidParameterError(
            f"The 'alpha' parameter of {func} (final time {t_end:g}) with eta = {rate:g} and "
            f"method={method!r} needs about {est:.3g} right-hand-side evaluations "
            f"({EXPLICIT_CALLS_PER_UNIT:g} per unit of eta·alpha: an explicit method's step is "
            f"limited by stability near the fixed point), more than MAX_RHS_CALLS = "
            f"{MAX_RHS_CALLS:.0e}. Use a stiff method (method='LSODA', about 1e3 evaluations "
            "whatever alpha) or a smaller final alpha (if eta is beyond the stable range the "
            "run diverges early, and method='LSODA' flags it).",
            func=func, param="alpha", value=f"{t_end:g}",
            allowed=f"eta·alpha <= {MAX_RHS_CALLS / EXPLICIT_CALLS_PER_UNIT:g} for {method}",
        )
