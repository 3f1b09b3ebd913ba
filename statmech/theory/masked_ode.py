"""Right-hand side of the masked order-parameter ODEs (students with fixed binary masks).

With the cell order parameters of :mod:`statmech.theory.masked`, C^s = [[Q^s, R^s], [R^sᵀ, T^s]]
the covariance of the cell fields (λ^s, ρ^s) with the full fields x = (λ, ρ), C = Σ_s C^s, and
u = (−v, v*), online SGD with fixed masks gives at large N (``docs/masked_theory.md`` §2)::

    dR^s_kn/dα = η v_k X^s_{k,K+n} − κ R^s_kn                                      (k ∈ s)
    dQ^s_kl/dα = η v_k X^s_kl + η v_l X^s_lk
                 + (η²/B) p_s v_k v_l [Σ_cd u_c u_d I4(k, l, c, d) + σ² J2(k, l)] − 2κ Q^s_kl
                                                                                   (k, l ∈ s)
    dv_k/dα    = η_v Σ_c u_c I2(k, c) − κ v_k                    (the dense equation, unchanged)

where X^s_kb = E[g'(λ_k) Δ y^s_b] for the cell field y^s_b (b over the K + M cell fields). By
Stein's lemma, for any field c,

    E[g'(λ_k) g_c(x_c) y] = Cov(y, λ_k) E[g''(λ_k) g_c(x_c)] + Cov(y, x_c) E[g'(λ_k) g_c'(x_c)],

so X^s = diag(a) C^s[:K] + B C^s with a_k = Σ_c u_c E[g''(λ_k) g_c(x_c)] and
B_kc = u_c E[g'(λ_k) g_c'(x_c)], both computed once per evaluation from the full C (erf: closed
forms). For other activations X^s is evaluated directly: each entry is the dense I3 integral
E[g'(x_0) x_1 g(x_2)] on the genuine 3 × 3 covariance of (λ_k, y^s_b, x_c)
(:func:`statmech.theory.gaussian_integrals.I3`). The η², σ² and v terms are the dense ones
(:func:`statmech.theory.ode_integrals.contracted_integrals` on C), the η² term weighted by p_s
because Σ_{i∈s} x_i² / N → p_s. One cell s = {1..K} with p_s = 1 is the dense ODE.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import gaussian_integrals as _ig
from .activations import Activation
from .ode_integrals import contracted_integrals
from .order_parameters import joint_covariance
from .rhs import DERIVATIVE_EPS, freeze_diverged

__all__ = ["MaskedRHS", "stein_coefficients"]

_TWO_OVER_PI = 2.0 / np.pi


def stein_coefficients(C: np.ndarray, u: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, B) of the module docstring for erf units (student and teacher).

    ``C``: (..., D, D) full covariance; ``u``: (..., D). a: (..., K); B: (..., K, D), with
    E[g''(x_k) g(x_c)] = −(2/π) C_kc / ((1 + C_kk) √Λ_kc) and E[g'(x_k) g'(x_c)] = (2/π)/√Λ_kc,
    Λ_kc = (1 + C_kk)(1 + C_cc) − C_kc² (``docs/masked_theory.md`` §2).
    """
    d = np.diagonal(C, axis1=-2, axis2=-1)
    Ck = C[..., :K, :]
    dk = 1.0 + d[..., :K, None]
    lam = dk * (1.0 + d[..., None, :]) - Ck * Ck
    inv = _TWO_OVER_PI / np.sqrt(lam)
    a = np.einsum("...kc,...c->...k", -Ck * inv / dk, u)
    B = inv * u[..., None, :]
    return a, B


def _generic_cross(Cs: np.ndarray, C: np.ndarray, u: np.ndarray, K: int,
                   student: Activation, teacher: Activation) -> np.ndarray:
    """X^s_kb = Σ_c u_c E[g'(λ_k) y^s_b g_c(x_c)] by the dense I3 on the genuine covariances.

    ``Cs``: (..., S, D, D) cell covariances; ``C``: (..., D, D); ``u``: (..., D). Returns
    (..., S, K, D)."""
    D = C.shape[-1]
    S = Cs.shape[-3]
    lead = C.shape[:-2]
    out = np.zeros(lead + (S, K, D))
    k = np.arange(K)[:, None, None]
    b = np.arange(D)[None, :, None]
    for lo, hi, act in ((0, K, student), (K, D, teacher)):
        c = np.arange(lo, hi)[None, None, :]
        shape = lead + (S, K, D, hi - lo)
        S3 = np.empty(shape + (3, 3))
        Ckk = np.broadcast_to(C[..., None, k, k], shape)
        Ckc = np.broadcast_to(C[..., None, k, c], shape)
        Ccc = np.broadcast_to(C[..., None, c, c], shape)
        Cyk = np.broadcast_to(Cs[..., b, k], shape)   # Cov(y^s_b, λ_k)
        Cyy = np.broadcast_to(Cs[..., b, b], shape)   # Var(y^s_b)
        Cyc = np.broadcast_to(Cs[..., b, c], shape)   # Cov(y^s_b, x_c)
        S3[..., 0, 0], S3[..., 1, 1], S3[..., 2, 2] = Ckk, Cyy, Ccc
        S3[..., 0, 1] = S3[..., 1, 0] = Cyk
        S3[..., 0, 2] = S3[..., 2, 0] = Ckc
        S3[..., 1, 2] = S3[..., 2, 1] = Cyc
        i3 = _ig.I3(S3, student.name, act.name)
        out += np.einsum("...skbc,...c->...skb", i3, u[..., lo:hi])
    return out


class _Layout:
    """Where each cell's variables sit in the flat state: Q^s on s × s (upper triangle, cell
    by cell, in the dense order), then R^s on the rows of s, then v (if trained)."""

    def __init__(self, cells: np.ndarray, M: int, train_v: bool) -> None:
        S, K = cells.shape
        qs, qk, ql, rs, rk, rn = [], [], [], [], [], []
        iu = np.triu_indices(K)
        for s in range(S):
            keep = cells[s][iu[0]] & cells[s][iu[1]]
            qs += [s] * int(keep.sum())
            qk += list(iu[0][keep])
            ql += list(iu[1][keep])
        for s in range(S):
            for k in np.flatnonzero(cells[s]):
                rs += [s] * M
                rk += [int(k)] * M
                rn += list(range(M))
        self.q = (np.array(qs, int), np.array(qk, int), np.array(ql, int))
        self.r = (np.array(rs, int), np.array(rk, int), np.array(rn, int))
        self.nq, self.nr = len(qs), len(rs)
        self.K, self.M, self.S, self.train_v = K, M, S, train_v
        self.n_state = self.nq + self.nr + (K if train_v else 0)
        self.diag_q = self.q[1] == self.q[2]


class MaskedRHS:
    """The masked ODE on a flat state vector of nb members, for ``solve_ivp``.

    Same interface as :class:`statmech.theory.rhs.BatchedRHS` (``y0``, ``n_state``, ``nb``,
    ``K``, ``M``, ``t_frozen``, ``unpack`` giving the dense (Q, R, v), a call freezing diverged
    members), so :func:`statmech.integrate` drives both.
    """

    def __init__(self, cells: np.ndarray, p: np.ndarray, Qc: np.ndarray, Rc: np.ndarray,
                 Tc: np.ndarray, v: np.ndarray, v_star: np.ndarray, coef: Any, train_v: bool,
                 student: Activation, teacher: Activation, bound: np.ndarray) -> None:
        nb, S, K, M = Rc.shape
        self.nb, self.K, self.M, self.train_v = nb, K, M, train_v
        self.lay = _Layout(cells, M, train_v)
        self.n_state = self.lay.n_state
        self.cells = cells
        self.sk = cells.astype(float)  # (S, K): s_k
        self.p = p  # (nb, S)
        self.Tc = Tc  # (nb, S, M, M)
        self.T = Tc.sum(axis=1)
        self.coef, self.student, self.teacher, self.bound = coef, student, teacher, bound
        self.erf = (student.name, teacher.name) == ("erf", "erf")
        with np.errstate(over="ignore"):
            self.deriv_max = np.asarray(bound, dtype=float) / DERIVATIVE_EPS
        self.t_frozen = np.full(nb, np.inf)
        self.v0 = np.array(v, dtype=float)
        self.v_star = np.array(v_star, dtype=float)
        self.y0 = self.pack(Qc, Rc, v)

    def pack(self, Qc: np.ndarray, Rc: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Flat state (or derivative) from cell arrays (nb, S, K, K), (nb, S, K, M), v."""
        parts = [Qc[:, self.lay.q[0], self.lay.q[1], self.lay.q[2]],
                 Rc[:, self.lay.r[0], self.lay.r[1], self.lay.r[2]]]
        if self.train_v:
            parts.append(v)
        return np.concatenate(parts, axis=1).reshape(-1)

    def cell_state(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Q^s, R^s, v) of every member from a flat state."""
        lay, nb = self.lay, self.nb
        Y = y.reshape(nb, self.n_state)
        Qc = np.zeros((nb, lay.S, lay.K, lay.K))
        Qc[:, lay.q[0], lay.q[1], lay.q[2]] = Y[:, :lay.nq]
        Qc[:, lay.q[0], lay.q[2], lay.q[1]] = Y[:, :lay.nq]
        Rc = np.zeros((nb, lay.S, lay.K, lay.M))
        Rc[:, lay.r[0], lay.r[1], lay.r[2]] = Y[:, lay.nq:lay.nq + lay.nr]
        v = Y[:, lay.nq + lay.nr:] if self.train_v else self.v0
        return Qc, Rc, v

    def unpack(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The dense (Q, R, v) of every member from a flat state."""
        Qc, Rc, v = self.cell_state(y)
        return Qc.sum(axis=1), Rc.sum(axis=1), v

    def derivatives(self, Qc: np.ndarray, Rc: np.ndarray, v: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(dQ^s, dR^s, dv)/dα for cell arrays with a leading member axis (module docstring)."""
        K, c = self.K, self.coef
        Cs = joint_covariance(Qc, Rc, self.Tc)  # (nb, S, D, D)
        C = joint_covariance(Qc.sum(axis=1), Rc.sum(axis=1), self.T)
        vb = np.broadcast_to(v, (self.nb, K))
        u = np.concatenate([-vb, self.v_star], axis=-1)
        ints = contracted_integrals(C, u, K, self.student, self.teacher,
                                    need_j2=c.sigma2 is not None)
        if self.erf:
            a, B = stein_coefficients(C, u, K)
            X = a[:, None, :, None] * Cs[..., :K, :] + np.einsum("nkc,nscb->nskb", B, Cs)
        else:
            X = _generic_cross(Cs, C, u, K, self.student, self.teacher)
        vs = vb[:, None, :, None] * self.sk[None, :, :, None]  # v_k s_k, (nb, S, K, 1)
        A = vs * X[..., :K]
        noise = ints.I4uu if c.sigma2 is None else ints.I4uu + c.sigma2 * ints.J2
        inside = self.sk[:, :, None] * self.sk[:, None, :]  # s_k s_l, (S, K, K)
        vv_noise = (vb[:, :, None] * vb[:, None, :] * noise)[:, None]  # (nb, 1, K, K)
        dQ = c.eta[:, None] * (A + np.swapaxes(A, -1, -2)) \
            + c.eta2_over_b[:, None] * self.p[:, :, None, None] * inside * vv_noise
        dR = c.eta[:, None] * vs * X[..., K:]
        dv = None if c.eta_v is None else c.eta_v * ints.I2u
        if c.kappa is not None:
            dQ = dQ - 2.0 * c.kappa[:, None] * Qc
            dR = dR - c.kappa[:, None] * Rc
            if dv is not None:
                dv = dv - c.kappa[..., 0] * vb
        return dQ, dR, dv

    def __call__(self, _t: float, y: np.ndarray) -> np.ndarray:
        lay, nb = self.lay, self.nb
        Y = y.reshape(nb, self.n_state)
        Qc, Rc, v = self.cell_state(y)
        dQ, dR, dv = self.derivatives(Qc, Rc, v)
        out = np.empty_like(Y)
        out[:, :lay.nq] = dQ[:, lay.q[0], lay.q[1], lay.q[2]]
        out[:, lay.nq:lay.nq + lay.nr] = dR[:, lay.r[0], lay.r[1], lay.r[2]]
        if self.train_v:
            out[:, lay.nq + lay.nr:] = dv
        qmax = np.diagonal(Qc.sum(axis=1), axis1=-2, axis2=-1).max(-1)
        freeze_diverged(out, qmax, self.bound, self.deriv_max, self.t_frozen, _t)
        return out.reshape(-1)
