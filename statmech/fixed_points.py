"""Fixed points and time scales of the order-parameter ODEs (K = M, T = 𝟙, v = v* = 1).

* :func:`symmetric_plateau` — the unspecialised fixed point that online SGD lingers at
  (``ode_theory.md`` §3.3). In the ansatz Q_ii = q, Q_ik = c (i ≠ k), R_in = r for all i, n, the
  symmetric subspace is invariant under the flow. We integrate the flow restricted to it from an
  unspecialised start with q ≠ c, then polish the fixed point with a root finder; q = c is *not*
  imposed (the identical-students manifold q = c is invariant too and carries a different fixed
  point at finite η, which is not the plateau). The result is checked to attract within the
  symmetric subspace; it is a saddle of the full flow (the specialisation direction escapes).
  As η → 0 it tends to q = c = 1/(2K−1), r = 1/√(K(2K−1)) with
  ε* = (K/π)(π/6 − K·arcsin(1/(2K))) (Saad & Solla 1995).
* :func:`critical_learning_rate` — the largest η at which the perfect solution Q = R = T = 𝟙 is
  linearly stable (``ode_theory.md`` §3.4). At a fixed point of the noiseless flow the right-hand
  side is η F₁ + (η²/B) F₂, so its Jacobian is η (A + (η/B) B₂); the threshold is the smallest
  η > 0 at which the largest real part of an eigenvalue of A + (η/B) B₂ reaches zero. A and B₂ are
  computed by central differences (step 1e-6, error ~1e-11) over the full (Q, R) flow.
* :func:`escape_time` — the first α at which ε_g falls below half the plateau height
  (``ode_theory.md`` §3.3), by linear interpolation between output times.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq, minimize_scalar

from ._validation import (
    InvalidParameterError,
    Real,
    check_positive_int,
    check_real,
    validate_params,
)
from .generalization import generalization_error, resolve_activations
from .order_parameters import OrderParameters
from .rhs import _coefficients, _derivatives
from .trajectory import Trajectory

__all__ = [
    "symmetric_plateau",
    "plateau_height",
    "critical_learning_rate",
    "optimal_learning_rate",
    "escape_time",
]


def _symmetric_state(z: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    q, c, r = z
    Q = (q - c) * np.eye(K) + c * np.ones((K, K))
    R = r * np.ones((K, K))
    return Q, R


def _flow(Q, R, K, eta, sigma2, batch, student, teacher):
    """Full (dQ, dR) of the soft committee machine with T = 𝟙 for a batch of states."""
    one = np.ones(Q.shape[:-2])
    coef = _coefficients(eta * one, eta * one, sigma2 * one, 0.0 * one, batch * one, False)
    return _derivatives(
        Q, R, np.broadcast_to(np.eye(K), Q.shape), np.ones(Q.shape[:-1]),
        np.ones(Q.shape[:-1]), coef, student, teacher,
    )


@validate_params({"tol": [Real(0.0, 1e-2, closed="right")]})
def symmetric_plateau(
    K: int,
    *,
    eta: float,
    noise: float = 0.0,
    batch_size: int = 1,
    activation: str | tuple = "erf",
    tol: float = 1e-12,
) -> tuple[OrderParameters, float]:
    """The symmetric (unspecialised) plateau fixed point of the full ODE at finite η.

    Soft committee machine with K = M, T = 𝟙, v = v* = 1, no weight decay (module docstring;
    ``ode_theory.md`` §3.3).

    Parameters
    ----------
    K : int
        Number of student (= teacher) units, >= 2.
    eta : float
        Learning rate > 0.
    noise : float
        Output-noise standard deviation σ >= 0.
    batch_size : int
        Mini-batch size B >= 1.
    activation : str or (str, str)
        Activation(s), default ``"erf"``.
    tol : float
        Newton's method stops when its step is below ``tol`` in every coordinate.

    Returns
    -------
    (OrderParameters, float)
        The fixed point and its generalisation error ε_g (noiseless).

    Raises
    ------
    ValueError
        For bad input, or if no attracting symmetric fixed point is found (η too large).

    Examples
    --------
    >>> op, eg = symmetric_plateau(2, eta=1e-3)
    >>> round(eg, 4)        # → (K/π)(π/6 − K asin(1/(2K))) = 0.0116 as η → 0
    0.0116
    """
    func = "symmetric_plateau"
    K = check_positive_int(K, "K", func, minimum=2)
    eta = check_real(eta, "eta", func, low=0.0, low_inclusive=False)
    sigma = check_real(noise, "noise", func, low=0.0)
    sigma2 = sigma * sigma  # inf for huge noise (then no plateau is found), never OverflowError
    B = check_positive_int(batch_size, "batch_size", func)
    student, teacher = resolve_activations(activation, func)

    def f(_t: float, z: np.ndarray) -> np.ndarray:
        """The flow in the ansatz, divided by η (time τ = ηα): O(1) for every η."""
        Q, R = _symmetric_state(z, K)
        with np.errstate(all="ignore"):
            dQ, dR, _ = _flow(Q[None], R[None], K, eta, sigma2, B, student, teacher)
        return np.array([dQ[0, 0, 0], dQ[0, 0, 1], dR[0, 0, 0]]) / eta

    def jac(z: np.ndarray) -> np.ndarray:
        h = 1e-7
        return np.column_stack([(f(0, z + h * e) - f(0, z - h * e)) / (2 * h) for e in np.eye(3)])

    def newton(z: np.ndarray) -> np.ndarray | None:
        for _ in range(30):
            try:
                step = np.linalg.solve(jac(z), f(0.0, z))
            except np.linalg.LinAlgError:
                return None
            z = z - step
            if not np.all(np.isfinite(z)):
                return None
            if np.max(np.abs(step)) < tol:
                return z if np.max(np.abs(f(0.0, z))) < 1e-10 else None
        return None

    # Flow from an unspecialised start with q ≠ c (Q = I/2, no teacher overlap) towards the
    # plateau; once near a fixed point, polish it with Newton's method and accept it if it
    # attracts within the symmetric subspace (the identical-students point q = c does not).
    z = np.array([0.5, 0.0, 0.0])
    found = None
    for _ in range(200):
        sol = solve_ivp(f, (0.0, 20.0), z, method="DOP853", rtol=1e-8, atol=1e-11)
        z = sol.y[:, -1]
        if not np.all(np.isfinite(z)) or z[0] > 1e4:
            break
        if np.max(np.abs(f(0.0, z))) < 1e-2:
            cand = newton(z)
            if cand is not None and np.max(np.linalg.eigvals(jac(cand)).real) < 0:
                found = cand
                break
    if found is None:
        raise ValueError(
            f"No attracting symmetric plateau was found for K = {K}, eta = {eta:g}: the flow in "
            "the symmetric subspace does not settle (eta is probably beyond the stable range)."
        )
    z = found
    Q, R = _symmetric_state(z, K)
    op = OrderParameters(Q=Q, R=R, T=np.eye(K))
    return op, float(generalization_error(op, (student.name, teacher.name)))


def plateau_height(
    K: int,
    *,
    eta: float,
    noise: float = 0.0,
    batch_size: int = 1,
    activation: str | tuple = "erf",
) -> float:
    """ε_g at the symmetric plateau (:func:`symmetric_plateau`; ``ode_theory.md`` §3.3)."""
    return symmetric_plateau(
        K, eta=eta, noise=noise, batch_size=batch_size, activation=activation
    )[1]


def _perfect_jacobians(
    K: int, batch_size: int, activation: str | tuple, func: str
) -> tuple[np.ndarray, np.ndarray]:
    """A and B₂ with Jacobian(η) = η A + (η²/B) B₂ at Q = R = T = 𝟙 (σ = 0, κ = 0)."""
    student, teacher = resolve_activations(activation, func)
    iu = np.triu_indices(K)
    nq = iu[0].size
    n = nq + K * K
    h = 1e-6
    x0 = np.concatenate([np.eye(K)[iu], np.eye(K).ravel()])
    X = np.concatenate([x0 + h * np.eye(n), x0 - h * np.eye(n)])  # (2n, n)
    Q = np.zeros((2 * n, K, K))
    Q[:, iu[0], iu[1]] = X[:, :nq]
    Q[:, iu[1], iu[0]] = X[:, :nq]
    R = X[:, nq:].reshape(-1, K, K)

    def F(eta: float) -> np.ndarray:
        dQ, dR, _ = _flow(Q, R, K, eta, 0.0, 1.0, student, teacher)
        Y = np.concatenate([dQ[:, iu[0], iu[1]], dR.reshape(2 * n, -1)], axis=1)
        return ((Y[:n] - Y[n:]) / (2 * h)).T  # column j = d f / d x_j

    J1, J2 = F(1.0), F(2.0)  # J(η) = η A + η² B₂  (B = 1 here)
    B2 = (J2 - 2.0 * J1) / 2.0
    A = J1 - B2
    return A, B2 / batch_size


def critical_learning_rate(
    K: int, *, batch_size: int = 1, activation: str | tuple = "erf"
) -> float:
    """Largest η at which the perfect solution Q = R = T = 𝟙 (K = M) is linearly stable.

    From the Jacobian of the full (Q, R) flow of the soft committee machine with σ = 0, κ = 0
    (module docstring; ``ode_theory.md`` §3.4). Saad & Solla's η_max = √3π/(K − 1 + 3/√5) is
    only an approximation of this value.

    Parameters
    ----------
    K : int
        Number of units (K = M >= 1).
    batch_size : int
        Mini-batch size B (the threshold scales like B).
    activation : str or (str, str)
        Activation(s), default ``"erf"``.

    Examples
    --------
    >>> eta_c = critical_learning_rate(2)
    >>> 2.0 < eta_c < 6.0
    True
    """
    func = "critical_learning_rate"
    K = check_positive_int(K, "K", func)
    B = check_positive_int(batch_size, "batch_size", func)
    A, B2 = _perfect_jacobians(K, B, activation, func)

    def s(eta: float) -> float:
        return float(np.max(np.linalg.eigvals(A + eta * B2).real))

    if s(1e-12) >= 0:
        raise ValueError(
            f"The perfect solution is not stable even as eta → 0 for K = {K} ({activation!r})."
        )
    hi = 0.1
    while s(hi) < 0:
        hi *= 1.5
        if hi > 1e6:
            return float("inf")
    lo = hi / 1.5 if hi > 0.1 else 1e-12
    return float(brentq(s, lo, hi, xtol=1e-13, rtol=1e-13))


def optimal_learning_rate(
    K: int, *, batch_size: int = 1, activation: str | tuple = "erf"
) -> tuple[float, float]:
    """The η at which the slowest mode near the perfect solution decays fastest.

    Returns ``(eta_opt, lambda_slowest)`` where λ_slowest < 0 is the largest real part of the
    Jacobian's eigenvalues at η_opt (``ode_theory.md`` §3.4): the distance of (Q, R) to the
    perfect solution decays like exp(λ_slowest α). (ε_g need not decay at 2 λ_slowest: for
    K = M = 2 the slowest, doubly degenerate modes enter ε_g only quadratically, and a third
    mode, which enters it linearly, decays at a rate close to 2 λ_slowest; measured in the tests.)
    """
    func = "optimal_learning_rate"
    check_positive_int(K, "K", func)
    check_positive_int(batch_size, "batch_size", func)
    eta_c = critical_learning_rate(K, batch_size=batch_size, activation=activation)
    A, B2 = _perfect_jacobians(K, batch_size, activation, func)

    def slowest(eta: float) -> float:
        return float(np.max(np.linalg.eigvals(eta * (A + eta * B2)).real))

    res = minimize_scalar(slowest, bounds=(1e-6, eta_c), method="bounded",
                          options={"xatol": 1e-10})
    return float(res.x), float(res.fun)


def escape_time(
    trajectory: Trajectory, *, plateau: Any = None, fraction: float = 0.5
) -> np.ndarray | float:
    """First α at which ε_g falls below ``fraction`` x the plateau height (default ½).

    The definition of ``ode_theory.md`` §3.3. The crossing is located by linear interpolation
    between the two output times around it, so sample α finely enough near the escape. Members
    that never cross from above to below the threshold get NaN.

    Parameters
    ----------
    trajectory : Trajectory
        Output of :func:`statmech.integrate` (possibly batched).
    plateau : float or array, optional
        Plateau height(s), broadcasting against the batch. Default: :func:`plateau_height` for
        each member's η, σ and B, which needs K = M, T = 𝟙, v = v* = 1.
    fraction : float
        Threshold as a fraction of the plateau, in (0, 1].
    """
    func = "escape_time"
    if not isinstance(trajectory, Trajectory):
        raise InvalidParameterError(
            f"The 'trajectory' parameter of {func} must be a Trajectory. "
            f"Got {type(trajectory).__name__}."
        )
    frac = check_real(fraction, "fraction", func, low=0.0, high=1.0, low_inclusive=False)
    batch = trajectory.batch_shape
    if plateau is None:
        K, M = trajectory.K, trajectory.M
        sym = (
            K == M
            and np.allclose(trajectory.T, np.eye(K))
            and np.allclose(trajectory.v_star, 1.0)
            and np.allclose(trajectory.v[..., 0, :], 1.0)
            and not trajectory.params.get("train_second_layer", False)
        )
        if not sym or K < 2:
            raise InvalidParameterError(
                f"The 'plateau' parameter of {func} is required unless the trajectory is a soft "
                "committee machine with K = M >= 2 and T = I (the symmetric plateau is defined "
                "only there)."
            )
        pr = trajectory.params
        eta = np.broadcast_to(pr["eta"], batch)
        sig = np.broadcast_to(pr["noise"], batch)
        bs = np.broadcast_to(pr["batch_size"], batch)
        cache: dict[tuple, float] = {}
        plat = np.empty(batch)
        for idx in np.ndindex(*batch):
            key = (float(eta[idx]), float(sig[idx]), int(bs[idx]))
            if key not in cache:
                cache[key] = plateau_height(
                    K, eta=key[0], noise=key[1], batch_size=key[2],
                    activation=trajectory.activation,
                )
            plat[idx] = cache[key]
    else:
        plat = np.broadcast_to(
            check_real(plateau, "plateau", func, low=0.0, low_inclusive=False, allow_array=True),
            batch,
        )
    thr = frac * np.asarray(plat)
    eg = trajectory.eg
    a = trajectory.alpha
    out = np.full(batch, np.nan)
    for idx in np.ndindex(*batch):
        e = eg[idx]
        t = thr[idx]
        above = np.flatnonzero(e >= t)
        if above.size == 0:
            continue
        below = np.flatnonzero((e < t) & (np.arange(e.size) > above[0]))
        if below.size == 0:
            continue
        j = below[0]
        e0, e1 = e[j - 1], e[j]
        out[idx] = a[j - 1] + (e0 - t) / (e0 - e1) * (a[j] - a[j - 1])
    return float(out) if out.ndim == 0 else out
