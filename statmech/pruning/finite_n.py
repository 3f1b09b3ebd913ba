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

Vectorised form (:func:`mask_covariance`). Masks of different units are independent, so two
entries are correlated only through the units they share, and two distinct entries share at most
one unit u. Averaged over the other units' masks, an entry a that contains u has the coordinate
values G_ai = v_ai Π_{U_a∖u} p_i (the other unit's inclusion probability folded in); with
a_ui = p_iu(1 − p_iu), for distinct entries a, b sharing u (and for a = b a single-unit entry)

    Cov(x_a, x_b) = Σ_i G_ai G_bi a_ui − [(Σ_i G_ai a_ui)(Σ_j G_bj a_uj) − Σ_i G_ai G_bi a_ui²]/d_u,

the first term the same-coordinate one (Π_{U_a∪U_b} p − Π_{U_a} p Π_{U_b} p = p_u(1 − p_u)
Π_{other} p) and the bracket the Hájek term (without it for Bernoulli masks, and where d_u = 0).
For unit u this is one symmetric (M + K) × (M + K) block over its entries Q′_uu, R′_u·, Q′_u·,
G_u diag(a_u + a_u²/d_u) G_uᵀ − (G_u a_u)(G_u a_u)ᵀ/d_u, a matrix product over the N coordinates.
The only entries that share two units are Q′_kl with itself: its same-coordinate term is
Σ_i v_i² p_ik p_il (1 − p_ik p_il), and it collects the Hájek terms of both units.
"""

from __future__ import annotations

import math

import numpy as np

from ..theory import gaussian_integrals as _ig
from ..theory.activations import Activation
from ..theory.ode_integrals import pairwise_I2
from ..theory.order_parameters import joint_covariance

#: Largest number of perturbed states (times the squared field count) passed to one batched ε_g
#: evaluation in :func:`mask_spread` (bounds the temporaries of ``pairwise_I2``).
_EG_BATCH_ELEMENTS = 1 << 20


def entry_positions(K: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the pruned order-parameter entries in the layout of :func:`mask_covariance`.

    Parameters
    ----------
    K, M : int
        Numbers of student and teacher units.

    Returns
    -------
    qpos : ndarray of int, shape (K, K)
        Position of Q′_kl (symmetric): the upper triangle k ≤ l in row-major order comes first.
    rpos : ndarray of int, shape (K, M)
        Position of R′_km: after the K(K + 1)/2 entries of Q′, row-major.
    """
    iu, ju = np.triu_indices(K)
    nq = iu.size
    qpos = np.empty((K, K), dtype=np.intp)
    qpos[iu, ju] = np.arange(nq)
    qpos[ju, iu] = np.arange(nq)
    rpos = nq + np.arange(K * M, dtype=np.intp).reshape(K, M)
    return qpos, rpos


def mask_covariance(W: np.ndarray, Ws: np.ndarray, P: np.ndarray,
                    fixed_count: bool = True) -> np.ndarray:
    """Covariance over the random mask of the pruned order-parameter entries (module docstring).

    Parameters
    ----------
    W : ndarray, shape (K, N)
        Student coordinates.
    Ws : ndarray, shape (M, N)
        Teacher coordinates.
    P : ndarray, shape (K, N)
        Inclusion probabilities of the student's weights (masks of different units independent).
    fixed_count : bool
        Include Hájek's term of masks with a fixed number of edges per unit (False: Bernoulli).

    Returns
    -------
    ndarray, shape (E + 1, E + 1)
        E = K(K + 1)/2 + KM entries in the order of :func:`entry_positions` (Q′ upper triangle,
        then R′); the extra last row and column are zero (the index E stands for an entry that
        does not fluctuate, e.g. a teacher–teacher one). Symmetric. Built unit by unit: besides
        the result, O((K + M) N) memory.
    """
    W = np.asarray(W, dtype=float)
    Ws = np.asarray(Ws, dtype=float)
    P = np.asarray(P, dtype=float)
    K, N = W.shape
    M = Ws.shape[0]
    qpos, rpos = entry_positions(K, M)
    E = K * (K + 1) // 2 + K * M
    S = np.zeros((E + 1, E + 1))
    a = P * (1.0 - P)  # same-coordinate variance of a unit's mask
    d = a.sum(axis=1)  # Hájek's d_u
    if fixed_count:
        inv_d = np.divide(1.0, d, out=np.zeros(K), where=d > 0)
    else:
        inv_d = np.zeros(K)
    pair_fix = np.zeros((K, K))  # Hájek term of unit k in Var(Q′_kl)
    pair_ind = np.zeros((K, K))  # same-coordinate term of Var(Q′_kl)
    n = 1 + M + K
    G = np.empty((n, N))
    for u in range(K):
        # rows: Q′_uu, R′_u1..R′_uM, Q′_ul (l = 0..K−1; the row l = u is a zero placeholder)
        G[0] = W[u] * W[u] / N
        G[1:M + 1] = W[u] * Ws / N
        vp = W[u] * W / N  # coordinate values of Q′_ul
        G[M + 1:] = vp * P
        G[M + 1 + u] = 0.0
        au = a[u]
        s = G @ au
        B = (G * (au + au * au * inv_d[u])) @ G.T - inv_d[u] * np.outer(s, s)
        Gp = G[M + 1:]
        pair_fix[u] = inv_d[u] * (s[M + 1:] ** 2 - (Gp * Gp) @ (au * au))
        pp = P[u] * P
        pair_ind[u] = (vp * vp * (pp * (1.0 - pp))).sum(axis=1)
        idx = np.concatenate([[qpos[u, u]], rpos[u], qpos[u]])
        idx[M + 1 + u] = E
        S[np.ix_(idx, idx)] = B  # each pair of distinct entries shares at most one unit
    iu, ju = np.triu_indices(K, 1)
    pos = qpos[iu, ju]
    S[pos, pos] = pair_ind[iu, ju] - pair_fix[iu, ju] - pair_fix[ju, iu]
    S[E, :] = 0.0
    S[:, E] = 0.0
    return 0.5 * (S + S.T)


def jensen_correction(W: np.ndarray, Ws: np.ndarray, P: np.ndarray, Cmean: np.ndarray,
                      u: np.ndarray, student: Activation, teacher: Activation,
                      fixed_count: bool = True) -> float:
    """Second-order (Jensen) correction ½ Σ H Cov of E[ε_g] over the masks (module docstring).

    Parameters
    ----------
    W, Ws, P, fixed_count
        As for :func:`mask_covariance`.
    Cmean : ndarray, shape (K + M, K + M)
        Mean covariance of all fields, [[E[Q′], E[R′]], [E[R′]ᵀ, T]].
    u : ndarray, shape (K + M,)
        Signed output weights (−v, v*).
    student, teacher : Activation

    Returns
    -------
    float
        Σ over student field pairs c ≤ d of ½ u_c u_d (2 if c ≠ d) · ½ Σ_pq H_pq Cov_pq, H the
        central-difference Hessian (steps 10⁻⁴ max(1, |x|)) of I2(c, d) with respect to
        (C_cc, C_cd, C_dd) at Cmean and Cov their mask covariance (:func:`mask_covariance`);
        all I2 evaluations of one activation pair in one batched call.
    """
    K = W.shape[0]
    D = Cmean.shape[0]
    M = D - K
    u = np.asarray(u, dtype=float)
    S = mask_covariance(W, Ws, P, fixed_count)
    E = S.shape[0] - 1
    qpos, rpos = entry_positions(K, M)
    kk = np.arange(K)

    # c = d: second derivative of I2 along the fully correlated direction
    s0 = np.diagonal(Cmean)[:K]
    h = 1e-4 * np.maximum(1.0, np.abs(s0))
    pts = np.stack([s0 - h, s0, s0 + h])  # (3, K): s + t h, t = −1, 0, 1
    f = _ig.I2(np.broadcast_to(pts[..., None, None], (3, K, 2, 2)), student.name, student.name)
    var = S[qpos[kk, kk], qpos[kk, kk]]
    weight = 0.5 * u[:K] * u[:K]
    diag_terms = weight * 0.5 * (f[0] - 2 * f[1] + f[2]) / h**2 * var

    # c < d: 3 × 3 Hessians in (C_cc, C_cd, C_dd) contracted with the entries' covariance
    c_idx, d_idx = np.triu_indices(D, 1)
    keep = c_idx < K
    c_idx, d_idx = c_idx[keep], d_idx[keep]
    stud = d_idx < K  # student–student pair; else student–teacher (C_dd does not fluctuate)
    ix = np.empty((c_idx.size, 3), dtype=np.intp)  # entries (C_cc, C_cd, C_dd) of each pair
    ix[:, 0] = qpos[c_idx, c_idx]
    ix[stud, 1] = qpos[c_idx[stud], d_idx[stud]]
    ix[stud, 2] = qpos[d_idx[stud], d_idx[stud]]
    ix[~stud, 1] = rpos[c_idx[~stud], d_idx[~stud] - K]
    ix[~stud, 2] = E
    cov = S[ix[:, :, None], ix[:, None, :]]  # (pairs, 3, 3)
    act = np.any(cov != 0.0, axis=(1, 2))  # pairs without fluctuations contribute nothing
    off_terms = np.zeros(c_idx.size)
    for is_stud, name_d in ((True, student.name), (False, teacher.name)):
        sel = np.flatnonzero(act & (stud == is_stud))
        if sel.size == 0:
            continue
        c, dd = c_idx[sel], d_idx[sel]
        x0 = np.stack([Cmean[c, c], Cmean[c, dd], Cmean[dd, dd]], axis=1)
        hs = 1e-4 * np.maximum(1.0, np.abs(x0))
        # a teacher's variance does not fluctuate: its rows of H meet zero covariance
        pq = [(p, q) for p in range(3) for q in range(p, 3) if is_stud or q < 2]
        X = np.empty((len(pq), 4, sel.size, 3))
        for j, (p, q) in enumerate(pq):
            for k, (sp, sq) in enumerate(((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0))):
                y = x0.copy()
                y[:, p] = y[:, p] + sp * hs[:, p]
                y[:, q] = y[:, q] + sq * hs[:, q]
                X[j, k] = y
        Smat = np.stack([np.stack([X[..., 0], X[..., 1]], -1),
                         np.stack([X[..., 1], X[..., 2]], -1)], -2)
        fv = _ig.I2(Smat, student.name, name_d)  # (len(pq), 4, pairs)
        H = np.zeros((sel.size, 3, 3))
        for j, (p, q) in enumerate(pq):
            H[:, p, q] = H[:, q, p] = ((fv[j, 0] - fv[j, 1] - fv[j, 2] + fv[j, 3])
                                       / (4 * hs[:, p] * hs[:, q]))
        weight = 0.5 * u[c] * u[dd] * 2.0
        off_terms[sel] = weight * 0.5 * np.sum((H * cov[sel]).reshape(-1, 9), axis=1)

    return math.fsum(np.concatenate([diag_terms, off_terms]).tolist())


def _eg_batch(Qx: np.ndarray, Rx: np.ndarray, T: np.ndarray, u: np.ndarray,
              student: Activation, teacher: Activation) -> np.ndarray:
    """ε_g of a batch of states (B, K, K), (B, K, M) with signed output weights u = (−v, v*).

    The same arithmetic as :func:`statmech.theory.generalization.eg_from_order_parameters` called on
    each state alone: the I2 of the whole batch at once (elementwise, hence identical), then the
    quadratic form state by state, because a batched ``einsum`` may sum in another order and the
    finite differences of :func:`mask_spread` would amplify that rounding by 1/h.
    """
    I2 = pairwise_I2(joint_covariance(Qx, Rx, T), Qx.shape[-1], student, teacher)
    out = np.empty(I2.shape[0])
    for b in range(I2.shape[0]):
        out[b] = np.maximum(0.5 * np.einsum("...c,...cd,...d->...", u, I2[b], u), 0.0)
    return out


def mask_spread(W: np.ndarray, Ws: np.ndarray, P: np.ndarray, Q: np.ndarray, R: np.ndarray,
                T: np.ndarray, v: np.ndarray, v_star: np.ndarray, student: Activation,
                teacher: Activation, fixed_count: bool = True) -> float:
    """Standard deviation of ε_g across masks to first order, (gᵀ Σ g)^½.

    Parameters
    ----------
    W, Ws, P, fixed_count
        As for :func:`mask_covariance`.
    Q, R, T : ndarray
        Mean pruned order parameters E[Q′] (K × K), E[R′] (K × M) and the teacher's T.
    v, v_star : ndarray
        Student and teacher output weights.
    student, teacher : Activation

    Returns
    -------
    float
        g is the central-difference gradient (steps 10⁻⁵ max(1, |x|); an off-diagonal Q′_kl moves
        with Q′_lk) of ε_g with respect to the entries of (Q′, R′) at their means, evaluated in
        batches, and Σ their mask covariance (:func:`mask_covariance`).
    """
    K, M = R.shape
    E = K * (K + 1) // 2 + K * M
    iu, ju = np.triu_indices(K)
    c = np.concatenate([iu, np.repeat(np.arange(K), M)])
    d = np.concatenate([ju, K + np.tile(np.arange(M), K)])  # d ≥ K: teacher d − K
    x = np.concatenate([Q[iu, ju], R.ravel()])
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    D = K + M
    u = np.concatenate([-np.asarray(v, dtype=float), np.asarray(v_star, dtype=float)])
    chunk = max(1, _EG_BATCH_ELEMENTS // (D * D))
    vals = np.empty((2, E))
    for t_i, t in enumerate((1.0, -1.0)):
        for lo in range(0, E, chunk):
            a = np.arange(lo, min(lo + chunk, E))
            b = np.arange(a.size)
            Qx = np.repeat(Q[None], a.size, axis=0)
            Rx = np.repeat(R[None], a.size, axis=0)
            isq = d[a] < K
            bq, cq, dq = b[isq], c[a][isq], d[a][isq]
            Qx[bq, cq, dq] += t * h[a][isq]
            off = cq != dq
            Qx[bq[off], dq[off], cq[off]] += t * h[a][isq][off]
            br = b[~isq]
            Rx[br, c[a][~isq], d[a][~isq] - K] += t * h[a][~isq]
            vals[t_i, a] = _eg_batch(Qx, Rx, T, u, student, teacher)
    g = (vals[0] - vals[1]) / (2 * h)
    S = mask_covariance(W, Ws, P, fixed_count)[:E, :E]
    return float(np.sqrt(max(g @ S @ g, 0.0)))
