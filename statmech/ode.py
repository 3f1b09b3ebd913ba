"""Order-parameter ODEs of online SGD in two-layer teacher-student networks, and their integration.

The equations (Saad & Solla 1995; Biehl & Schwarze 1995; Goldt et al. 2019; ``ode_theory.md``
§1.2) for the state (Q, R, v) with T and v* fixed, u = (−v, v*) and the integrals of
:mod:`statmech.integrals`::

    dR_in/dα = η v_i Σ_c u_c I3(i, n, c) − κ R_in
    dQ_ik/dα = η v_i Σ_c u_c I3(i, k, c) + η v_k Σ_c u_c I3(k, i, c)
               + (η²/B) v_i v_k [Σ_cd u_c u_d I4(i, k, c, d) + σ² J2(i, k)] − 2κ Q_ik
    dv_i/dα  = η_v Σ_c u_c I2(i, c) − κ v_i            (only when the second layer is trained)

α counts SGD steps in units of N. With mini-batches of B fresh samples (gradient averaged), the
drift is unchanged and the η² bracket — the variance of the per-sample update, output noise
included — is divided by B (the cross terms between distinct samples vanish because
x_s·x_s'/N → 0; ``ode_theory.md`` §1.2, "Mini-batch B"). There is no η_v² term: the second-layer
step is O(1/N).

:func:`integrate` solves the system for a whole batch of members at once with
``scipy.integrate.solve_ivp``; the right-hand side is vectorised over the batch. Each member's
error is controlled as in a solo run: for the explicit Runge-Kutta methods (DOP853, RK45, RK23)
the step is accepted when the largest per-member RMS error norm is below one; for the other
methods, whose error norm is an RMS over all components, the tolerances are divided by
√(batch size).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.integrate import solve_ivp

from ._validation import check_choice, check_real
from .activations import Activation
from .generalization import eg_from_covariance, resolve_activations
from .integrals import ContractedIntegrals, contracted_integrals
from .order_parameters import OrderParameters
from .trajectory import Trajectory

__all__ = ["integrate", "ode_rhs", "METHODS", "DIVERGENCE_FACTOR"]

#: Integrators accepted by :func:`integrate` (``scipy.integrate.solve_ivp`` methods).
METHODS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")
#: A member is declared diverged when max_k Q_kk exceeds
#: DIVERGENCE_FACTOR * max(1, max_k Q_kk(0), max_n T_nn): a student weight vector has grown ten
#: times longer than the largest of the initial student, the teacher and the unit scale. Learning
#: trajectories stay far below (converged students have Q ≈ T); beyond the stable learning rate
#: the norms grow without bound (slowly for erf units, exponentially for linear ones).
DIVERGENCE_FACTOR = 100.0


class _Coefficients(NamedTuple):
    """Model coefficients shaped to broadcast against (nb, K, K) / (nb, K) arrays."""

    eta: np.ndarray  # (nb, 1, 1)
    eta2_over_b: np.ndarray  # (nb, 1, 1): η²/B
    sigma2: np.ndarray | None  # (nb, 1, 1), None when σ = 0 everywhere
    kappa: np.ndarray | None  # (nb, 1, 1), None when κ = 0 everywhere
    eta_v: np.ndarray | None  # (nb, 1), None when the second layer is not trained


def _coefficients(
    eta: np.ndarray, eta_v: np.ndarray, sigma2: np.ndarray, kappa: np.ndarray,
    batch: np.ndarray, train_v: bool,
) -> _Coefficients:
    e = np.asarray(eta, dtype=float)[..., None, None]
    return _Coefficients(
        eta=e,
        eta2_over_b=e * e / np.asarray(batch, dtype=float)[..., None, None],
        sigma2=np.asarray(sigma2, float)[..., None, None] if np.any(sigma2 > 0) else None,
        kappa=np.asarray(kappa, float)[..., None, None] if np.any(kappa > 0) else None,
        eta_v=np.asarray(eta_v, float)[..., None] if train_v else None,
    )


def _flow(
    ints: ContractedIntegrals, Q: np.ndarray, R: np.ndarray, v: np.ndarray, c: _Coefficients
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Assemble (dQ, dR, dv)/dα from the integral contractions (module docstring equations)."""
    K = Q.shape[-1]
    vcol = v[..., :, None]
    dR = c.eta * vcol * ints.I3u[..., :, K:]
    A = vcol * ints.I3u[..., :, :K]
    noise = ints.I4uu if c.sigma2 is None else ints.I4uu + c.sigma2 * ints.J2
    dQ = c.eta * (A + np.swapaxes(A, -1, -2)) + c.eta2_over_b * (vcol * v[..., None, :]) * noise
    dv = None if c.eta_v is None else c.eta_v * ints.I2u
    if c.kappa is not None:
        dR = dR - c.kappa * R
        dQ = dQ - 2.0 * c.kappa * Q
        if dv is not None:
            dv = dv - c.kappa[..., 0] * v
    return dQ, dR, dv


def _derivatives(
    Q: np.ndarray,
    R: np.ndarray,
    T: np.ndarray,
    v: np.ndarray,
    v_star: np.ndarray,
    coef: _Coefficients,
    student: Activation,
    teacher: Activation,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dQ, dR, dv)/dα for arrays with one common leading batch shape."""
    K = Q.shape[-1]
    top = np.concatenate([Q, R], axis=-1)
    bottom = np.concatenate([np.swapaxes(R, -1, -2), T], axis=-1)
    C = np.concatenate([top, bottom], axis=-2)
    u = np.concatenate([-v, v_star], axis=-1)
    ints = contracted_integrals(C, u, K, student, teacher, need_j2=coef.sigma2 is not None)
    dQ, dR, dv = _flow(ints, Q, R, v, coef)
    return dQ, dR, np.zeros_like(v) if dv is None else dv


class BatchedRHS:
    """The ODE right-hand side on a flat state vector, for ``solve_ivp`` (or any stepper).

    The state of member m is [Q upper triangle, R (row-major), v (if trained)]; members are
    stacked. The covariance C and the signed weights u live in preallocated buffers so that one
    evaluation costs few NumPy calls. Members that are non-finite or beyond ``bound`` (diverged)
    get a zero derivative: they freeze while the others continue undisturbed.
    """

    def __init__(self, Q, R, T, v, v_star, coef: _Coefficients, train_v: bool,
                 student: Activation, teacher: Activation, bound: np.ndarray) -> None:
        nb, K, M = R.shape
        self.nb, self.K, self.M, self.train_v = nb, K, M, train_v
        self.iu = np.triu_indices(K)
        self.nq, self.nr = self.iu[0].size, K * M
        self.n_state = self.nq + self.nr + (K if train_v else 0)
        self.diag = np.flatnonzero(self.iu[0] == self.iu[1])  # positions of Q_kk in the state
        self.coef, self.student, self.teacher, self.bound = coef, student, teacher, bound
        self.bound_min = float(np.min(bound))
        D = K + M
        self.C = np.zeros((nb, D, D))
        self.C[:, K:, K:] = T
        # one scatter fills C from the state: Q_ik and Q_ki from the upper triangle, R and Rᵀ
        i, k = self.iu
        n_, m_ = np.divmod(np.arange(K * M), M)
        self.c_dst = np.concatenate([i * D + k, k * D + i, n_ * D + K + m_, (K + m_) * D + n_])
        self.c_src = np.concatenate([np.arange(self.nq)] * 2 + [self.nq + np.arange(K * M)] * 2)
        self.q_triu = i * K + k  # upper-triangle positions in a flattened K x K matrix
        self.u = np.concatenate([-v, v_star], axis=-1)
        self.v0 = np.array(v, dtype=float)
        self.y0 = self.pack(Q, R, v)

    def pack(self, Q: np.ndarray, R: np.ndarray, v: np.ndarray | None) -> np.ndarray:
        """Flat state (or derivative) vector from (Q, R, v)."""
        parts = [Q[:, self.iu[0], self.iu[1]], R.reshape(self.nb, self.nr)]
        if self.train_v:
            parts.append(v)
        return np.concatenate(parts, axis=1).reshape(-1)

    def unpack(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Q, R, v) arrays of shape (nb, K, K), (nb, K, M), (nb, K) from a flat state."""
        Y = y.reshape(self.nb, self.n_state)
        K, nq, nr = self.K, self.nq, self.nr
        Q = np.empty((self.nb, K, K))
        Q[:, self.iu[0], self.iu[1]] = Y[:, :nq]
        Q[:, self.iu[1], self.iu[0]] = Y[:, :nq]
        R = Y[:, nq : nq + nr].reshape(self.nb, K, self.M)
        v = Y[:, nq + nr :] if self.train_v else self.v0
        return Q, R, v

    def __call__(self, _t: float, y: np.ndarray) -> np.ndarray:
        # Hot path: call inside ``np.errstate(all="ignore")`` (integrate does) so that frozen,
        # diverged members do not warn. Written with few NumPy calls (their overhead dominates
        # at small K).
        K, nq, nr, nb = self.K, self.nq, self.nr, self.nb
        Y = y.reshape(nb, self.n_state)
        C = self.C
        C.reshape(nb, -1)[:, self.c_dst] = Y[:, self.c_src]
        if self.train_v:
            v = Y[:, nq + nr :]
            self.u[:, :K] = -v
        else:
            v = self.v0
        # a single member is evaluated without its batch axis (fewer broadcast dimensions make
        # every NumPy call cheaper, and calls dominate at small K)
        Cm, um = (C[0], self.u[0]) if nb == 1 else (C, self.u)
        ints = contracted_integrals(Cm, um, K, self.student, self.teacher,
                                    need_j2=self.coef.sigma2 is not None)
        dQ, dR, dv = _flow(ints, Cm[..., :K, :K], Cm[..., :K, K:], v, self.coef)
        out = np.empty_like(Y)
        out[:, :nq] = dQ.reshape(nb, K * K)[:, self.q_triu]
        out[:, nq : nq + nr] = dR.reshape(nb, nr)
        if self.train_v:
            out[:, nq + nr :] = dv
        qmax = Y[:, self.diag]
        if not (qmax.max() <= self.bound_min and np.isfinite(out.sum())):
            # some member is non-finite or beyond its bound (NaN fails every comparison):
            # diverged members stop; the others continue undisturbed
            frozen = ~(qmax.max(1) <= self.bound) | ~np.isfinite(out).all(1)
            out[frozen] = 0.0
        return out.reshape(-1)


def ode_rhs(
    op: OrderParameters,
    *,
    eta: float | np.ndarray,
    eta_v: float | np.ndarray | None = None,
    train_second_layer: bool = False,
    noise: float | np.ndarray = 0.0,
    weight_decay: float | np.ndarray = 0.0,
    batch_size: int | np.ndarray = 1,
    activation: str | tuple = "erf",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-hand side of the order-parameter ODEs: (dQ/dα, dR/dα, dv/dα).

    Implements ``ode_theory.md`` §1.2 (module docstring); the arguments mean the same as in
    :func:`integrate`. dv/dα is zero unless ``train_second_layer``.

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import OrderParameters
    >>> op = OrderParameters(Q=np.eye(2), R=np.eye(2), T=np.eye(2))
    >>> dQ, dR, dv = ode_rhs(op, eta=0.5)       # the perfect student is a fixed point
    >>> float(np.abs(dQ).max()), float(np.abs(dR).max())
    (0.0, 0.0)
    """
    p = _parse_model(
        op, "ode_rhs", eta, eta_v, train_second_layer, noise, weight_decay, batch_size, activation,
        op_name="op",
    )
    coef = _coefficients(p["eta"], p["eta_v"], p["sigma2"], p["kappa"], p["batch"],
                         bool(train_second_layer))
    return _derivatives(
        p["Q"], p["R"], p["T"], p["v"], p["v_star"], coef, p["student"], p["teacher"]
    )


def _parse_model(
    op: Any,
    func: str,
    eta: Any,
    eta_v: Any,
    train_second_layer: Any,
    noise: Any,
    weight_decay: Any,
    batch_size: Any,
    activation: Any,
    op_name: str = "op0",
) -> dict[str, Any]:
    """Validate the model parameters and broadcast everything to one batch shape."""
    if not isinstance(op, OrderParameters):
        raise ValueError(
            f"The {op_name!r} parameter of {func} must be an OrderParameters. "
            f"Got {type(op).__name__}."
        )
    if not isinstance(train_second_layer, bool | np.bool_):
        raise ValueError(
            f"The 'train_second_layer' parameter of {func} must be a bool. "
            f"Got {train_second_layer!r}."
        )
    eta_a = np.asarray(check_real(eta, "eta", func, low=0.0, low_inclusive=False, allow_array=True))
    if eta_v is None:
        eta_v_a = eta_a
    else:
        eta_v_a = np.asarray(check_real(eta_v, "eta_v", func, low=0.0, allow_array=True))
    sigma = np.asarray(check_real(noise, "noise", func, low=0.0, allow_array=True))
    kappa = np.asarray(check_real(weight_decay, "weight_decay", func, low=0.0, allow_array=True))
    B = np.asarray(batch_size)
    if B.dtype == bool or not np.issubdtype(B.dtype, np.integer) or np.any(B < 1):
        raise ValueError(
            f"The 'batch_size' parameter of {func} must be an int >= 1 (or an array of them). "
            f"Got {batch_size!r} instead."
        )
    student, teacher = resolve_activations(activation, func)
    try:
        shape = np.broadcast_shapes(
            op.batch_shape, eta_a.shape, eta_v_a.shape, sigma.shape, kappa.shape, B.shape
        )
    except ValueError:
        raise ValueError(
            f"The batch shapes of {func}'s arguments do not broadcast: op0 {op.batch_shape}, "
            f"eta {eta_a.shape}, eta_v {eta_v_a.shape}, noise {sigma.shape}, "
            f"weight_decay {kappa.shape}, batch_size {B.shape}."
        ) from None
    K, M = op.K, op.M

    def bc(a: np.ndarray, tail: tuple[int, ...] = ()) -> np.ndarray:
        return np.broadcast_to(a, shape + tail).astype(float)

    return {
        "shape": shape,
        "Q": bc(op.Q, (K, K)),
        "R": bc(op.R, (K, M)),
        "T": bc(op.T, (M, M)),
        "v": bc(op.v, (K,)),
        "v_star": bc(op.v_star, (M,)),
        "eta": bc(eta_a),
        "eta_v": bc(eta_v_a),
        "sigma2": bc(sigma) ** 2,
        "kappa": bc(kappa),
        "batch": bc(B),
        "student": student,
        "teacher": teacher,
    }


def _per_member_solver(method: str, nb: int, n_state: int) -> type | None:
    """A ``solve_ivp`` solver class whose error norm is the max over members of each member's
    RMS error norm, so every member of a batch is controlled exactly as in a solo run.

    Available for the explicit Runge-Kutta methods (it overrides SciPy's
    ``_estimate_error_norm``); returns None otherwise (then the tolerances are scaled by
    1/√nb instead, which bounds each member's norm by the batch's RMS norm).
    """
    from scipy.integrate import DOP853, RK23, RK45

    base = {"DOP853": DOP853, "RK45": RK45, "RK23": RK23}.get(method)
    if base is None or nb == 1 or not hasattr(base, "_estimate_error_norm"):
        return None

    if method == "DOP853":

        class PerMemberDOP853(DOP853):
            def _estimate_error_norm(self, K, h, scale):  # SciPy's formula, per member
                err5 = ((K.T @ self.E5) / scale).reshape(nb, n_state)
                err3 = ((K.T @ self.E3) / scale).reshape(nb, n_state)
                e5 = np.einsum("ij,ij->i", err5, err5)
                e3 = np.einsum("ij,ij->i", err3, err3)
                denom = e5 + 0.01 * e3
                ok = denom > 0
                norms = np.zeros(nb)
                norms[ok] = np.abs(h) * e5[ok] / np.sqrt(denom[ok] * n_state)
                return float(norms.max())

        return PerMemberDOP853

    class PerMember(base):  # type: ignore[valid-type, misc]
        def _estimate_error_norm(self, K, h, scale):
            err = (self._estimate_error(K, h) / scale).reshape(nb, n_state)
            return float(np.sqrt(np.einsum("ij,ij->i", err, err).max() / n_state))

    PerMember.__name__ = f"PerMember{method}"
    return PerMember


def _outputs(ys, fun: BatchedRHS, alpha_out, flat, bound, p):
    """Order parameters and ε_g at the output times from the flat solutions ``ys`` (n_t, ·);
    members from their first diverged output time on are NaN."""
    nb, K, M, n_t = fun.nb, fun.K, fun.M, alpha_out.size
    Qs, Rs, vs = zip(*(fun.unpack(y) for y in ys), strict=True)
    Q = np.stack(Qs, axis=1)  # (nb, n_t, K, K)
    R = np.stack(Rs, axis=1)
    v = np.stack([np.broadcast_to(x, (nb, K)) for x in vs], axis=1)
    with np.errstate(all="ignore"):
        qmax = np.diagonal(Q, axis1=-2, axis2=-1).max(-1)  # (nb, n_t)
        finite = np.isfinite(Q).all((-1, -2)) & np.isfinite(R).all((-1, -2))
        finite &= np.isfinite(v).all(-1)
        bad = ~finite | (qmax > bound[:, None])
    diverged = bad.any(axis=1)
    first = np.where(diverged, np.argmax(bad, axis=1), n_t)
    after = np.arange(n_t)[None, :] >= first[:, None]
    Q[after] = np.nan
    R[after] = np.nan
    v[after] = np.nan
    alpha_div = np.where(diverged, alpha_out[np.minimum(first, n_t - 1)], np.nan)
    T_t = np.broadcast_to(flat["T"][:, None], (nb, n_t, M, M))
    vs_t = np.broadcast_to(flat["v_star"][:, None], (nb, n_t, M))
    C = np.concatenate(
        [np.concatenate([Q, R], -1), np.concatenate([np.swapaxes(R, -1, -2), T_t], -1)], -2
    )
    with np.errstate(all="ignore"):
        eg = eg_from_covariance(np.nan_to_num(C), np.concatenate([-np.nan_to_num(v), vs_t], -1),
                                K, p["student"], p["teacher"])
    eg[after] = np.nan
    return Q, R, v, eg, diverged, alpha_div


def _check_alpha(alpha: Any, func: str) -> np.ndarray:
    msg = (
        f"The 'alpha' parameter of {func} must be a finite float > 0 (the final time) or a 1-D "
        "array of finite, non-negative, strictly increasing output times."
    )
    try:
        a = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{msg} Got {alpha!r} instead.") from None
    if a.ndim == 0:
        if not np.isfinite(a) or a <= 0:
            raise ValueError(f"{msg} Got {alpha!r} instead.")
        return np.linspace(0.0, float(a), 201)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{msg} Got {alpha!r} instead.")
    if np.any(np.diff(a) <= 0):
        i = int(np.argmax(np.diff(a) <= 0))
        raise ValueError(f"{msg} Got alpha[{i}] = {a[i]:g} >= alpha[{i + 1}] = {a[i + 1]:g}.")
    return a


def _divergence_message(
    K: int, M: int, eta: np.ndarray, alpha_div: float, activation: tuple[str, str]
) -> str:
    msg = (
        f"The ODE diverged at α ≈ {alpha_div:.4g} for eta = {np.ravel(eta)[0]:g} "
        f"(max Q_kk grew beyond {DIVERGENCE_FACTOR:g} times its initial scale): the learning "
        "rate is too large."
    )
    if K == M and activation == ("erf", "erf"):
        from .fixed_points import critical_learning_rate

        try:
            eta_c = critical_learning_rate(K)
            msg += (
                f" For K = M = {K} (erf, T = I, σ = 0, B = 1) the perfect solution is stable only "
                f"for 0 < eta < {eta_c:.4g} (statmech.critical_learning_rate)."
            )
        except Exception:  # pragma: no cover - the hint must never mask the real error
            pass
    return msg + " Reduce 'eta', or pass on_divergence='mask' to keep the other members."


def integrate(
    op0: OrderParameters,
    *,
    eta: float | np.ndarray,
    alpha: float | np.ndarray,
    eta_v: float | np.ndarray | None = None,
    train_second_layer: bool = False,
    noise: float | np.ndarray = 0.0,
    weight_decay: float | np.ndarray = 0.0,
    batch_size: int | np.ndarray = 1,
    activation: str | tuple = "erf",
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-12,
    on_divergence: str = "raise",
) -> Trajectory:
    """Integrate the order-parameter ODEs of online SGD (``ode_theory.md`` §1.2).

    Parameters
    ----------
    op0 : OrderParameters
        State at α = 0 (may be batched).
    eta : float or array
        First-layer learning rate η > 0. Arrays broadcast against ``op0.batch_shape``: a sweep
        over learning rates (or initial states) is one call.
    alpha : float or 1-D array
        Strictly increasing output times α >= 0 (the integration starts at 0). A scalar means
        201 equally spaced outputs on [0, alpha].
    eta_v : float or array, optional
        Second-layer learning rate (default ``eta``); used only if ``train_second_layer``.
    train_second_layer : bool
        Train v (otherwise v stays at ``op0.v``; v = v* = 1 is the soft committee machine).
    noise : float or array
        Output-noise standard deviation σ >= 0 of the teacher's labels.
    weight_decay : float or array
        κ >= 0 (update −(κ/N) w per step on both layers).
    batch_size : int or array
        Mini-batch size B >= 1 (the η² terms are divided by B).
    activation : str or (str, str)
        ``"erf"`` (default), ``"linear"``, ``"relu"``, or a (student, teacher) pair.
    method : str
        A ``solve_ivp`` method, one of :data:`METHODS` (default ``"DOP853"``).
    rtol, atol : float
        Per-member relative and absolute tolerances.
    on_divergence : {"raise", "mask"}
        On divergence (non-finite values, or max Q_kk beyond :data:`DIVERGENCE_FACTOR` times
        the initial scale) raise ``ValueError`` naming η and the stable range, or mark just that
        member: its ``status`` becomes ``"diverged"`` and its values NaN from then on.

    Returns
    -------
    Trajectory

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import OrderParameters, integrate
    >>> op0 = OrderParameters.random(2, 2, 1000, seed=0)
    >>> traj = integrate(op0, eta=np.array([0.2, 0.5]), alpha=np.geomspace(1, 100, 5))
    >>> traj.eg.shape
    (2, 5)
    """
    func = "integrate"
    p = _parse_model(
        op0, func, eta, eta_v, train_second_layer, noise, weight_decay, batch_size, activation
    )
    alpha_out = _check_alpha(alpha, func)
    method = check_choice(method, "method", func, METHODS)
    rtol = check_real(rtol, "rtol", func, low=0.0, low_inclusive=False, high=1.0)
    atol = check_real(atol, "atol", func, low=0.0, low_inclusive=False)
    on_divergence = check_choice(on_divergence, "on_divergence", func, ("raise", "mask"))
    train_v = bool(train_second_layer)

    shape = p["shape"]
    nb = int(np.prod(shape, dtype=int))
    K, M = op0.K, op0.M
    flat = {k: np.ascontiguousarray(p[k]).reshape((nb,) + p[k].shape[len(shape):])
            for k in ("Q", "R", "T", "v", "v_star", "eta", "eta_v", "sigma2", "kappa", "batch")}
    scale0 = np.maximum(
        1.0,
        np.maximum(
            np.diagonal(flat["Q"], axis1=-2, axis2=-1).max(-1),
            np.diagonal(flat["T"], axis1=-2, axis2=-1).max(-1),
        ),
    )
    bound = DIVERGENCE_FACTOR * scale0  # (nb,)
    coef = _coefficients(flat["eta"], flat["eta_v"], flat["sigma2"], flat["kappa"],
                         flat["batch"], train_v)
    fun = BatchedRHS(flat["Q"], flat["R"], flat["T"], flat["v"], flat["v_star"], coef, train_v,
                     p["student"], p["teacher"], bound)
    unpack = fun.unpack

    events = None
    if on_divergence == "raise":

        def escaped(_t: float, y: np.ndarray) -> float:
            Q = unpack(y)[0]
            with np.errstate(all="ignore"):
                margin = bound - np.diagonal(Q, axis1=-2, axis2=-1).max(-1)
            return float(np.nan_to_num(margin, nan=-1.0).min())

        escaped.terminal = True  # type: ignore[attr-defined]
        escaped.direction = -1  # type: ignore[attr-defined]
        events = [escaped]

    y0 = fun.y0
    t_end = float(alpha_out[-1])
    if t_end > 0:
        solver = _per_member_solver(method, nb, fun.n_state)
        root = 1.0 if solver is not None else np.sqrt(nb)
        with np.errstate(all="ignore"):
            sol = solve_ivp(
                fun, (0.0, t_end), y0, method=solver or method, t_eval=alpha_out,
                rtol=rtol / root, atol=atol / root, events=events,
            )
        if on_divergence == "raise" and sol.status == 1:
            t_div = float(sol.t_events[0][0])
            Qd = unpack(sol.y_events[0][0])[0]
            member = int(np.argmax(np.diagonal(Qd, axis1=-2, axis2=-1).max(-1) / bound))
            raise ValueError(
                _divergence_message(K, M, flat["eta"][member], t_div,
                                    (p["student"].name, p["teacher"].name))
            )
        if sol.status < 0:
            raise RuntimeError(
                f"The ODE solver ({method}) failed at α = {sol.t[-1] if sol.t.size else 0:g}: "
                f"{sol.message}. Try method='LSODA' or looser tolerances."
            )
        ys = sol.y.T  # (n_t, nb * n_state)
        nfev = int(sol.nfev)
        if alpha_out[0] == 0.0:
            ys[0] = y0
    else:
        ys = y0[None, :]
        nfev = 0
    Q, R, v, eg, diverged, alpha_div = _outputs(ys, fun, alpha_out, flat, bound, p)
    if on_divergence == "raise" and diverged.any():  # caught at an output time, not by the event
        m = int(np.argmax(diverged))
        raise ValueError(
            _divergence_message(K, M, flat["eta"][m], float(alpha_div[m]),
                                (p["student"].name, p["teacher"].name))
        )

    def out(a: np.ndarray) -> np.ndarray:
        return a.reshape(shape + a.shape[1:])

    params = {
        "eta": p["eta"].copy() if shape else float(p["eta"]),
        "eta_v": (p["eta_v"].copy() if shape else float(p["eta_v"])) if train_v else np.nan,
        "train_second_layer": train_v,
        "noise": np.sqrt(p["sigma2"]) if shape else float(np.sqrt(p["sigma2"])),
        "weight_decay": p["kappa"].copy() if shape else float(p["kappa"]),
        "batch_size": p["batch"].astype(int) if shape else int(p["batch"]),
        "method": method,
        "rtol": rtol,
        "atol": atol,
    }
    return Trajectory(
        alpha=alpha_out.copy(),
        Q=out(Q),
        R=out(R),
        v=out(v),
        eg=out(eg),
        T=out(flat["T"]).copy(),
        v_star=out(flat["v_star"]).copy(),
        activation=(p["student"].name, p["teacher"].name),
        params=params,
        status=out(np.where(diverged, "diverged", "ok")),
        alpha_diverged=out(alpha_div),
        nfev=nfev,
    )

