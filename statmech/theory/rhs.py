"""Right-hand side of the order-parameter ODEs of online SGD (``docs/ode_theory.md`` §1.2).

For the state (Q, R, v) with T and v* fixed, u = (−v, v*) and the integral contractions of
:mod:`statmech.theory.ode_integrals`::

    dR_in/dα = η v_i Σ_c u_c I3(i, n, c) − κ R_in
    dQ_ik/dα = η v_i Σ_c u_c I3(i, k, c) + η v_k Σ_c u_c I3(k, i, c)
               + (η²/B) v_i v_k [Σ_cd u_c u_d I4(i, k, c, d) + σ² J2(i, k)] − 2κ Q_ik
    dv_i/dα  = η_v Σ_c u_c I2(i, c) − κ v_i            (only when the second layer is trained)

(Saad & Solla 1995; Biehl & Schwarze 1995; Goldt et al. 2019.) α counts SGD steps in units of
N. With mini-batches of B fresh samples (gradient averaged), the drift is unchanged and the η²
bracket — the variance of the per-sample update, output noise included — is divided by B (the
cross terms between distinct samples vanish because x_s·x_s'/N → 0; ``docs/ode_theory.md`` §1.2,
"Mini-batches"). There is no η_v² term: the second-layer step is O(1/N).

:class:`BatchedRHS` evaluates it on the flat state vector of a batch of members for
``solve_ivp``; :func:`ode_rhs` is the public, validated evaluation at given order parameters.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validation import (
    InstanceOf,
    InvalidParameterError,
    check,
)
from .activations import Activation
from .generalization import resolve_activations
from .model import SGDModel, resolve_model
from .ode_integrals import ContractedIntegrals, contracted_integrals
from .order_parameters import OrderParameters

__all__ = ["BatchedRHS", "ode_rhs"]

#: A member whose derivative exceeds ``bound / DERIVATIVE_EPS`` in absolute value (or is not
#: finite) is diverged: it would cross its divergence bound within an α-interval of
#: ``DERIVATIVE_EPS`` (float64's machine epsilon), below the resolution of any α >= 1, which no
#: solver can follow (e.g. η ≳ 1e9, or η² overflowing for η ≳ 1e154). Learning trajectories
#: stay below ~1e6.
DERIVATIVE_EPS = float(np.finfo(float).eps)


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
    with np.errstate(over="ignore"):  # η² = inf (η ≳ 1e154): a non-finite rate, caught as
        e2 = e * e  # divergence by BatchedRHS
    return _Coefficients(
        eta=e,
        eta2_over_b=e2 / np.asarray(batch, dtype=float)[..., None, None],
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


def freeze_diverged(out: np.ndarray, qmax: np.ndarray, bound: np.ndarray,
                    deriv_max: np.ndarray, t_frozen: np.ndarray, t: float) -> None:
    """Zero, in place, the derivative rows ``out`` (nb, n) of the members that are diverged: max
    Q_kk ``qmax`` (nb,) not finite or beyond ``bound``, or a derivative not finite or beyond
    ``deriv_max``; record the first α ``t`` at which each was frozen in ``t_frozen``. Shared by
    :class:`BatchedRHS` and the masked right-hand side."""
    frozen = ~(qmax <= bound) | ~(np.abs(out).max(1) <= deriv_max)
    out[frozen] = 0.0
    t_frozen[frozen] = np.minimum(t_frozen[frozen], t)


class BatchedRHS:
    """The ODE right-hand side on a flat state vector, for ``solve_ivp`` (or any stepper).

    The state of member m is [Q upper triangle, R (row-major), v (if trained)]; members are
    stacked. The covariance C and the signed weights u live in preallocated buffers so that one
    evaluation costs few NumPy calls. Members that are non-finite or beyond ``bound``, or whose
    derivative is not finite or beyond ``bound / DERIVATIVE_EPS`` (diverged), get a zero
    derivative: they freeze while the others continue undisturbed. ``t_frozen[m]`` records the
    first α at which member m was frozen (inf if never), so that a frozen member is always
    reported as diverged, never as a trajectory that merely stopped.
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
        with np.errstate(over="ignore"):
            self.deriv_max = np.asarray(bound, dtype=float) / DERIVATIVE_EPS
        self.deriv_max_min = float(np.min(self.deriv_max))
        self.t_frozen = np.full(nb, np.inf)
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

    def pack(self, Q: np.ndarray, R: np.ndarray, v: np.ndarray) -> np.ndarray:
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
        if not (qmax.max() <= self.bound_min and np.abs(out).max() <= self.deriv_max_min):
            # some member is non-finite, beyond its bound or has an overflowing derivative (NaN
            # fails every comparison): diverged members stop; the others continue undisturbed
            freeze_diverged(out, qmax.max(1), self.bound, self.deriv_max, self.t_frozen, _t)
        return out.reshape(-1)


def ode_rhs(
    op: OrderParameters,
    *,
    model: SGDModel | None = None,
    **model_options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-hand side of the order-parameter ODEs: (dQ/dα, dR/dα, dv/dα).

    Implements ``docs/ode_theory.md`` §1.2 (module docstring). ``model`` (a
    :class:`~statmech.SGDModel`) or its fields as keywords (``eta=0.5, noise=0.1``), as in
    :func:`statmech.integrate`. dv/dα is zero unless ``train_second_layer``.

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import OrderParameters
    >>> op = OrderParameters(Q=np.eye(2), R=np.eye(2), T=np.eye(2))
    >>> dQ, dR, dv = ode_rhs(op, eta=0.5)       # the perfect student is a fixed point
    >>> float(np.abs(dQ).max()), float(np.abs(dR).max())
    (0.0, 0.0)
    """
    m = resolve_model("ode_rhs", model, model_options)
    p = _parse_model(op, "ode_rhs", m, op_name="op")
    coef = _coefficients(p["eta"], p["eta_v"], p["sigma2"], p["kappa"], p["batch"],
                         m.train_second_layer)
    return _derivatives(
        p["Q"], p["R"], p["T"], p["v"], p["v_star"], coef, p["student"], p["teacher"]
    )


def _parse_model(op: Any, func: str, model: SGDModel, op_name: str = "op0") -> dict[str, Any]:
    """Broadcast the initial state and the (validated) model's array-valued settings to one
    batch shape; check that they broadcast."""
    check(op, op_name, func, [InstanceOf(OrderParameters, "an OrderParameters")])
    eta_a = np.asarray(model.eta, dtype=float)
    eta_v_a = np.asarray(model.learning_rate_v, dtype=float)
    sigma = np.asarray(model.noise, dtype=float)
    kappa = np.asarray(model.weight_decay, dtype=float)
    B = np.asarray(model.batch_size, dtype=np.int64)
    student, teacher = resolve_activations(model.activation, func)
    try:
        shape = np.broadcast_shapes(
            op.batch_shape, eta_a.shape, eta_v_a.shape, sigma.shape, kappa.shape, B.shape
        )
    except ValueError:
        raise InvalidParameterError(
            f"The batch shapes of {func}'s arguments do not broadcast: op0 {op.batch_shape}, "
            f"eta {eta_a.shape}, eta_v {eta_v_a.shape}, noise {sigma.shape}, "
            f"weight_decay {kappa.shape}, batch_size {B.shape}.",
            func=func, param=op_name, allowed="shapes that broadcast together",
            value=str(op.batch_shape),
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


