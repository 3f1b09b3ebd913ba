"""The vectorised finite-N correction (``statmech.pruning.finite_n``) against the scalar reference.

The reference below is the original entry-by-entry implementation (one covariance per pair of
order-parameter entries, one I2 and one ε_g call per finite difference), kept here as the slow
definition of what the vectorised code must reproduce; ``scripts/bench_finite_n.py`` times both.
"""

from __future__ import annotations

import numpy as np
import pytest

from statmech.pruning import finite_n as F
from statmech.pruning.api import _edge_with_weights
from statmech.pruning.base import get_method
from statmech.theory import gaussian_integrals as _ig
from statmech.theory.activations import Activation, get_activation
from statmech.theory.generalization import eg_from_order_parameters
from statmech.theory.order_parameters import joint_covariance

# ------------------------------------------------------------------------------------------
# scalar reference (the original implementation)


def ref_entry(c: int, d: int, W: np.ndarray, Ws: np.ndarray):
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


def ref_cov(ea, eb, P: np.ndarray, fixed_count: bool) -> float:
    """Mask covariance of two entries (``finite_n`` module docstring), one pair at a time."""
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


def ref_keys(K: int, M: int) -> list[tuple[int, int]]:
    return [(c, d) for c in range(K) for d in range(c, K)] + [(c, K + m) for c in range(K)
                                                              for m in range(M)]


def ref_covariance(W, Ws, P, fixed_count=True) -> np.ndarray:
    K, M = W.shape[0], Ws.shape[0]
    ents = [ref_entry(c, d, W, Ws) for c, d in ref_keys(K, M)]
    return np.array([[ref_cov(ea, eb, P, fixed_count) for eb in ents] for ea in ents])


def ref_jensen_correction(W: np.ndarray, Ws: np.ndarray, P: np.ndarray, Cmean: np.ndarray,
                          u: np.ndarray, student: Activation, teacher: Activation,
                          fixed_count: bool = True) -> float:
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
                e = ref_entry(c, c, W, Ws)
                var = ref_cov(e, e, P, fixed_count)
                s = Cmean[c, c]
                h = 1e-4 * max(1.0, abs(s))
                f = [_ig.I2(np.full((2, 2), s + t * h), names[c], names[c]) for t in (-1, 0, 1)]
                total += weight * 0.5 * (f[0] - 2 * f[1] + f[2]) / h**2 * var
                continue
            keys = [(c, c), (c, d), (d, d)]
            ents = [ref_entry(a, b, W, Ws) for a, b in keys]
            cov = np.array([[ref_cov(ea, eb, P, fixed_count) for eb in ents] for ea in ents])
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


def ref_gradient(Q, R, T, v, v_star, student, teacher) -> np.ndarray:
    K, M = R.shape
    keys = ref_keys(K, M)
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
            vals.append(float(eg_from_order_parameters(Qx, Rx, T, v, v_star, student, teacher)))
        g[a] = (vals[0] - vals[1]) / (2 * h)
    return g


def ref_mask_spread(W: np.ndarray, Ws: np.ndarray, P: np.ndarray, Q: np.ndarray,
                    R: np.ndarray, T: np.ndarray, v: np.ndarray, v_star: np.ndarray,
                    student: Activation, teacher: Activation, fixed_count: bool = True) -> float:
    g = ref_gradient(Q, R, T, v, v_star, student, teacher)
    S = ref_covariance(W, Ws, P, fixed_count)
    return float(np.sqrt(max(g @ S @ g, 0.0)))


# ------------------------------------------------------------------------------------------
# problem instances: the inclusion probabilities of the methods that use the correction


def make_case(K: int, M: int, N: int, method: str, variant: str, seed: int = 0,
              keep: float = 0.3, act: str = "erf"):
    """Student/teacher coordinates, the method's inclusion probabilities and the mean pruned
    order parameters, exactly as ``prune_theory(..., weights=...)`` builds them."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, N)) * rng.uniform(0.5, 1.5, (K, 1))
    Ws = rng.standard_normal((M, N))
    W[:, : N // 3] += 0.4 * rng.standard_normal((K, 1)) * Ws[:1, : N // 3]  # overlaps R ≠ 0
    e = max(1, int(round(keep * N)))
    R = W @ Ws.T / N
    Qp, Rp, P = _edge_with_weights(get_method(method, "test"), W, Ws, e, variant, R)
    T = Ws @ Ws.T / N
    v = rng.uniform(-1.0, 1.5, K)
    vs = rng.uniform(0.5, 1.5, M)
    st = get_activation(act, "activation", "test")
    return dict(W=W, Ws=Ws, P=P, Q=Qp, R=Rp, T=T, v=v, vs=vs, st=st, te=st,
                fixed=variant != "bernoulli")


def random_P_case(K, M, N, seed, kind):
    """Arbitrary inclusion probabilities (not tied to a method), including exact 0 and 1."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, N))
    Ws = rng.standard_normal((M, N))
    if kind == "uniform":
        P = rng.uniform(0.0, 1.0, (K, N))
    elif kind == "binary_mix":
        P = rng.uniform(0.05, 0.95, (K, N))
        P[rng.random((K, N)) < 0.2] = 1.0
        P[rng.random((K, N)) < 0.2] = 0.0
    else:  # one unit with a deterministic mask (d_u = 0)
        P = rng.uniform(0.1, 0.9, (K, N))
        P[0] = (rng.random(N) < 0.5).astype(float)
    return W, Ws, P


def rel_close(new: float, old: float, rtol: float = 1e-12, atol: float = 1e-14) -> bool:
    return abs(new - old) <= max(rtol * abs(old), atol)


def assert_cov_close(S_new, S_ref):
    scale = np.abs(S_ref).max()
    err = np.abs(S_new - S_ref)
    assert np.all(err <= 1e-12 * np.abs(S_ref) + 1e-14 * max(scale, 1.0)), err.max()
    # entries that cannot co-fluctuate (no shared unit, deterministic masks) are exactly zero
    assert np.all(S_new[S_ref == 0] == 0)


SHAPES = [(1, 1, 40), (1, 3, 57), (2, 1, 64), (2, 3, 50), (3, 2, 80), (5, 4, 61), (6, 2, 120)]
METHODS = [("random_edge", "exact"), ("random_edge", "bernoulli"), ("dpp_edge", "default"),
           ("mbp_edge", "bernoulli"), ("magnitude_edge", "per_unit"),
           ("magnitude_edge", "global")]


# ------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("K, M, N", SHAPES)
@pytest.mark.parametrize("kind", ["uniform", "binary_mix", "deterministic_unit"])
@pytest.mark.parametrize("fixed", [True, False])
def test_mask_covariance_matches_scalar_reference(K, M, N, kind, fixed):
    W, Ws, P = random_P_case(K, M, N, seed=K * 100 + M * 10 + N, kind=kind)
    S = F.mask_covariance(W, Ws, P, fixed)
    E = K * (K + 1) // 2 + K * M
    assert S.shape == (E + 1, E + 1)
    assert np.all(S[E] == 0) and np.all(S[:, E] == 0)
    assert np.array_equal(S, S.T)
    assert_cov_close(S[:E, :E], ref_covariance(W, Ws, P, fixed))


def test_entry_positions_follow_reference_order():
    K, M = 4, 3
    qpos, rpos = F.entry_positions(K, M)
    for a, (c, d) in enumerate(ref_keys(K, M)):
        if d < K:
            assert qpos[c, d] == qpos[d, c] == a
        else:
            assert rpos[c, d - K] == a


@pytest.mark.parametrize("K, M, N", [(1, 1, 40), (2, 1, 64), (2, 3, 50), (4, 2, 90)])
@pytest.mark.parametrize("method, variant", METHODS)
@pytest.mark.parametrize("act", ["erf", "relu"])
def test_finite_n_matches_scalar_reference_for_each_method(K, M, N, method, variant, act):
    cs = make_case(K, M, N, method, variant, seed=K + 7 * M + N, act=act)
    Cmean = joint_covariance(cs["Q"], cs["R"], cs["T"])
    u = np.concatenate([-cs["v"], cs["vs"]])
    args = (cs["W"], cs["Ws"], cs["P"])
    jc = F.jensen_correction(*args, Cmean, u, cs["st"], cs["te"], fixed_count=cs["fixed"])
    jc_ref = ref_jensen_correction(*args, Cmean, u, cs["st"], cs["te"], fixed_count=cs["fixed"])
    assert rel_close(jc, jc_ref), (jc, jc_ref)
    rest = (cs["Q"], cs["R"], cs["T"], cs["v"], cs["vs"], cs["st"], cs["te"])
    sp = F.mask_spread(*args, *rest, fixed_count=cs["fixed"])
    sp_ref = ref_mask_spread(*args, *rest, fixed_count=cs["fixed"])
    assert rel_close(sp, sp_ref), (sp, sp_ref)
    if method == "magnitude_edge":  # deterministic masks: no fluctuation at all
        assert jc == 0.0 and sp == 0.0
    else:
        assert sp > 0.0 and jc != 0.0


def test_keep_probabilities_near_one():
    """MBP keep probabilities at 90 % kept come within rounding of 1, where the reference's
    p − p·p loses digits that the vectorised p(1 − p) keeps: both stay within 1e-12 of each other,
    and the vectorised covariance is the closer one to an extended-precision evaluation."""
    cs = make_case(4, 2, 90, "mbp_edge", "bernoulli", seed=1, keep=0.9)
    assert np.any(1.0 - cs["P"] < 1e-6)
    args = (cs["W"], cs["Ws"], cs["P"])
    S = F.mask_covariance(*args, False)[:-1, :-1]
    S_ref = ref_covariance(*args, False)
    S_ld = ref_covariance(*(a.astype(np.longdouble) for a in args), False)
    if np.finfo(np.longdouble).eps < np.finfo(float).eps:  # a genuinely wider type
        nz = S_ld != 0
        err_new = np.max(np.abs((S - S_ld)[nz] / S_ld[nz]))
        err_ref = np.max(np.abs((S_ref - S_ld)[nz] / S_ld[nz]))
        assert err_new <= err_ref
    assert_cov_close(S, S_ref)
    Cmean = joint_covariance(cs["Q"], cs["R"], cs["T"])
    u = np.concatenate([-cs["v"], cs["vs"]])
    jc = F.jensen_correction(*args, Cmean, u, cs["st"], cs["te"], fixed_count=False)
    jr = ref_jensen_correction(*args, Cmean, u, cs["st"], cs["te"], fixed_count=False)
    assert rel_close(jc, jr), (jc, jr)


@pytest.mark.parametrize("act", ["erf", "relu", "linear"])
def test_mixed_activations_and_teacher_pairs(act):
    """Student and teacher with different activations (the teacher's I2 name enters the
    student–teacher Hessians); arbitrary inclusion probabilities with both count laws."""
    W, Ws, P = random_P_case(3, 2, 70, seed=5, kind="binary_mix")
    rng = np.random.default_rng(9)
    st = get_activation(act, "activation", "test")
    te = get_activation("erf" if act != "erf" else "relu", "activation", "test")
    Q = (P * W) @ W.T / 70
    np.fill_diagonal(Q, np.einsum("ki,ki,ki->k", P, W, W) / 70)
    R = (P * W) @ Ws.T / 70
    T = Ws @ Ws.T / 70
    v, vs = rng.uniform(-1, 1, 3), rng.uniform(0.5, 1.5, 2)
    Cmean = joint_covariance(Q, R, T)
    u = np.concatenate([-v, vs])
    for fixed in (True, False):
        jc = F.jensen_correction(W, Ws, P, Cmean, u, st, te, fixed_count=fixed)
        jr = ref_jensen_correction(W, Ws, P, Cmean, u, st, te, fixed_count=fixed)
        assert rel_close(jc, jr), (jc, jr)
        sp = F.mask_spread(W, Ws, P, Q, R, T, v, vs, st, te, fixed_count=fixed)
        sr = ref_mask_spread(W, Ws, P, Q, R, T, v, vs, st, te, fixed_count=fixed)
        assert rel_close(sp, sr), (sp, sr)


def test_gradient_batches_do_not_change_the_spread(monkeypatch):
    """mask_spread evaluates ε_g in chunks; a tiny chunk size gives the same value."""
    cs = make_case(3, 2, 60, "dpp_edge", "default", seed=4)
    args = (cs["W"], cs["Ws"], cs["P"], cs["Q"], cs["R"], cs["T"], cs["v"], cs["vs"], cs["st"],
            cs["te"])
    full = F.mask_spread(*args)
    monkeypatch.setattr(F, "_EG_BATCH_ELEMENTS", 1)
    assert F.mask_spread(*args) == full


@pytest.mark.slow
def test_finite_n_matches_scalar_reference_at_gallery_size():
    """K = 20, M = 5, N = 500 (a gallery ``prune`` point): covariance, correction and spread."""
    cs = make_case(20, 5, 500, "dpp_edge", "default", seed=1, keep=0.4)
    S = F.mask_covariance(cs["W"], cs["Ws"], cs["P"])
    assert_cov_close(S[:-1, :-1], ref_covariance(cs["W"], cs["Ws"], cs["P"]))
    Cmean = joint_covariance(cs["Q"], cs["R"], cs["T"])
    u = np.concatenate([-cs["v"], cs["vs"]])
    jc = F.jensen_correction(cs["W"], cs["Ws"], cs["P"], Cmean, u, cs["st"], cs["te"])
    jr = ref_jensen_correction(cs["W"], cs["Ws"], cs["P"], Cmean, u, cs["st"], cs["te"])
    assert rel_close(jc, jr), (jc, jr)
    rest = (cs["Q"], cs["R"], cs["T"], cs["v"], cs["vs"], cs["st"], cs["te"])
    sp = F.mask_spread(cs["W"], cs["Ws"], cs["P"], *rest)
    sr = ref_mask_spread(cs["W"], cs["Ws"], cs["P"], *rest)
    assert rel_close(sp, sr), (sp, sr)
