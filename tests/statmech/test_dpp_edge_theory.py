"""Large-N DPP-edge (Poisson-sampling) theory and exact CPS inclusion probabilities
(``docs/dpp_edge_theory.md`` §1–§5).

Every reference here is computed independently of ``statmech.pruning.theory_tools``:

* adaptive quadrature (``scipy.integrate.quad``, nested for the two-dimensional cross moment),
  with break points at the kink of π(w) = φw²/(1 + φw²) (width φ^(-1/2) at w = 0);
* a large-N Monte Carlo: i.i.d. Gaussian weight coordinates with covariance [[Q, R], [Rᵀ, T]]
  and *exact Poisson inclusion* (each edge kept independently with probability π), which is the
  N → ∞ limit of the DPP-edge (conditional Poisson) masks;
* brute-force enumeration of all kept sets (D ≤ 12), in mpmath for q spread over many orders of
  magnitude, and an O(e·D)-memory log-space prefix/suffix table for D ≤ 200.

The derivations are in ``docs/dpp_edge_theory.md``.
"""

import itertools
import tracemalloc

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate
from scipy.optimize import brentq
from scipy.special import ndtri

import statmech as sm
from statmech import InvalidParameterError
from statmech.pruning.dpp_edge import DPP_EDGE, cps_inclusion, poisson_odds
from statmech.pruning.magnitude_edge import MAGNITUDE_EDGE
from statmech.pruning.theory_tools import truncated_cross_moment
from statmech.theory.generalization import eg_from_order_parameters, resolve_activations

KEEPS = [0.1, 0.3, 0.5, 0.7, 0.834, 0.9, 0.95]
SQ2PI = np.sqrt(2 * np.pi)


# ------------------------------------------------------------------------------------------
# independent adaptive-quadrature references

def _pi(phi, w):
    return phi * w * w / (1 + phi * w * w)


def _quad_half_line(g, a, tol=1e-13):
    """2 ∫_0^∞ g for an even integrand with a feature of width a at 0."""
    pts = sorted({0.0, min(a / 10, 1.0), min(a, 2.0), min(10 * a, 4.0), 6.0, 12.0})
    tot = sum(integrate.quad(g, lo, hi, epsabs=0, epsrel=tol, limit=400)[0]
              for lo, hi in zip(pts[:-1], pts[1:], strict=True))
    return 2 * tot


def quad_moment(phi, power):
    """E[π(z) z^power], z ~ N(0, 1), by adaptive quadrature."""
    return _quad_half_line(lambda z: _pi(phi, z) * z**power * np.exp(-z * z / 2) / SQ2PI,
                           1 / np.sqrt(phi))


def quad_odds(c):
    """φ with E[π] = c by root finding on the quadrature value."""
    return float(np.exp(brentq(lambda lf: quad_moment(np.exp(lf), 0) - c, np.log(c), 40.0,
                               xtol=1e-14)))


def quad_cross(phi, rho):
    """E[π(x) π(y) x y] for a standard bivariate normal with correlation ρ: nested quad
    (outer over x, inner over y | x ~ N(ρx, 1 − ρ²)), both split at 0 and ±φ^(-1/2)."""
    a = 1 / np.sqrt(phi)
    s = np.sqrt(1 - rho * rho)

    def inner(x):
        mu = rho * x
        if s == 0:
            return _pi(phi, mu) * mu
        lo, hi = mu - 12 * s, mu + 12 * s
        pts = [lo] + sorted(p for p in (-a, 0.0, a) if lo < p < hi) + [hi]
        f = lambda y: _pi(phi, y) * y * np.exp(-0.5 * ((y - mu) / s) ** 2) / (s * SQ2PI)  # noqa: E731
        return sum(integrate.quad(f, p, r, epsabs=0, epsrel=1e-12, limit=200)[0]
                   for p, r in zip(pts[:-1], pts[1:], strict=True))

    # the integrand is even in x
    return _quad_half_line(lambda x: _pi(phi, x) * x * inner(x) * np.exp(-x * x / 2) / SQ2PI,
                           a, tol=1e-11)


# ------------------------------------------------------------------------------------------
# 1. the odds and the one-dimensional moments

def test_poisson_odds_regression_c0834():
    """The former fixed 80-node Gauss–Hermite rule gave φ(0.834) = 35.1 (kept fraction 0.814)."""
    phi = poisson_odds(0.834)
    assert phi == pytest.approx(45.3257049824, rel=1e-9)
    assert quad_moment(phi, 0) == pytest.approx(0.834, abs=1e-12)


@pytest.mark.parametrize("c", KEEPS + [0.999, 1e-4])
def test_poisson_odds_keeps_c(c):
    phi = poisson_odds(c)
    assert quad_moment(phi, 0) == pytest.approx(c, abs=1e-6 * c)  # required: 1e-6
    assert quad_moment(phi, 0) == pytest.approx(c, rel=1e-11)
    if c >= 0.1:
        assert phi == pytest.approx(quad_odds(c), rel=1e-9)


@pytest.mark.parametrize("c", KEEPS + [0.999])
def test_diagonal_factor_against_quad(c):
    """E[Q′_kk]/Q_kk = E[π z²], E[R′]/R likewise."""
    phi = poisson_odds(c)
    Q = np.array([[1.7, 0.4], [0.4, 0.6]])
    R = np.array([[0.3], [-0.2]])
    Qp, Rp = DPP_EDGE.expected_order_parameters(Q, R, c)
    m = quad_moment(phi, 2)
    np.testing.assert_allclose(np.diagonal(Qp), np.diagonal(Q) * m, rtol=1e-11)
    np.testing.assert_allclose(Rp, R * m, rtol=1e-11)


@pytest.mark.parametrize("c", [0.1, 0.5, 0.834, 0.95])
@pytest.mark.parametrize("rho", [-0.95, 0.3, 0.9, 0.999])
def test_cross_term_against_nested_quad(c, rho):
    phi = poisson_odds(c)
    s1, s2 = 1.3, 0.8
    Q = np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    Qp, _ = DPP_EDGE.expected_order_parameters(Q, np.zeros((2, 1)), c)
    ref = s1 * s2 * quad_cross(phi, rho)
    assert Qp[0, 1] == pytest.approx(ref, rel=1e-9, abs=1e-13)
    assert Qp[1, 0] == Qp[0, 1]


def test_limits():
    Q = np.array([[1.0, 0.5], [0.5, 2.0]])
    R = np.array([[0.2], [0.1]])
    Qp, Rp = DPP_EDGE.expected_order_parameters(Q, R, 1.0)
    np.testing.assert_array_equal(Qp, Q)
    np.testing.assert_array_equal(Rp, R)
    # c → 1: every entry tends to the unpruned one
    Qp, Rp = DPP_EDGE.expected_order_parameters(Q, R, 1 - 1e-9)
    np.testing.assert_allclose(Qp, Q, rtol=1e-7)
    # perfectly correlated coordinates: the cross term is E[π² z²] (1-D)
    phi = poisson_odds(0.9)
    Qp, _ = DPP_EDGE.expected_order_parameters(np.ones((2, 2)), np.zeros((2, 1)), 0.9)
    ref = _quad_half_line(lambda z: _pi(phi, z) ** 2 * z * z * np.exp(-z * z / 2) / SQ2PI,
                          1 / np.sqrt(phi))
    assert Qp[0, 1] == pytest.approx(ref, rel=1e-11)


@pytest.mark.parametrize("c", [0.0, -0.1, 1.5, np.nan])
def test_poisson_odds_rejects_bad_c(c):
    with pytest.raises(InvalidParameterError):
        poisson_odds(c)


# ------------------------------------------------------------------------------------------
# 2. large-N Monte Carlo with exact Poisson inclusion

@pytest.fixture(scope="module")
def op_and_coords():
    """Realistic order parameters with strong student–student correlations (K = 3, M = 2, from a
    Wishart draw at N = 7) and 4·10⁵ i.i.d. coordinate vectors ~ N(0, C)."""
    op = sm.OrderParameters.random(3, 2, 7, v=[1.2, -0.7, 0.9], v_star=[1.0, 1.5], seed=11)
    Q, R, T = (np.asarray(a, float) for a in (op.Q, op.R, op.T))
    C = np.block([[Q, R], [R.T, T]])
    corr = Q / np.sqrt(np.outer(np.diag(Q), np.diag(Q)))
    off = corr[~np.eye(3, dtype=bool)]
    assert np.abs(off).max() > 0.3  # genuinely correlated units
    n = 400_000
    X = np.linalg.cholesky(C) @ np.random.default_rng(2024).standard_normal((5, n))
    return op, X


def _jackknife(stat, parts, B=20):
    """stat(sums) on all coordinates and its jackknife standard error over B blocks; ``parts``
    (terms, n) holds per-coordinate terms whose block sums ``stat`` turns into the statistic."""
    n = parts.shape[1]
    sums = np.stack([parts[:, b::B].sum(1) for b in range(B)])  # (B, terms)
    counts = np.array([parts[:, b::B].shape[1] for b in range(B)])
    tot, ntot = sums.sum(0), counts.sum()
    full = stat(tot / ntot)
    loo = np.array([stat((tot - sums[b]) / (ntot - counts[b])) for b in range(B)])
    assert ntot == n
    return full, float(np.sqrt((B - 1) / B * np.sum((loo - loo.mean()) ** 2)))


@pytest.mark.parametrize("c", KEEPS)
def test_order_parameters_and_eg_against_poisson_monte_carlo(op_and_coords, c):
    op, X = op_and_coords
    K = op.K
    Q, R, T, v, vs = (np.asarray(a, float) for a in (op.Q, op.R, op.T, op.v, op.v_star))
    W, Ws = X[:K], X[K:]
    n = X.shape[1]
    phi = poisson_odds(c)
    p = phi * W**2 / (np.diag(Q)[:, None] + phi * W**2)
    mask = np.random.default_rng(int(c * 1000)).random(W.shape) < p
    Wm = W * mask
    # per-coordinate terms: each pruned order parameter is their mean over the n i.i.d. rows,
    # so its standard error is the sample SD of the terms / √n
    terms = np.concatenate([(Wm[:, None, :] * Wm[None, :, :]).reshape(K * K, n),
                            (Wm[:, None, :] * Ws[None, :, :]).reshape(-1, n),
                            mask.astype(float)])
    mean = terms.mean(1)
    se = terms.std(1, ddof=1) / np.sqrt(n)
    Qt, Rt = DPP_EDGE.expected_order_parameters(Q, R, c)
    expect = np.concatenate([Qt.ravel(), Rt.ravel(), np.full(K, c)])
    # 4.5 SE: two-sided family-wise false-alarm rate < 1e-3 over the ≤ 24 entries per c; the
    # old fixed-rule theory was off by up to ~5 % of Q at c = 0.834, i.e. tens of SE
    z = (mean - expect) / se
    assert np.all(np.abs(z) < 4.5), (np.abs(z).max(), np.argmax(np.abs(z)))

    student, teacher = resolve_activations("erf", "test")

    nq = K * K

    def eg_of(means):
        return float(eg_from_order_parameters(means[:nq].reshape(K, K),
                                              means[nq:nq + R.size].reshape(R.shape), T, v, vs,
                                              student, teacher))

    eg_mc, eg_se = _jackknife(eg_of, terms)
    eg_th = sm.pruned_error(op, "dpp_edge", c)
    assert eg_th == pytest.approx(float(eg_from_order_parameters(Qt, Rt, T, v, vs, student,
                                                                teacher)), rel=1e-12)
    # ε_g is a smooth function of the means: its MC error is normal with the jackknife SE
    # (the O(1/n) nonlinearity bias is ~1e-6 here, far below the SE)
    assert abs(eg_mc - eg_th) < 4.5 * eg_se, (eg_mc, eg_th, eg_se)


# ------------------------------------------------------------------------------------------
# 3. magnitude edge: the truncated cross moment near |ρ| = 1 (kink smoothed over √(1 − ρ²))

def _quad_truncated_cross(sx, sy, rho, ax, ay):
    """E[XY 1{|X|>ax} 1{|Y|>ay}] in mpmath: outer over the Y tails, inner closed form in X | Y."""
    mp.mp.dps = 30
    rho_ = mp.mpf(rho)
    cs = sx * mp.sqrt(1 - rho_**2)

    def inner(y):
        mu = rho_ * sx * y / sy
        if cs == 0:
            return mu if abs(mu) > ax else 0
        bp, bm = (ax - mu) / cs, (-ax - mu) / cs
        return mu * (mp.ncdf(-bp) + mp.ncdf(bm)) + cs * (mp.npdf(bp) - mp.npdf(bm))

    pts = [ay, ay + 0.1 * sy]
    if rho != 0:
        yb = ax * sy / (abs(rho) * sx)
        pts += [yb - 1e-3, yb - 1e-5, yb, yb + 1e-5, yb + 1e-3]
    pts = sorted({p for p in pts if p >= ay}) + [mp.inf]
    return float(2 * mp.quad(lambda y: y * mp.npdf(y, 0, sy) * inner(y), pts))


@pytest.mark.parametrize("c", [0.05, 0.67, 0.95])
@pytest.mark.parametrize("rho", [0.5, 0.9999, 0.999999, 1.0, -0.99999])
def test_truncated_cross_moment_near_unit_correlation(c, rho):
    """A plain Gauss–Legendre split at the kink lost ~4e-5 relative at ρ = 0.999999."""
    z = ndtri(1 - c / 2)
    sx, sy = 1.3, 0.7
    val = truncated_cross_moment(sx, sy, rho, z * sx, z * sy)
    assert val == pytest.approx(_quad_truncated_cross(sx, sy, rho, z * sx, z * sy), rel=1e-11)


@pytest.mark.parametrize("c", [0.3, 0.834])
def test_magnitude_edge_against_gaussian_monte_carlo(op_and_coords, c):
    op, X = op_and_coords
    K = op.K
    Q, R = np.asarray(op.Q, float), np.asarray(op.R, float)
    W, Ws = X[:K], X[K:]
    n = X.shape[1]
    a = ndtri(1 - c / 2) * np.sqrt(np.diag(Q))[:, None]
    Wm = W * (np.abs(W) > a)
    terms = np.concatenate([(Wm[:, None, :] * Wm[None, :, :]).reshape(K * K, n),
                            (Wm[:, None, :] * Ws[None, :, :]).reshape(-1, n)])
    expect = np.concatenate([M.ravel() for M in MAGNITUDE_EDGE.expected_order_parameters(Q, R, c)])
    z = (terms.mean(1) - expect) / (terms.std(1, ddof=1) / np.sqrt(n))  # as above: 4.5 SE
    assert np.all(np.abs(z) < 4.5), np.abs(z).max()


# ------------------------------------------------------------------------------------------
# 4. exact CPS inclusion probabilities in O(K·N) memory

def _brute_mp(q, e):
    mp.mp.dps = 50
    qs = [mp.mpf(float(x)) for x in q]
    Z = mp.mpf(0)
    acc = [mp.mpf(0)] * len(q)
    for S in itertools.combinations(range(len(q)), e):
        p = mp.fprod(qs[i] for i in S)
        Z += p
        for i in S:
            acc[i] += p
    return np.array([float(x / Z) for x in acc])


def _table_reference(q, e):
    """π_i = q_i e_{e−1}(q_{−i}) / e_e(q) from full log-space prefix and suffix ESP tables
    (O(e·D) memory: the former implementation's approach, written afresh)."""
    D = q.size
    with np.errstate(divide="ignore"):
        lq = np.log(q)
    pre = np.full((e + 1, D + 1), -np.inf)
    suf = np.full((e + 1, D + 2), -np.inf)
    pre[0, :] = 0.0
    suf[0, :] = 0.0
    for i in range(1, D + 1):
        pre[1:, i] = np.logaddexp(pre[1:, i - 1], lq[i - 1] + pre[:-1, i - 1])
    for i in range(D, 0, -1):  # suf[r, i] = log e_r(q_i..q_D)
        suf[1:, i] = np.logaddexp(suf[1:, i + 1], lq[i - 1] + suf[:-1, i + 1])
    out = np.zeros(D)
    for i in range(D):
        s = np.arange(e)
        loo = np.logaddexp.reduce(pre[s, i] + suf[e - 1 - s, i + 2])
        if q[i] > 0:
            out[i] = np.exp(lq[i] + loo - pre[e, D])
    return out


@pytest.mark.parametrize("D", [1, 4, 9, 12])
@pytest.mark.parametrize("spread", [0.0, 1.0, 30.0])
def test_cps_inclusion_against_enumeration(D, spread):
    """q spanning up to 10^±30 (log10 q uniform), with zeros."""
    rng = np.random.default_rng(D * 100 + int(spread))
    q = 10.0 ** rng.uniform(-spread, spread, D)
    if D >= 4:
        q[rng.choice(D, 2, replace=False)] = 0.0
    for e in range(0, np.count_nonzero(q) + 1):
        got = cps_inclusion(q, e)
        np.testing.assert_allclose(got, _brute_mp(q, e), rtol=1e-12, atol=1e-14)
        assert got.sum() == pytest.approx(e, abs=1e-12)


@pytest.mark.parametrize("D, spread", [(60, 1.0), (200, 2.0), (200, 40.0)])
def test_cps_inclusion_against_table_reference(D, spread):
    rng = np.random.default_rng(D)
    q = np.exp(rng.standard_normal((3, D)) * spread * np.log(10) / 3)
    q[:, :4] = 0.0
    for e in [1, 7, D // 3, D // 2, D - 20, D - 4]:
        got = cps_inclusion(q, e)
        ref = np.stack([_table_reference(r, e) for r in q])
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
        # the complement design (weights 1/q over the positive items, size n₊ − e)
        pos = q[0] > 0
        comp = cps_inclusion(1.0 / q[:1, pos], pos.sum() - e)
        np.testing.assert_allclose(got[0, pos], 1.0 - comp[0], atol=1e-10)


def test_cps_inclusion_memory_is_linear():
    """Peak memory O(K·N) (the former log-table approach held 2·K·(e+1)·(N+1) floats, ~0.9 GB
    here)."""
    K, N = 6, 3000
    e = int(0.8 * N)
    W = np.random.default_rng(0).standard_normal((K, N))
    tracemalloc.start()
    try:
        P = cps_inclusion(W * W, e)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * K * N * 8
    np.testing.assert_allclose(P.sum(1), e, rtol=1e-12)
    assert np.all((P >= 0) & (P <= 1))


def test_cps_inclusion_rejects_bad_input():
    with pytest.raises(InvalidParameterError):
        cps_inclusion(np.array([1.0, 0.0, 0.0]), 2)
    with pytest.raises(InvalidParameterError):
        cps_inclusion(np.array([1.0, -1.0, 2.0]), 1)
    with pytest.raises(InvalidParameterError):
        cps_inclusion(np.array([1.0, 2.0]), 3)


def test_finite_n_theory_with_weights_tends_to_large_n():
    """prune_theory(weights=W) (exact CPS inclusion) on N = 4000 Gaussian coordinates agrees
    with the N → ∞ theory of the same order parameters to O(N^(-1/2))."""
    op0 = sm.OrderParameters.random(2, 1, 5, seed=3)
    Q, R, T = (np.asarray(a, float) for a in (op0.Q, op0.R, op0.T))
    C = np.block([[Q, R], [R.T, T]])
    N = 4000
    X = np.linalg.cholesky(C) @ np.random.default_rng(5).standard_normal((3, N))
    op = sm.OrderParameters.from_weights(X[:2], X[2:], np.array([1.0, 0.8]), np.array([1.0]))
    th_w = sm.prune_theory(op, "dpp_edge", 0.834, weights=X[:2], teacher_weights=X[2:])
    th = sm.prune_theory(op, "dpp_edge", 0.834)
    np.testing.assert_allclose(th_w.Q, th.Q, atol=5 / np.sqrt(N))
    np.testing.assert_allclose(th_w.R, th.R, atol=5 / np.sqrt(N))


# ------------------------------------------------------------------------------------------
# 5. the O(K·N)-memory rejective sampler (used when the log-ESP table would be too large)

def test_rejective_sampler_matches_enumeration():
    from scipy import stats

    from statmech.pruning.dpp_edge import sample_conditional_poisson_rejective

    q = np.array([0.1, 2.0, 0.5, 1.5, 0.05, 1.0, 0.0])
    sets = list(itertools.combinations(range(7), 3))
    p = np.array([np.prod(q[list(s)]) for s in sets])
    p /= p.sum()
    masks = sample_conditional_poisson_rejective(q, 3, np.random.default_rng(3), 30000)
    assert np.all(masks.sum(1) == 3) and not masks[:, 6].any()
    codes = {s: i for i, s in enumerate(sets)}
    counts = np.bincount([codes[tuple(np.flatnonzero(m))] for m in masks], minlength=len(sets))
    keep = p > 0
    assert stats.chisquare(counts[keep], p[keep] * counts.sum()).pvalue > 1e-3


def test_sampler_switches_to_rejective_when_table_is_large(monkeypatch):
    import statmech.pruning.dpp_edge as de

    rng = np.random.default_rng(4)
    q = np.exp(rng.standard_normal((2, 150)))
    e = 100
    monkeypatch.setattr(de, "TABLE_BYTES_LIMIT", 1000)
    masks = de.sample_conditional_poisson(q, e, np.random.default_rng(0), 3000)
    assert masks.shape == (3000, 2, 150) and np.all(masks.sum(-1) == e)
    P = cps_inclusion(q, e)
    # binomial SE of each frequency; 4.5 SE over 300 entries (family-wise < 1e-3)
    z = (masks.mean(0) - P) / np.sqrt(P * (1 - P) / masks.shape[0])
    assert np.abs(z).max() < 4.5
    K, N = 6, 3000
    W = rng.standard_normal((K, N))
    tracemalloc.start()
    try:
        de.sample_conditional_poisson(W * W, int(0.8 * N), rng, 4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 4 * K * N * 8  # vs 8·K·e·N ≈ 0.35 GB for the table
