"""The finite-N (Jensen) correction of the edge-pruning theory, given a student's coordinates.

For edge masks the pruned order parameters fluctuate around their expectation by O(N^{-1/2}), so
E[ε_g(Q′, R′)] = ε_g(E[Q′], E[R′]) + ½ Σ_ab ∂²ε_g/∂x_a∂x_b Cov(x_a, x_b) + O(N⁻²), x the entries
of Q′ and R′. ε_g = ½ Σ_cd u_c u_d I2(c, d) and I2(c, d) depends only on (C_cc, C_cd, C_dd),
so the correction is a sum over field pairs of small Hessians (central differences of the
entry-level I2) contracted with the covariances of those entries under the mask distribution.

Covariances, for entries x_a = Σ_i v_ai Π_{u∈U_a} m_iu (U_a the units whose masks enter: {k, l}
for Q′_kl, {k} for Q′_kk and R′_km; v_ai = w_ik w_il/N or w_ik w*_im/N), with P(m_iu = 1) = p_iu:

* same coordinate i: Σ_i v_ai v_bi (Π_{U_a∪U_b} p_i − Π_{U_a} p_i Π_{U_b} p_i);
* different coordinates of a shared unit u (masks with a fixed number of edges per unit are
  negatively correlated): Hájek's approximation
  P(i, j ∈ S_u) ≈ p_iu p_ju [1 − (1 − p_iu)(1 − p_ju)/d_u], d_u = Σ_i p_iu(1 − p_iu) (exact
  to O(N⁻²); it gives −c(1 − c)/N where uniform sampling has −c(1 − c)/(N − 1)). Bernoulli
  masks have no such term.
"""

from __future__ import annotations

import numpy as np

from .. import integrals_general as _ig
from ..activations import Activation


def _entry(c: int, d: int, W: np.ndarray, Ws: np.ndarray):
    """(units U, per-coordinate values v) of the covariance entry C_cd (fields: K students, then
    M teachers); None for teacher–teacher entries (constant)."""
    K, N = W.shape
    if c > d:
        c, d = d, c
    if c >= K:
        return None
    if d < K:
        return ((c,) if c == d else (c, d)), W[c] * W[d] / N
    return (c,), W[c] * Ws[d - K] / N


def _cov(ea, eb, P: np.ndarray, fixed_count: bool) -> float:
    if ea is None or eb is None:
        return 0.0
    (Ua, va), (Ub, vb) = ea, eb
    shared = set(Ua) & set(Ub)
    if not shared:
        return 0.0
    pa = np.prod(P[list(Ua)], axis=0)
    pb = np.prod(P[list(Ub)], axis=0)
    pu = np.prod(P[sorted(set(Ua) | set(Ub))], axis=0)
    cov = float(np.sum(va * vb * (pu - pa * pb)))
    if fixed_count:
        for u in shared:
            q = 1.0 - P[u]
            d = float(np.sum(P[u] * q))
            if d <= 0:
                continue
            A = va * pa * q
            B = vb * pb * q
            cov -= (A.sum() * B.sum() - np.sum(A * B)) / d
    return cov


def jensen_correction(W: np.ndarray, Ws: np.ndarray, P: np.ndarray, Cmean: np.ndarray,
                      u: np.ndarray, student: Activation, teacher: Activation,
                      fixed_count: bool = True) -> float:
    """½ Σ H Cov (module docstring) for inclusion probabilities P (K, N) and mean covariance
    Cmean of all fields (K + M square); u = (−v, v*)."""
    K = W.shape[0]
    D = Cmean.shape[0]
    names = [student.name] * K + [teacher.name] * (D - K)
    total = 0.0
    for c in range(D):
        for d in range(c, D):
            if c >= K:
                continue
            weight = 0.5 * u[c] * u[d] * (1.0 if c == d else 2.0)
            if c == d:
                e = _entry(c, c, W, Ws)
                var = _cov(e, e, P, fixed_count)
                s = Cmean[c, c]
                h = 1e-4 * max(1.0, abs(s))
                f = [_ig.I2(np.full((2, 2), s + t * h), names[c], names[c]) for t in (-1, 0, 1)]
                total += weight * 0.5 * (f[0] - 2 * f[1] + f[2]) / h**2 * var
                continue
            keys = [(c, c), (c, d), (d, d)]
            ents = [_entry(a, b, W, Ws) for a, b in keys]
            cov = np.array([[_cov(ea, eb, P, fixed_count) for eb in ents] for ea in ents])
            if not np.any(cov):
                continue
            x0 = np.array([Cmean[c, c], Cmean[c, d], Cmean[d, d]])
            hs = 1e-4 * np.maximum(1.0, np.abs(x0))

            def f(x, names=(names[c], names[d])):
                S = np.array([[x[0], x[1]], [x[1], x[2]]])
                return float(_ig.I2(S, *names))

            H = np.empty((3, 3))
            for p in range(3):
                for q in range(p, 3):
                    ep = np.eye(3)[p] * hs[p]
                    eq = np.eye(3)[q] * hs[q]
                    H[p, q] = H[q, p] = (f(x0 + ep + eq) - f(x0 + ep - eq) - f(x0 - ep + eq)
                                         + f(x0 - ep - eq)) / (4 * hs[p] * hs[q])
            total += weight * 0.5 * float(np.sum(H * cov))
    return total


def mask_spread(W: np.ndarray, Ws: np.ndarray, P: np.ndarray, Q: np.ndarray, R: np.ndarray,
                T: np.ndarray, v: np.ndarray, v_star: np.ndarray, student: Activation,
                teacher: Activation, fixed_count: bool = True) -> float:
    """Standard deviation of ε_g across masks to first order: (gᵀ Σ g)^½, g the gradient of ε_g
    with respect to the entries of (Q′, R′) at their means and Σ their mask covariance."""
    from ..generalization import eg_from_order_parameters as eg_of

    K, M = R.shape
    keys = [(c, d) for c in range(K) for d in range(c, K)] + [(c, K + m) for c in range(K)
                                                              for m in range(M)]
    ents = [_entry(c, d, W, Ws) for c, d in keys]

    def eg_at(Qx: np.ndarray, Rx: np.ndarray) -> float:
        return float(eg_of(Qx, Rx, T, v, v_star, student, teacher))

    g = np.empty(len(keys))
    for a, (c, d) in enumerate(keys):
        h = 1e-5 * max(1.0, abs(Q[c, d] if d < K else R[c, d - K]))
        vals = []
        for t in (1.0, -1.0):
            Qx, Rx = Q.copy(), R.copy()
            if d < K:
                Qx[c, d] += t * h
                if c != d:
                    Qx[d, c] += t * h
            else:
                Rx[c, d - K] += t * h
            vals.append(eg_at(Qx, Rx))
        g[a] = (vals[0] - vals[1]) / (2 * h)
    S = np.array([[_cov(ea, eb, P, fixed_count) for eb in ents] for ea in ents])
    return float(np.sqrt(max(g @ S @ g, 0.0)))
