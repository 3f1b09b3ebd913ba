"""Fixed points and time scales of the order-parameter ODEs (K = M, T = 𝟙, v = v* = 1).

* :func:`symmetric_plateau` — the unspecialised fixed point that online SGD lingers at
  (``docs/ode_theory.md`` §3.3). In the ansatz Q_ii = q, Q_ik = c (i ≠ k), R_in = r for all i, n,
  the symmetric subspace is invariant under the flow. We integrate the flow restricted to it from an
  unspecialised start with q ≠ c, then polish the fixed point with a root finder; q = c is *not*
  imposed (the identical-students manifold q = c is invariant too and carries a different fixed
  point at finite η, which is not the plateau). The result is checked to attract within the
  symmetric subspace; it is a saddle of the full flow (the specialisation direction escapes).
  As η → 0 it tends to q = c = 1/(2K−1), r = 1/√(K(2K−1)) with
  ε* = (K/π)(π/6 − K·arcsin(1/(2K))) (Saad & Solla 1995). For erf units the restricted flow is
  evaluated in closed form on the three variables (:func:`_symmetric_flow_erf`, derived from
  the full right-hand side by the permutation symmetry of the ansatz).
* :func:`critical_learning_rate` — the largest η at which the perfect solution Q = R = T = 𝟙 is
  linearly stable (``docs/ode_theory.md`` §3.4). At a fixed point of the noiseless flow the
  right-hand side is η F₁ + (η²/B) F₂, so its Jacobian is η (A + (η/B) B₂); the threshold is the
  smallest η > 0 at which the largest real part of an eigenvalue of A + (η/B) B₂ reaches zero. A
  and B₂ are computed by central differences (step 1e-6, error ~1e-11) over the full (Q, R) flow.
* :func:`escape_time` — the first α at which ε_g falls below half the plateau height
  (``docs/ode_theory.md`` §3.3), by linear interpolation between output times.
  :func:`_escape_trajectory` (the ``fixed_points`` sweep computation) is
  :func:`statmech.integrate` up to the point where the escape time is determined and a stiff
  solver after it.
"""

from __future__ import annotations

from math import asin, sqrt
from typing import Any

import numpy as np
from scipy.integrate import DOP853
from scipy.optimize import brentq, minimize_scalar

from .._validation import (
    InvalidParameterError,
    Real,
    check_positive_int,
    check_real,
    validate_params,
)
from .generalization import generalization_error, resolve_activations
from .model import SGDModel, resolve_model
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


_2_PI = 2.0 / np.pi
_4_PI2 = 4.0 / np.pi**2

#: The plateau search (:func:`symmetric_plateau`) follows the flow in the symmetric subspace, in
#: time τ = ηα, up to ``_PLATEAU_CHECKS`` checkpoints ``_PLATEAU_EVERY`` apart (τ <= 4000).
_PLATEAU_EVERY = 20.0
_PLATEAU_CHECKS = 200


def _symmetric_state(z: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """(Q, R) of the ansatz Q_ii = q, Q_ik = c, R_in = r from z = (q, c, r), shape (..., 3)."""
    z = np.asarray(z, dtype=float)
    q, c, r = z[..., 0, None, None], z[..., 1, None, None], z[..., 2, None, None]
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


def _clip1(x: float) -> float:
    """Clip to [-1, 1] (round-off at singular covariances); NaN passes through."""
    return x if -1.0 <= x <= 1.0 else (1.0 if x > 1.0 else (-1.0 if x < -1.0 else x))


def _i3(da: float, Cbc: float, Cab: float, Cac: float, dc: float) -> float:
    """Erf I3(a, b, c) = (2/π)(C_bc d_a − C_ab C_ac) / (d_a √(d_a d_c − C_ac²)), d = 1 + C_xx."""
    return _2_PI * (Cbc * da - Cab * Cac) / (da * sqrt(da * dc - Cac * Cac))


def _i4_classes(d: float, Cab: float, classes: list, Cm: list) -> float:
    """Σ_{c,e} u_c u_e I4(a, b, c, e) (erf) for a pair (a, b) with 1 + C_aa = 1 + C_bb = d, when
    the fields c fall into classes of equivalent fields.

    ``classes[A] = (n, u, X, Y, dc)``: class A holds n fields of sign u with covariances
    X = C_ac, Y = C_bc to the pair and 1 + C_cc = dc; ``Cm[A][B]`` (symmetric) is the
    covariance of two *distinct* fields of classes A and B. The summand is that of
    :func:`statmech.theory.ode_integrals._erf_contracted`: Λ4 = d² − C_ab², A1 = d X − C_ab Y,
    A2 = d Y − C_ab X, Λ1(c) = Λ4 d_c − A1_c X_c − A2_c Y_c, Λ0(c, e) = Λ4 C_ce − A1_c X_e
    − A2_c Y_e (symmetric in c, e) and I4 = (4/π²) Λ4^(-1/2) asin(Λ0 / √(Λ1(c) Λ1(e))). A field
    with itself has C_cc = d_c − 1, i.e. Λ0 = Λ1 − Λ4; a class holds n(n − 1) ordered pairs of
    distinct fields, two classes n_A n_B pairs each way.
    """
    L4 = d * d - Cab * Cab
    a1, a2, l1, r1 = [], [], [], []
    for _n, _u, X, Y, dc in classes:
        A1 = d * X - Cab * Y
        A2 = d * Y - Cab * X
        L1 = L4 * dc - A1 * X - A2 * Y
        a1.append(A1)
        a2.append(A2)
        l1.append(L1)
        r1.append(1.0 / sqrt(L1))
    total = 0.0
    for A, (nA, uA, XA, YA, _) in enumerate(classes):
        rA = r1[A]
        total += nA * asin(_clip1((l1[A] - L4) * rA * rA))
        if nA > 1:
            arg = (L4 * Cm[A][A] - a1[A] * XA - a2[A] * YA) * rA * rA
            total += nA * (nA - 1.0) * asin(_clip1(arg))
        for B in range(A + 1, len(classes)):
            nB, uB, XB, YB, _ = classes[B]
            arg = (L4 * Cm[A][B] - a1[A] * XB - a2[A] * YB) * rA * r1[B]
            total += 2.0 * uA * uB * nA * nB * asin(_clip1(arg))
    return _4_PI2 / sqrt(L4) * total


def _symmetric_flow_erf(q: float, c: float, r: float, K: int, eta: float, sigma2: float,
                        batch: int) -> tuple[float, float, float]:
    """The full ODE flow restricted to the symmetric subspace, divided by η: (dq, dc, dr)/dτ.

    Erf soft committee machine, K = M, T = 𝟙, v = v* = 1, no weight decay, at the state
    Q_ii = q, Q_ik = c (i ≠ k), R_in = r. By the permutation symmetry of the ansatz every index
    sum of the right-hand side (``statmech.theory.rhs``; u = −1 on students, +1 on teachers) runs
    over a few classes of equivalent fields (1 + C_cc = d = 1 + q for students, 2 for teachers):

    * dr/dτ = Σ_c u_c I3(i, n, c) = I3(i, n, n) + (K−1) I3(i, n, m≠n) − I3(i, n, i)
      − (K−1) I3(i, n, j≠i);
    * with S(a, b) = Σ_c u_c I3(a, b, c): S(i, i) = K I3(i, i, n) − I3(i, i, i)
      − (K−1) I3(i, i, j≠i) and S(i, k) = K I3(i, k, n) − I3(i, k, i) − I3(i, k, k)
      − (K−2) I3(i, k, j∉{i,k});
    * dq/dτ = 2 S(i, i) + (η/B)[Σ_cd u_c u_d I4(i, i, c, d) + σ² J2(i, i)] and dc/dτ the same
      for the pair (i, k), J2(a, b) = (2/π)/√(d² − C_ab²); the I4 sums run over the classes
      {i}, {j ≠ i}, teachers (pair (i, i)) and {i}, {k}, {j ∉ {i, k}}, teachers (pair (i, k))
      (:func:`_i4_classes`).

    Plain floats: one evaluation costs about 10 µs whatever K (the full K x K right-hand side
    about 150 µs). Checked against the full right-hand side in the tests.
    """
    d = 1.0 + q
    dr = (_i3(d, 1.0, r, r, 2.0) + (K - 1) * _i3(d, 0.0, r, r, 2.0) - _i3(d, r, r, q, d)
          - (K - 1) * _i3(d, r, r, c, d))
    s_ii = K * _i3(d, r, q, r, 2.0) - _i3(d, q, q, q, d) - (K - 1) * _i3(d, c, q, c, d)
    s_ik = K * _i3(d, r, c, r, 2.0) - _i3(d, c, c, q, d) - _i3(d, q, c, c, d)
    if K > 2:
        s_ik -= (K - 2) * _i3(d, c, c, c, d)
    k = float(K)
    i4_ii = _i4_classes(d, q, [(1.0, -1.0, q, q, d), (k - 1.0, -1.0, c, c, d),
                               (k, 1.0, r, r, 2.0)],
                        [[c, c, r], [c, c, r], [r, r, 0.0]])
    if K > 2:
        i4_ik = _i4_classes(d, c, [(1.0, -1.0, q, c, d), (1.0, -1.0, c, q, d),
                                   (k - 2.0, -1.0, c, c, d), (k, 1.0, r, r, 2.0)],
                            [[c, c, c, r], [c, c, c, r], [c, c, c, r], [r, r, r, 0.0]])
    else:
        i4_ik = _i4_classes(d, c, [(1.0, -1.0, q, c, d), (1.0, -1.0, c, q, d),
                                   (k, 1.0, r, r, 2.0)],
                            [[c, c, r], [c, c, r], [r, r, 0.0]])
    if sigma2 > 0:
        i4_ii += sigma2 * _2_PI / sqrt(d * d - q * q)
        i4_ik += sigma2 * _2_PI / sqrt(d * d - c * c)
    k2 = eta / batch
    return 2.0 * s_ii + k2 * i4_ii, 2.0 * s_ik + k2 * i4_ik, dr


def _symmetric_flow(K: int, eta: float, sigma2: float, batch: int, student, teacher):
    """The flow in the symmetric subspace divided by η, z (..., 3) -> (..., 3): the dedicated
    erf form (:func:`_symmetric_flow_erf`; NaN where it is undefined, e.g. a covariance that
    is not positive definite), else three entries of the full right-hand side."""
    if (student.name, teacher.name) == ("erf", "erf"):

        def one(z: np.ndarray) -> tuple[float, float, float]:
            q, c, r = (float(x) for x in z)
            try:
                with np.errstate(all="ignore"):  # numpy-scalar arithmetic (σ² = inf)
                    return _symmetric_flow_erf(q, c, r, K, eta, sigma2, batch)
            except (ValueError, ZeroDivisionError, OverflowError):
                return (np.nan, np.nan, np.nan)

        def f(z: np.ndarray) -> np.ndarray:
            z = np.asarray(z, dtype=float)
            if z.ndim == 1:
                return np.array(one(z))
            return np.array([one(x) for x in z.reshape(-1, 3)]).reshape(z.shape)

        return f

    def f_full(z: np.ndarray) -> np.ndarray:
        Q, R = _symmetric_state(z, K)
        with np.errstate(all="ignore"):
            dQ, dR, _ = _flow(Q, R, K, eta, sigma2, batch, student, teacher)
        return np.stack([dQ[..., 0, 0], dQ[..., 0, 1], dR[..., 0, 0]], -1) / eta

    return f_full


@validate_params({"tol": [Real(0.0, 1e-2, closed="right")]})
def symmetric_plateau(
    K: int,
    *,
    model: SGDModel | None = None,
    tol: float = 1e-12,
    **model_options: Any,
) -> tuple[OrderParameters, float]:
    """The symmetric (unspecialised) plateau fixed point of the full ODE at finite η.

    Soft committee machine with K = M, T = 𝟙, v = v* = 1, no weight decay (module docstring;
    ``docs/ode_theory.md`` §3.3).

    The flow restricted to the symmetric subspace (erf: the dedicated three-variable form
    :func:`_symmetric_flow_erf`; other activations: the full right-hand side), in time τ = ηα,
    is integrated by one DOP853 run (rtol 1e-8, atol 1e-11) from q = 1/2, c = r = 0 and
    inspected at the checkpoints τ = 20, 40, ..., 4000. At the first checkpoint where the flow
    is below 1e-2 (max norm) and Newton's method, started there, converges to a fixed point whose
    Jacobian within the subspace has eigenvalues with negative real parts only, that fixed point
    is returned. If none has by τ = 4000, or the state stops being finite or q exceeds 1e4, there
    is no attracting symmetric plateau (η beyond the stable range) and ValueError is raised.

    Parameters
    ----------
    K : int
        Number of student (= teacher) units, >= 2.
    model : SGDModel, optional
        The training settings, or its fields as keywords (``eta=0.5, noise=0.1``): η > 0,
        σ >= 0, B >= 1 and the activation(s) (default ``"erf"``); scalars only. The plateau
        is that of the soft committee machine: v is not trained and κ = 0.
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
    m = _plateau_model(func, model, model_options)
    eta, sigma, B = float(m.eta), float(m.noise), int(m.batch_size)
    sigma2 = sigma * sigma  # inf for huge noise (then no plateau is found), never OverflowError
    student, teacher = resolve_activations(m.activation, func)
    flow = _symmetric_flow(K, eta, sigma2, B, student, teacher)
    h = 1e-7
    shifts = np.concatenate([h * np.eye(3), -h * np.eye(3)])

    def jac(z: np.ndarray) -> np.ndarray:
        F = flow(z + shifts)  # one batched evaluation of the six central differences
        return ((F[:3] - F[3:]) / (2 * h)).T  # column j = d flow / d z_j

    def newton(z: np.ndarray) -> np.ndarray | None:
        for _ in range(30):
            try:
                step = np.linalg.solve(jac(z), flow(z))
            except np.linalg.LinAlgError:
                return None
            z = z - step
            if not np.all(np.isfinite(z)):
                return None
            if np.max(np.abs(step)) < tol:
                return z if np.max(np.abs(flow(z))) < 1e-10 else None
        return None

    def attracting(z: np.ndarray) -> np.ndarray | None:
        """The attracting fixed point polished from checkpoint state z, or None."""
        if np.max(np.abs(flow(z))) >= 1e-2:
            return None
        cand = newton(z)
        if cand is not None and np.max(np.linalg.eigvals(jac(cand)).real) < 0:
            return cand
        return None

    # Flow from an unspecialised start with q ≠ c (Q = I/2, no teacher overlap) towards the
    # plateau; once near a fixed point, polish it with Newton's method and accept it if it
    # attracts within the symmetric subspace (the identical-students point q = c does not).
    checkpoints = _PLATEAU_EVERY * np.arange(1, _PLATEAU_CHECKS + 1)
    found = None
    z = np.array([0.5, 0.0, 0.0])
    if np.all(np.isfinite(flow(z))):
        solver = DOP853(lambda _t, y: flow(y), 0.0, z, float(checkpoints[-1]),
                        rtol=1e-8, atol=1e-11)
        done = 0
        with np.errstate(all="ignore"):
            while found is None and done < checkpoints.size:
                solver.step()
                if solver.status == "failed":  # the last state counts as the next checkpoint
                    z = solver.y
                    if np.all(np.isfinite(z)) and z[0] <= 1e4:
                        found = attracting(z)
                    break
                upto = int(np.searchsorted(checkpoints, solver.t, side="right"))
                if upto == done:
                    continue
                states = solver.dense_output()(checkpoints[done:upto]).T
                for z in states:
                    done += 1
                    if not np.all(np.isfinite(z)) or z[0] > 1e4:
                        done = checkpoints.size  # diverging: stop
                        break
                    found = attracting(z)
                    if found is not None:
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


def plateau_height(K: int, *, model: SGDModel | None = None, **model_options: Any) -> float:
    """ε_g at the symmetric plateau (:func:`symmetric_plateau`; ``docs/ode_theory.md`` §3.3).

    ``model`` or its fields as keywords, as for :func:`symmetric_plateau`."""
    return symmetric_plateau(K, model=model, **model_options)[1]


def _plateau_model(func: str, model: Any, options: dict[str, Any]) -> SGDModel:
    """The scalar model of a symmetric-plateau computation (soft committee machine: v fixed,
    no weight decay)."""
    m = resolve_model(func, model, options, scalar=True)
    if m.train_second_layer:
        raise InvalidParameterError.build(
            func, "train_second_layer", "False (the plateau of the soft committee machine)",
            m.train_second_layer)
    if m.weight_decay != 0.0:
        raise InvalidParameterError.build(
            func, "weight_decay", "0.0 (the plateau without weight decay)", m.weight_decay)
    return m


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


def _perfect_settings(func: str, model: Any, batch_size: Any, activation: Any) -> tuple:
    """(batch_size, activation) for the perfect-solution analysis: the keywords, or those of
    ``model`` (which must then leave the keywords at their defaults and have σ = κ = 0 and v
    fixed)."""
    if model is None:
        return batch_size, activation
    m = resolve_model(func, model, scalar=True)
    if batch_size != 1 or activation != "erf":
        raise InvalidParameterError(
            f"{func}: give batch_size and activation either as keywords or through 'model', "
            "not both.", func=func, param="model", allowed="model or keywords", value="both")
    for name, off in (("noise", 0.0), ("weight_decay", 0.0), ("train_second_layer", False)):
        if getattr(m, name) != off:
            raise InvalidParameterError.build(
                func, "model", f"a model with {name} = {off} (the perfect solution is a fixed "
                "point only then)", m)
    return int(m.batch_size), m.activation


def critical_learning_rate(
    K: int, *, batch_size: int = 1, activation: str | tuple = "erf",
    model: SGDModel | None = None,
) -> float:
    """Largest η at which the perfect solution Q = R = T = 𝟙 (K = M) is linearly stable.

    From the Jacobian of the full (Q, R) flow of the soft committee machine with σ = 0, κ = 0
    (module docstring; ``docs/ode_theory.md`` §3.4). Saad & Solla's
    η_max = √3π/(K − 1 + 3/√5) is only an approximation of this value.

    Parameters
    ----------
    K : int
        Number of units (K = M >= 1).
    batch_size : int
        Mini-batch size B (the threshold scales like B).
    activation : str or (str, str)
        Activation(s), default ``"erf"``.
    model : SGDModel, optional
        Take ``batch_size`` and ``activation`` from this model instead (its η is what is being
        computed and is ignored; σ, κ and trained v must be off: the perfect solution is a
        fixed point only without noise and decay).

    Examples
    --------
    >>> eta_c = critical_learning_rate(2)
    >>> 2.0 < eta_c < 6.0
    True
    """
    func = "critical_learning_rate"
    K = check_positive_int(K, "K", func)
    batch_size, activation = _perfect_settings(func, model, batch_size, activation)
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
    K: int, *, batch_size: int = 1, activation: str | tuple = "erf",
    model: SGDModel | None = None,
) -> tuple[float, float]:
    """The η at which the slowest mode near the perfect solution decays fastest.

    Returns ``(eta_opt, lambda_slowest)`` where λ_slowest < 0 is the largest real part of the
    Jacobian's eigenvalues at η_opt (``docs/ode_theory.md`` §3.4): the distance of (Q, R) to
    the perfect solution decays like exp(λ_slowest α). (ε_g need not decay at 2 λ_slowest: for
    K = M = 2 the slowest, doubly degenerate modes enter ε_g only quadratically, and a third
    mode, which enters it linearly, decays at a rate close to 2 λ_slowest; measured in the tests.)
    ``batch_size``, ``activation`` and ``model`` as for :func:`critical_learning_rate`.
    """
    func = "optimal_learning_rate"
    check_positive_int(K, "K", func)
    batch_size, activation = _perfect_settings(func, model, batch_size, activation)
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

    The definition of ``docs/ode_theory.md`` §3.3. The crossing is located by linear interpolation
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



# Phase 1 of :func:`_escape_trajectory` also ends once the trajectory has settled near a
# linearly stable fixed point: it searches one (Newton) once max |dy/dα| <= _SETTLE_TRIGGER η,
# accepts it within _SETTLE_NEAR (max norm) of the state, and ends phase 1 once the state is
# within _SETTLE_RATIO |s| / max(η, η²) of it (s < 0 the Jacobian's spectral abscissa there);
# after a failed search the next waits until α has grown by _SETTLE_BACKOFF.
_SETTLE_TRIGGER = 1e-4
_SETTLE_NEAR = 1e-3
_SETTLE_RATIO = 1e-2
_SETTLE_BACKOFF = 1.25
#: Phase 2 continues with DOP853 (as phase 1) if BDF fails or needs more right-hand-side
#: evaluations (states) than this.
_BDF_MAX_NFEV = 20000


def _stable_fixed_point(F, y: np.ndarray, eta: float) -> tuple | None:
    """Newton's method for F(x) = 0 from the flat state y (central-difference Jacobian, step
    1e-6, of the batched right-hand side F(t, X) on 2n + 1 states at once).

    Returns (x*, s) with s = max Re eig(J(x*)) when Newton converges (step below 1e-12,
    residual below 1e-9 η) to a point within :data:`_SETTLE_NEAR` of y whose Jacobian has
    s < 0 (linearly stable); None otherwise.
    """
    n = y.size
    h = 1e-6
    E = h * np.eye(n)
    x = y.copy()
    small = False
    for it in range(21):
        X = np.concatenate([x[None], x + E, x - E])
        Fx = np.asarray(F(0.0, X.reshape(-1))).reshape(2 * n + 1, n)
        f0, J = Fx[0], ((Fx[1 : n + 1] - Fx[n + 1 :]) / (2 * h)).T
        if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(J))):
            return None
        if small:
            break
        if it == 20:
            return None
        try:
            step = np.linalg.solve(J, f0)
        except np.linalg.LinAlgError:
            return None
        x = x - step
        small = bool(np.max(np.abs(step)) <= 1e-12)
    if np.max(np.abs(f0)) > 1e-9 * eta or np.max(np.abs(x - y)) > _SETTLE_NEAR:
        return None
    s = float(np.max(np.linalg.eigvals(J).real))
    return (x, s) if s < 0 else None


def _escape_trajectory(
    op0: OrderParameters, *, eta: float, alpha: np.ndarray, threshold: float | None = None,
    activation: str | tuple = "erf", rtol: float = 1e-8, atol: float = 1e-12,
) -> Trajectory:
    """``integrate(op0, eta=eta, alpha=alpha, on_divergence="mask")`` for one member (σ = 0,
    B = 1, κ = 0, fixed second layer), exact up to its escape, with a stiff solver after it.

    **Phase 1** is :func:`statmech.integrate` itself, stepped by hand: the same right-hand side
    (:class:`statmech.theory.rhs.BatchedRHS`, with its divergence bound), DOP853 with the same
    tolerances, so the same steps and outputs. It lasts until the escape time
    (:func:`escape_time` with this ``threshold``, i.e. ``fraction x plateau``) is determined,
    namely until

    * the first output with ε_g < ``threshold`` after one with ε_g >= ``threshold`` (the
      crossing :func:`escape_time` interpolates) has been recorded; or
    * the trajectory has settled near a linearly stable fixed point x* on one side of the
      threshold, so it never crosses it later: after every step once max |dy/dα| <= 1e-4 η,
      Newton's method (:func:`_stable_fixed_point`) seeks x* within 1e-3 (max norm) of the
      state y; if the Jacobian there has spectral abscissa s < 0, phase 1 ends as soon as
      |y − x*| <= min(1e-3, 1e-2 |s| / max(η, η²)) (deep in the linear regime: the quadratic
      terms of the flow, O(max(η, η²) |y − x*|²), are 1e-2 of the linear ones) and ε_g(y) and
      ε_g(x*) lie on the same side of the threshold, farther from it than 10 |ε_g(y) − ε_g(x*)|
      (without a threshold, the first two conditions suffice). A saddle, such as the plateau
      where the flow is slow too, is never accepted.

    **Phase 2** integrates the remaining outputs with BDF (same tolerances, Jacobian by central
    differences, one batched evaluation): the stiff approach to the fixed point, which costs
    DOP853 thousands of stability-limited evaluations, takes BDF about 400-1,200 (measured at
    K = 2..6, plus a few Jacobians). Phase
    2 keeps ``integrate``'s divergence rules (frozen right-hand side, outputs beyond the bound);
    if BDF fails or needs more than :data:`_BDF_MAX_NFEV` evaluations, DOP853 finishes the run.

    So the outputs up to the escape, hence the escape time, are ``integrate``'s exactly; the
    later ones (the ``diverged`` flag and the final ε_g) agree with it to the ODE tolerance.
    A run that diverges stops at once (NaN from the first diverged output on, as
    ``integrate``). Without a threshold and without settling (or when the threshold is
    never crossed and the run does not settle), phase 1 runs to the end: ``integrate`` itself.

    Returns
    -------
    Trajectory
        As :func:`statmech.integrate` would (batch shape ``()``). ``params["alpha_exact"]``
        is the α at which phase 1 ended (the last output, if it never did) and
        ``params["phase_1_end"]`` why: ``"crossing"``, ``"settled"``, ``"diverged"`` or
        ``"end"``; ``nfev`` counts every state at which the right-hand side was evaluated.
    """
    from scipy.integrate import BDF

    from .generalization import eg_from_covariance
    from .rhs import BatchedRHS
    from .solver_limits import DIVERGENCE_FACTOR, check_alpha, check_cost

    func = "integrate"
    alpha_out = check_alpha(alpha, func)
    student, teacher = resolve_activations(activation, func)
    eta = float(eta)
    thr = float("nan") if threshold is None else float(threshold)
    K, M = op0.K, op0.M
    Q0, R0, T = (np.asarray(a, dtype=float)[None] for a in (op0.Q, op0.R, op0.T))
    v = np.broadcast_to(np.asarray(op0.v, dtype=float), (1, K)).copy()
    vs = np.broadcast_to(np.asarray(op0.v_star, dtype=float), (1, M)).copy()
    with np.errstate(over="ignore"):
        bound = DIVERGENCE_FACTOR * np.maximum(
            1.0, np.maximum(np.diagonal(Q0, axis1=-2, axis2=-1).max(-1),
                            np.diagonal(T, axis1=-2, axis2=-1).max(-1)))

    def rhs(nb: int, bnd: float) -> BatchedRHS:
        one = np.ones(nb)
        coef = _coefficients(eta * one, eta * one, 0.0 * one, 0.0 * one, one, False)

        def rep(a: np.ndarray) -> np.ndarray:
            return np.repeat(a, nb, axis=0)

        return BatchedRHS(rep(Q0), rep(R0), rep(T), rep(v), rep(vs), coef, False, student,
                          teacher, np.full(nb, bnd))

    fun = rhs(1, float(bound[0]))
    y0, n, iu, nq = fun.y0, fun.n_state, fun.iu, fun.nq
    n_t, t_end = alpha_out.size, float(alpha_out[-1])
    extra = {"states": 0}
    cache: dict[int, BatchedRHS] = {}

    def batched(t: float, X: np.ndarray) -> np.ndarray:
        """The right-hand side at a stack of flat states (without the divergence bound: for
        the finite differences of the Jacobian)."""
        nb = X.size // n
        if nb not in cache:
            cache[nb] = rhs(nb, np.inf)
        extra["states"] += nb
        return cache[nb](t, X.reshape(-1))

    def jac(t: float, y: np.ndarray) -> np.ndarray:
        h = 1e-6
        E = h * np.eye(n)
        F = batched(t, np.concatenate([y + E, y - E])).reshape(2 * n, n)
        return ((F[:n] - F[n:]) / (2 * h)).T

    def unpack(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = rows.shape[0]
        Q = np.empty((m, K, K))
        Q[:, iu[0], iu[1]] = rows[:, :nq]
        Q[:, iu[1], iu[0]] = rows[:, :nq]
        return Q, rows[:, nq : nq + K * M].reshape(m, K, M)

    def eg_of(rows: np.ndarray) -> np.ndarray:
        """ε_g at flat states, as integrate's outputs compute it (NaN-safe)."""
        Q, R = unpack(rows)
        m = rows.shape[0]
        C = np.concatenate([np.concatenate([Q, R], -1),
                            np.concatenate([np.swapaxes(R, -1, -2), np.repeat(T, m, 0)], -1)],
                           -2)
        u = np.concatenate([-np.repeat(v, m, 0), np.repeat(vs, m, 0)], -1)
        with np.errstate(all="ignore"):
            return eg_from_covariance(np.nan_to_num(C), u, K, student, teacher)

    ys = np.full((n_t, n), np.nan)
    alpha_exact, why = t_end, "end"
    nfev = 0
    if t_end > 0:
        with np.errstate(all="ignore"):
            fun(0.0, y0)  # as integrate: a derivative overflowing at α = 0 freezes the member
        if not np.isfinite(fun.t_frozen[0]):
            check_cost("DOP853", eta, t_end, func)
        solver = DOP853(fun, 0.0, y0, t_end, rtol=rtol, atol=atol)
        phase, done, above, next_check, target, switched = 1, 0, False, 0.0, None, 0
        with np.errstate(all="ignore"):
            while True:
                try:
                    message = solver.step()
                except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                    message, solver.status = f"{type(exc).__name__}: {exc}", "failed"
                if solver.status == "failed":
                    if np.isfinite(fun.t_frozen[0]):
                        break  # diverged (integrate: the frozen member is marked)
                    if phase == 2:  # BDF gave up: DOP853 finishes the run
                        nfev += solver.nfev
                        solver, phase = DOP853(fun, solver.t, solver.y, t_end, rtol=rtol,
                                               atol=atol), 3
                        continue
                    raise RuntimeError(
                        f"The ODE solver (DOP853) failed at α = {solver.t:g}: {message}. "
                        "Try method='LSODA' or looser tolerances.")
                t = solver.t
                upto = int(np.searchsorted(alpha_out, t, side="right"))
                new = None
                if upto > done:
                    new = ys[done:upto] = solver.dense_output()(alpha_out[done:upto]).T
                    done = upto
                    if not (np.all(np.isfinite(new)) and new[:, fun.diag].max() <= bound[0]):
                        break  # diverged at an output
                if solver.status == "finished" or fun.t_frozen[0] <= t:
                    break  # (a rejected trial step may have frozen the member beyond t: the
                    # outputs before t_frozen are still integrate's, so go on until then)
                if phase == 2 and solver.nfev + extra["states"] - switched > _BDF_MAX_NFEV:
                    nfev += solver.nfev
                    solver, phase = DOP853(fun, t, solver.y, t_end, rtol=rtol, atol=atol), 3
                    continue
                if phase != 1:
                    continue
                # phase 1: is the escape time determined?
                if new is not None and np.isfinite(thr):
                    for e in eg_of(new):
                        if e >= thr:
                            above = True
                        elif above and e < thr:
                            why = "crossing"
                            break
                if why != "crossing" and target is None and t >= next_check and (
                        np.max(np.abs(solver.f)) <= _SETTLE_TRIGGER * eta):
                    target = _stable_fixed_point(batched, solver.y, eta)
                    if target is None:
                        next_check = _SETTLE_BACKOFF * t
                if why != "crossing" and target is not None:
                    x_star, s = target
                    dist = np.max(np.abs(solver.y - x_star))
                    if dist <= min(_SETTLE_NEAR, _SETTLE_RATIO * -s / max(eta, eta * eta)):
                        e_y, e_x = eg_of(np.stack([solver.y, x_star]))
                        if not np.isfinite(thr) or (
                                (e_y >= thr) == (e_x >= thr)
                                and abs(e_x - thr) > 10 * abs(e_y - e_x)):
                            why = "settled"
                    elif dist > _SETTLE_NEAR:  # left the neighbourhood: search again later
                        target, next_check = None, _SETTLE_BACKOFF * t
                if why in ("crossing", "settled"):
                    alpha_exact = t
                    nfev += solver.nfev
                    solver = BDF(fun, t, solver.y, t_end, rtol=rtol, atol=atol, jac=jac)
                    phase, switched = 2, extra["states"]
        nfev += solver.nfev + extra["states"]
        if alpha_out[0] == 0.0:
            ys[0] = y0
    else:
        ys[:] = y0
    if why == "end" and done < n_t:
        why, alpha_exact = "diverged", float(solver.t)

    # integrate's output rules (statmech.theory.ode._outputs) for one member
    Q, R = unpack(ys)
    vt = np.repeat(v, n_t, axis=0)
    with np.errstate(all="ignore"):
        bad = ~(np.isfinite(Q).all((-1, -2)) & np.isfinite(R).all((-1, -2)))
        bad |= np.diagonal(Q, axis1=-2, axis2=-1).max(-1) > bound[0]
    if np.isfinite(fun.t_frozen[0]):
        bad[np.searchsorted(alpha_out, max(fun.t_frozen[0], 5e-324), side="left"):] = True
    eg = eg_of(ys)
    bad |= ~np.isfinite(eg)
    diverged = bool(bad.any())
    first = int(np.argmax(bad)) if diverged else n_t
    Q[first:] = R[first:] = vt[first:] = eg[first:] = np.nan
    return Trajectory(
        alpha=alpha_out.copy(), Q=Q, R=R, v=vt, eg=eg, T=np.asarray(op0.T, dtype=float).copy(),
        v_star=vs[0].copy(), activation=(student.name, teacher.name),
        params={"eta": eta, "eta_v": np.nan, "train_second_layer": False, "noise": 0.0,
                "weight_decay": 0.0, "batch_size": 1, "method": "DOP853", "rtol": float(rtol),
                "atol": float(atol), "alpha_exact": float(alpha_exact), "phase_1_end": why},
        status=np.array("diverged" if diverged else "ok"),
        alpha_diverged=np.array(alpha_out[first] if diverged else np.nan), nfev=int(nfev),
    )
