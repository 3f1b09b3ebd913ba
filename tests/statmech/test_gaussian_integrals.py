"""Gaussian integrals for erf / linear / ReLU units (statmech.theory.gaussian_integrals).

* every function and activation combination against Monte Carlo (fixed seeds), on random and
  singular covariances (repeated fields, exact and sign-flipped copies, a zero field), with a
  Bonferroni-corrected z threshold; a negative control shows the test rejects plausible bugs;
* pure erf / pure linear / ReLU closed forms against the formulas of docs/ode_theory.md §1.3-1.4;
* the quadrature (four-variate orthant probability and the ReLU-student I4) against independent
  references: Owen's-T and polar-wedge integrals written here with SciPy, exact values, and a
  much finer quadrature rule; accuracy 1e-9;
* smoothness of the quadrature in the covariance (second differences), also near and on
  singular covariances, and continuity at exactly singular ones;
* shapes, broadcasting, input validation, vectorisation.
"""

import itertools

import numpy as np
import pytest
from scipy import integrate
from scipy.special import erf, ndtr, owens_t
from scipy.stats import norm

from statmech.theory import gaussian_integrals as ig

ACTS = ig.ACTIVATIONS
PAIRS4 = list(itertools.product(ACTS, repeat=2))
TRIPLES4 = list(itertools.product(ACTS, repeat=3))


def _g(name, x):
    if name == "erf":
        return erf(x / np.sqrt(2.0))
    if name == "linear":
        return x
    return np.maximum(x, 0.0)


def _dg(name, x):
    if name == "erf":
        return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * x * x)
    if name == "linear":
        return np.ones_like(x)
    return (x > 0).astype(float)


def _gram(rng, n, d=6, scale=1.0):
    A = rng.normal(size=(n, d))
    return scale * A @ A.T / d


# ------------------------------------------------------------------------------------------
# Monte Carlo
# ------------------------------------------------------------------------------------------
# A case is a base covariance C of k independent-ish fields and, for the four positions of I4,
# a (field, sign) pair or None (a field that is identically 0). Samples are built the same way,
# so exact copies are exact in the samples too.
_RNG = np.random.default_rng(20240611)
_C4 = _gram(_RNG, 4)
_C4_BIG = _gram(_RNG, 4, scale=3.0)
_C3 = _gram(_RNG, 3)
_C2 = _gram(_RNG, 2)
MC_CASES = {
    "generic": (_C4, [(0, 1), (1, 1), (2, 1), (3, 1)]),
    "generic, variances ~3": (_C4_BIG, [(0, 1), (1, 1), (2, 1), (3, 1)]),
    "i = k (repeated student)": (_C3, [(0, 1), (0, 1), (1, 1), (2, 1)]),
    "c = d (repeated teacher)": (_C3, [(0, 1), (1, 1), (2, 1), (2, 1)]),
    "c = a (teacher = student)": (_C3, [(0, 1), (1, 1), (0, 1), (2, 1)]),
    "converged pair (rank 2)": (_C2, [(0, 1), (1, 1), (0, 1), (1, 1)]),
    "sign-flipped copy": (_C3, [(0, 1), (1, 1), (0, -1), (2, 1)]),
    "zero teacher field": (_C3, [(0, 1), (1, 1), (None, 0), (2, 1)]),
    "zero student field": (_C3, [(None, 0), (0, 1), (1, 1), (2, 1)]),
}
# positions (into the four fields) used for I3 (a, b, c), I2 (a, b) and J2 (a, b)
I3_POS = [(0, 2, 3), (0, 1, 2)]
I2_POS = [(0, 2), (2, 3)]
J2_POS = [(0, 1)]
N_COMPARISONS = len(MC_CASES) * (
    len(TRIPLES4) + len(I3_POS) * len(PAIRS4) + len(I2_POS) * len(PAIRS4) + len(J2_POS) * 3
)
# Family-wise false-positive rate 1e-3 over all comparisons (Bonferroni): each comparison uses
# the two-sided threshold z* with P(|Z| > z*) = 1e-3 / N_COMPARISONS, Z ~ N(0, 1) being the
# standardised MC error (CLT, 2e6 samples; SE = sample standard deviation / sqrt(2e6)), which
# gives z* = 4.79 for the 594 comparisons. The integrals' own error (<= 1e-9) is negligible
# against MC standard errors of ~2e-4. A tiny absolute floor (1e-12) covers integrands that are
# deterministic (SE = 0, e.g. J2 linear or a zero field).
FWER = 1e-3
Z_STAR = norm.isf(FWER / (2 * N_COMPARISONS))
MC_SAMPLES = 2_000_000


def _case_cov(C, spec):
    S = np.zeros((4, 4))
    for p, (fp, sp) in enumerate(spec):
        for q, (fq, sq) in enumerate(spec):
            if fp is not None and fq is not None:
                S[p, q] = sp * sq * C[fp, fq]
    return S


def _mc(C, spec, seed):
    """MC means and standard errors of all integrals of a case, keyed like the checks below."""
    L = np.linalg.cholesky(C)
    rng = np.random.default_rng(seed)
    acc = {}
    chunk = 2**14  # small chunks: fast NumPy temporaries and little memory
    for _ in range(MC_SAMPLES // chunk + 1):
        y = rng.standard_normal((chunk, C.shape[0])) @ L.T
        x = [sp * y[:, fp] if fp is not None else np.zeros(chunk) for fp, sp in spec]
        G = {a: [_g(a, xi) for xi in x] for a in ACTS}
        D = {a: [_dg(a, xi) for xi in x] for a in ACTS}
        vals = {}
        for a, c, d in TRIPLES4:
            vals["I4", a, c, d] = D[a][0] * D[a][1] * G[c][2] * G[d][3]
        for pos in I3_POS:
            for a, c in PAIRS4:
                vals["I3", pos, a, c] = D[a][pos[0]] * x[pos[1]] * G[c][pos[2]]
        for pos in I2_POS:
            for a, b in PAIRS4:
                vals["I2", pos, a, b] = G[a][pos[0]] * G[b][pos[1]]
        for pos in J2_POS:
            for a in ACTS:
                vals["J2", pos, a] = D[a][pos[0]] * D[a][pos[1]]
        for k, v in vals.items():
            s, s2, n = acc.get(k, (0.0, 0.0, 0))
            acc[k] = (s + v.sum(), s2 + (v * v).sum(), n + v.size)
    out = {}
    for k, (s, s2, n) in acc.items():
        m = s / n
        out[k] = (m, np.sqrt(max(s2 / n - m * m, 0.0) / n))
    return out


def _module_value(S, key):
    kind = key[0]
    if kind == "I4":
        return ig.I4(S, *key[1:])
    pos = list(key[1])
    sub = S[np.ix_(pos, pos)]
    return getattr(ig, kind)(sub, *key[2:])


@pytest.mark.parametrize("case", list(MC_CASES))
def test_all_combinations_against_monte_carlo(case):
    C, spec = MC_CASES[case]
    S = _case_cov(C, spec)
    est = _mc(C, spec, seed=list(MC_CASES).index(case) + 1)
    bad = []
    for key, (m, se) in est.items():
        v = float(_module_value(S, key))
        # deterministic integrand (e.g. J2 linear, a zero field): SE = 0, compare to rounding
        tol = Z_STAR * se + 1e-12
        if not abs(v - m) <= tol:
            bad.append((key, v, m, se, (v - m) / max(se, 1e-300)))
    assert not bad, f"{case}: {len(bad)} of {len(est)} outside z* = {Z_STAR:.2f}: {bad[:5]}"


def test_monte_carlo_negative_controls():
    """The MC test would catch plausible wrong implementations."""
    C, spec = MC_CASES["generic"]
    S = _case_cov(C, spec)
    est = _mc(C, spec, seed=99)
    # Each wrong value must be rejected with a margin: |wrong - MC| > 2 z* SE (so it would fail
    # the test above with any seed, not marginally); the right value passes.
    # (1) pyscm's bug: the ReLU student's derivative taken as the erf derivative.
    m, se = est["I3", (0, 2, 3), "relu", "relu"]
    wrong = float(ig.I3(S[np.ix_([0, 2, 3], [0, 2, 3])], "erf", "relu"))
    right = float(ig.I3(S[np.ix_([0, 2, 3], [0, 2, 3])], "relu", "relu"))
    assert abs(right - m) <= Z_STAR * se
    assert abs(wrong - m) > 2 * Z_STAR * se, (wrong, m, se)
    # (2) I4(relu; relu, relu) keeping only the S23·P4 term of Stein's lemma (D6), i.e. missing
    # the boundary (conditional orthant) terms.
    m, se = est["I4", "relu", "relu", "relu"]
    wrong = S[2, 3] * float(ig.orthant_probability(S))
    assert abs(wrong - m) > 2 * Z_STAR * se, (wrong, m, se)
    # (3) the erf–ReLU kernel with the variance of the wrong field.
    m, se = est["I2", (0, 2), "erf", "relu"]
    wrong = S[0, 2] / np.sqrt(2 * np.pi * (1 + S[2, 2]))
    assert abs(wrong - m) > 2 * Z_STAR * se, (wrong, m, se)


# ------------------------------------------------------------------------------------------
# closed forms (docs/ode_theory.md §1.3-1.4)
# ------------------------------------------------------------------------------------------
def _closed_form_covs():
    rng = np.random.default_rng(7)
    covs = [_gram(rng, 4, scale=s) for s in (0.3, 1.0, 2.5) for _ in range(3)]
    b = rng.normal(size=(3, 6)) / np.sqrt(6)
    for idx in ([0, 0, 1, 2], [0, 1, 2, 2], [0, 1, 0, 2], [0, 1, 0, 1], [0, 0, 1, 1]):
        covs.append(b[idx] @ b[idx].T)
    return np.array(covs)


def _erf_formulas(S):
    c = S
    d = 1 + np.einsum("...ii->...i", S)
    I2 = 2 / np.pi * np.arcsin(c[..., 0, 1] / np.sqrt(d[..., 0] * d[..., 1]))
    J2 = 2 / np.pi / np.sqrt(d[..., 0] * d[..., 1] - c[..., 0, 1] ** 2)
    L3 = d[..., 0] * d[..., 2] - c[..., 0, 2] ** 2
    I3 = (
        2
        / np.pi
        * (c[..., 1, 2] * d[..., 0] - c[..., 0, 1] * c[..., 0, 2])
        / (d[..., 0] * np.sqrt(L3))
    )
    a, b_, cc, dd = 0, 1, 2, 3
    L4 = d[..., a] * d[..., b_] - c[..., a, b_] ** 2

    def lam(x):
        return (
            L4 * d[..., x]
            - c[..., b_, x] ** 2 * d[..., a]
            - c[..., a, x] ** 2 * d[..., b_]
            + 2 * c[..., a, b_] * c[..., a, x] * c[..., b_, x]
        )

    L0 = (
        L4 * c[..., cc, dd]
        - c[..., b_, cc] * c[..., b_, dd] * d[..., a]
        - c[..., a, cc] * c[..., a, dd] * d[..., b_]
        + c[..., a, b_] * c[..., a, cc] * c[..., b_, dd]
        + c[..., a, b_] * c[..., a, dd] * c[..., b_, cc]
    )
    I4 = 4 / np.pi**2 / np.sqrt(L4) * np.arcsin(L0 / np.sqrt(lam(cc) * lam(dd)))
    return I2, J2, I3, I4


# Closed-form tolerances: the module and the formulas below are two float64 evaluations of the same
# closed form, so they differ by rounding (~1e-15 for O(1) entries); 1e-12 leaves room for the
# amplification of rounding by arcsin/sqrt near the singular cases (repeated fields).
def test_pure_erf_closed_forms():
    S = _closed_form_covs()
    I2, J2, I3, I4 = _erf_formulas(S)
    np.testing.assert_allclose(ig.I2(S[:, :2, :2], "erf", "erf"), I2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ig.J2(S[:, :2, :2], "erf"), J2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ig.I3(S[:, :3, :3], "erf", "erf"), I3, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ig.I4(S, "erf", "erf", "erf"), I4, rtol=0, atol=1e-12)


def test_pure_linear_closed_forms():
    S = _closed_form_covs()
    assert np.array_equal(ig.I2(S[:, :2, :2], "linear", "linear"), S[:, 0, 1])
    assert np.array_equal(ig.J2(S[:, :2, :2], "linear"), np.ones(len(S)))
    np.testing.assert_allclose(ig.I3(S[:, :3, :3], "linear", "linear"), S[:, 1, 2], atol=1e-15)
    np.testing.assert_allclose(ig.I4(S, "linear", "linear", "linear"), S[:, 2, 3], atol=1e-15)


def test_relu_closed_forms():
    S = _closed_form_covs()
    a, b, c = S[:, 0, 0], S[:, 1, 1], S[:, 0, 1]
    rho = np.clip(c / np.sqrt(a * b), -1, 1)
    arccos_kernel = (np.sqrt(np.maximum(a * b - c * c, 0)) + c * (np.pi / 2 + np.arcsin(rho))) / (
        2 * np.pi
    )
    S2 = S[:, :2, :2]
    np.testing.assert_allclose(ig.I2(S2, "relu", "relu"), arccos_kernel, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        ig.J2(S2, "relu"), 0.25 + np.arcsin(rho) / (2 * np.pi), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        ig.I2(S2, "erf", "relu"), c / np.sqrt(2 * np.pi * (1 + a)), rtol=0, atol=1e-14
    )
    np.testing.assert_allclose(
        ig.I2(S2, "relu", "erf"), c / np.sqrt(2 * np.pi * (1 + b)), rtol=0, atol=1e-14
    )
    # E[relu(x)²] = Var/2 and E[relu(x) relu(−x)] = 0
    v = np.array([[2.0, 2.0], [2.0, 2.0]])
    assert ig.I2(v, "relu", "relu") == pytest.approx(1.0, abs=1e-15)
    assert abs(ig.I2(np.array([[2.0, -2.0], [-2.0, 2.0]]), "relu", "relu")) < 1e-15


def test_zero_variance_conventions():
    Z = np.zeros((2, 2))
    assert ig.J2(Z, "relu") == 0.0  # relu'(0) = 0
    assert ig.J2(Z, "erf") == pytest.approx(2 / np.pi, abs=1e-15)
    assert ig.J2(Z, "linear") == 1.0
    S = np.diag([0.0, 1.0, 1.0, 1.0])
    for c, d in PAIRS4:  # the relu derivative of an identically-zero field is 0
        assert ig.I4(S, "relu", c, d) == 0.0
    S = np.diag([1.0, 1.0, 0.0, 1.0])
    for d in ACTS:
        assert ig.I4(S, "relu", "relu", d) == 0.0
        assert ig.I4(S, "relu", "linear", d) == 0.0


# ------------------------------------------------------------------------------------------
# independent references for the quadrature
# ------------------------------------------------------------------------------------------
def _gl(n, a, b):
    x, w = np.polynomial.legendre.leggauss(n)
    return (a + b) / 2 + (b - a) / 2 * x, (b - a) / 2 * w


def _bvn_upper(h, k, rho):
    """P(Z1 > h, Z2 > k), corr rho, by Owen's T function (h, k nonzero)."""
    h, k = -np.asarray(h), -np.asarray(k)  # P(Z1 < -h, Z2 < -k)
    sq = np.sqrt(1 - rho * rho)
    delta = np.where(h * k < 0, 0.5, 0.0)
    return (
        0.5 * (ndtr(h) + ndtr(k))
        - owens_t(h, (k - rho * h) / (h * sq))
        - owens_t(k, (h - rho * k) / (k * sq))
        - delta
    )


def _wedge(S, nphi, nr):
    """Polar nodes over the wedge {x0 > 0, x1 > 0} of the whitened (x0, x1), with the mean map
    and conditional covariance of (x2, x3)."""
    A, B = S[:2, :2], S[2:, :2]
    La = np.linalg.cholesky(A)
    Bw = np.linalg.solve(La, B.T).T
    C = S[2:, 2:] - Bw @ Bw.T
    th = np.arctan2(La[1, 1], La[1, 0])
    p, wp = _gl(nphi, max(-np.pi / 2, th - np.pi / 2), min(np.pi / 2, th + np.pi / 2))
    r, wr = _gl(nr, 0.0, 12.0)
    P, R = np.meshgrid(p, r, indexing="ij")
    w1, w2 = R * np.cos(P), R * np.sin(P)
    mean = (Bw[0, 0] * w1 + Bw[0, 1] * w2, Bw[1, 0] * w1 + Bw[1, 1] * w2)
    weight = np.outer(wp, wr) * R * np.exp(-R * R / 2) / (2 * np.pi)
    return mean, C, weight


def ref_orthant4(S):
    """P(x > 0) with scipy.integrate.dblquad: the whitened (x0, x1) over the wedge in polar
    coordinates, P(x2 > 0, x3 > 0 | x0, x1) by Owen's T (independent of Plackett's identity)."""
    S = np.asarray(S, float)
    A, B = S[:2, :2], S[2:, :2]
    La = np.linalg.cholesky(A)
    Bw = np.linalg.solve(La, B.T).T
    C = S[2:, 2:] - Bw @ Bw.T
    s2, s3 = np.sqrt(C[0, 0]), np.sqrt(C[1, 1])
    rho = C[0, 1] / (s2 * s3)
    th = np.arctan2(La[1, 1], La[1, 0])

    def integrand(r, phi):
        m2 = r * (Bw[0, 0] * np.cos(phi) + Bw[0, 1] * np.sin(phi))
        m3 = r * (Bw[1, 0] * np.cos(phi) + Bw[1, 1] * np.sin(phi))
        dens = r * np.exp(-r * r / 2) / (2 * np.pi)
        return dens * float(_bvn_upper(-m2 / s2, -m3 / s3, rho))

    lo, hi = max(-np.pi / 2, th - np.pi / 2), min(np.pi / 2, th + np.pi / 2)
    val, err = integrate.dblquad(integrand, lo, hi, 0.0, 14.0, epsabs=1e-13, epsrel=1e-12)
    assert err < 1e-11
    return val


def _inner_expect(name, m, v):
    """E[g(Y)] for Y ~ N(m, v), v >= 0."""
    if name == "linear":
        return m
    if name == "erf":
        return erf(m / np.sqrt(2 * (1 + v)))
    s = np.sqrt(v)
    if s == 0:
        return np.maximum(m, 0.0)
    return m * ndtr(m / s) + s * np.exp(-0.5 * (m / s) ** 2) / np.sqrt(2 * np.pi)


def _pair_expect(gc, gd, m2, m3, C, ny=160):
    """E[gc(Y2) gd(Y3)] for (Y2, Y3) ~ N((m2, m3), C): y2 by Gauss–Legendre on each side of 0,
    then E[gd(Y3) | y2] in closed form."""
    c22, c23, c33 = C[0, 0], C[0, 1], C[1, 1]
    if c22 <= 1e-14:
        return _g(gc, m2) * _inner_expect(gd, m3, max(c33, 0.0))
    s2 = np.sqrt(c22)
    half = np.abs(m2) + 12 * s2
    x, w = np.polynomial.legendre.leggauss(ny // 2)
    out = 0.0
    for a, b in ((m2 - half, np.zeros_like(m2)), (np.zeros_like(m2), m2 + half)):
        y = (a + b)[..., None] / 2 + (b - a)[..., None] / 2 * x
        wy = (b - a)[..., None] / 2 * w
        dens = np.exp(-0.5 * ((y - m2[..., None]) / s2) ** 2) / (np.sqrt(2 * np.pi) * s2)
        mc = m3[..., None] + c23 / c22 * (y - m2[..., None])
        inner = _inner_expect(gd, mc, max(c33 - c23 * c23 / c22, 0.0))
        out = out + np.sum(wy * dens * _g(gc, y) * inner, -1)
    return out


def ref_i4_relu(S, gc, gd, nphi=48, nr=64):
    """E[1{x0>0} 1{x1>0} gc(x2) gd(x3)] by integrating (x0, x1) over the wedge in polar
    coordinates (x0 over a half-line if x1 is an exact copy of x0), (x2, x3) conditionally."""
    S = np.asarray(S, float)
    A = S[:2, :2]
    if A[0, 0] * A[1, 1] - A[0, 1] ** 2 <= 1e-14 * A[0, 0] * A[1, 1]:
        b = S[2:, 0] / np.sqrt(A[0, 0])
        x, w = _gl(nr, 0.0, 12.0)
        pdf = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
        return np.sum(
            w * pdf * _pair_expect(gc, gd, b[0] * x, b[1] * x, S[2:, 2:] - np.outer(b, b))
        )
    (m2, m3), C, weight = _wedge(S, nphi, nr)
    return np.sum(weight * _pair_expect(gc, gd, m2, m3, C))


def _p3(R):
    return 1 / 8 + (np.arcsin(R[0, 1]) + np.arcsin(R[0, 2]) + np.arcsin(R[1, 2])) / (4 * np.pi)


def test_orthant_probability_against_independent_references():
    # 1e-9 is the stated accuracy (the observed differences are ~1e-12); the references are
    # accurate to ~1e-13 (dblquad error estimate < 1e-11 asserted inside; exact values exact).
    rng = np.random.default_rng(3)
    for _ in range(3):
        S = _gram(rng, 4, d=5)
        assert abs(ig.orthant_probability(S) - ref_orthant4(S)) < 1e-9
    # exact values: equicorrelation 1/2 gives 1/(n+1); a block-diagonal correlation factorises
    R = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    assert abs(ig.orthant_probability(R) - 0.2) < 1e-9
    R = np.eye(4)
    R[0, 1] = R[1, 0] = 0.3
    R[2, 3] = R[3, 2] = -0.9
    exact = (0.25 + np.arcsin(0.3) / (2 * np.pi)) * (0.25 + np.arcsin(-0.9) / (2 * np.pi))
    assert abs(ig.orthant_probability(R) - exact) < 1e-9
    # exact copy: a three-field orthant (Sheppard/ Plackett closed form); sign flip: zero
    b = rng.normal(size=(3, 5))
    S = b[[0, 1, 1, 2]] @ b[[0, 1, 1, 2]].T
    S3 = b @ b.T
    d = np.sqrt(np.diag(S3))
    assert abs(ig.orthant_probability(S) - _p3(S3 / np.outer(d, d))) < 1e-12
    v = b[[0, 1, 2, 0]] * np.array([[1], [1], [1], [-1]])
    assert ig.orthant_probability(v @ v.T) == 0.0
    # lower dimensions and batches
    assert ig.orthant_probability(np.eye(2)) == pytest.approx(0.25)
    assert ig.orthant_probability(np.eye(3)) == pytest.approx(0.125)
    assert ig.orthant_probability(np.ones((1, 1))) == 0.5
    assert ig.orthant_probability(np.zeros((4, 4))) == 0.0
    assert ig.orthant_probability(np.broadcast_to(np.eye(4), (2, 3, 4, 4))).shape == (2, 3)


@pytest.mark.parametrize(
    "name, idx, seed",
    [
        ("random", None, 17),
        ("random", None, 18),
        ("i = k", [0, 0, 1, 2], 19),
        ("c = a", [0, 1, 0, 2], 20),
        ("c = d", [0, 1, 2, 2], 21),
        ("converged", [0, 1, 0, 1], 22),
    ],
)
def test_relu_student_i4_against_independent_integral(name, idx, seed):
    """All nine (g_c, g_d) with a ReLU student vs a polar-wedge integral (closed forms and the
    two quadrature combinations alike) to 1e-9; the reference is itself converged to ~1e-12."""
    rng = np.random.default_rng(seed)
    if idx is None:
        S = _gram(rng, 4, scale=rng.uniform(0.5, 2.0))
    else:
        b = rng.normal(size=(3, 6)) / np.sqrt(3)
        S = b[idx] @ b[idx].T
    for gc, gd in PAIRS4:  # tolerance 1e-9 = the stated accuracy (observed: <= 1e-12)
        v = float(ig.I4(S, "relu", gc, gd))
        ref = ref_i4_relu(S, gc, gd)
        assert abs(v - ref) < 1e-9, (name, gc, gd, v - ref)
    # the reference's own accuracy: doubling its nodes changes it by far less than 1e-9
    assert abs(ref - ref_i4_relu(S, gc, gd, nphi=96, nr=128)) < 1e-11


def test_quadrature_against_a_much_finer_rule(monkeypatch):
    """The 59-node rule vs a 1200-node one (same integrand) over random, exactly singular and
    nearly singular covariances (smallest eigenvalues 1e-2 … 1e-14): P4 error ≤ 1e-9."""
    rng = np.random.default_rng(5)
    covs = [_gram(rng, 4) for _ in range(20)]
    for eps in 10.0 ** -np.arange(1, 8):
        for k in (1, 2, 3):
            A = rng.normal(size=(4, k)) @ rng.normal(size=(k, 6)) + eps * rng.normal(size=(4, 6))
            covs.append(A @ A.T)
        A = rng.normal(size=(4, 6))
        A[1] = A[0] + eps * rng.normal(size=6)  # nearly equal students
        A[3] = A[2] - eps * rng.normal(size=6)  # a student close to a teacher
        covs.append(A @ A.T)
    covs = np.array(covs)
    coarse = ig.orthant_probability(covs)
    coarse_i4 = ig.I4(covs, "relu", "relu", "relu")
    v = np.arange(-40.0, 24.0, 0.05)  # same map, 10× smaller step, wider range
    s = 1 / (1 + np.exp(-v))
    monkeypatch.setattr(ig, "_S_NODES", s)
    monkeypatch.setattr(ig, "_BASIS", ig._plackett_basis(s, 0.05 * s * (1 - s)))
    fine = ig.orthant_probability(covs)
    fine_i4 = ig.I4(covs, "relu", "relu", "relu")
    # the stated accuracy (observed: 6e-11 on P4); the fine rule is converged to ~1e-13. In I4 the
    # P4 error is multiplied by s2 s3 (standard deviations; variances ~1-10 here), hence the scale.
    assert np.max(np.abs(coarse - fine)) < 1e-9
    scale = np.maximum(1.0, np.sqrt(covs[:, 2, 2] * covs[:, 3, 3]))
    assert np.max(np.abs(coarse_i4 - fine_i4) / scale) < 1e-9


# ------------------------------------------------------------------------------------------
# smoothness and continuity
# ------------------------------------------------------------------------------------------
def _second_differences(f, S0, dS, t0s, h):
    """Δ²_h and Δ²_2h of t ↦ f(S0 + t dS) at the points t0s, from one batched call."""
    ks = np.arange(-2, 3)
    t = np.asarray(t0s)[:, None] + h * ks[None, :]
    vals = f(S0 + t[..., None, None] * dS)
    d2h = vals[:, 3] - 2 * vals[:, 2] + vals[:, 1]
    d22h = vals[:, 4] - 2 * vals[:, 2] + vals[:, 0]
    return d2h, d22h


def _smooth_path(kind, rng):
    """S(t) = S0 + t dS with S0 = b bᵀ and dS = b dbᵀ + db bᵀ (the first-order change of the
    fields b → b + t db); rows of b and db that are equal stay exact copies for every t."""
    if kind == "generic":
        return _gram(rng, 4), 0.2 * _gram(rng, 4) - 0.1 * np.eye(4)
    b = rng.normal(size=(4, 6)) / np.sqrt(6)
    db = rng.normal(size=(4, 6)) / np.sqrt(6)
    if kind == "near-singular":  # teacher 2 within 1e-5 of student 0; students within 1e-4
        b[2] = b[0] + 1e-5 * db[3]
        b[1] = b[0] + 1e-4 * db[2]
        db[1] = db[2] = db[0]
    elif kind == "exact copies":  # a converged student equal to its teacher along the path
        b[2] = b[0]
        db[2] = db[0]
    return b @ b.T, b @ db.T + db @ b.T


@pytest.mark.parametrize("kind", ["generic", "near-singular", "exact copies"])
@pytest.mark.parametrize(
    "func",
    [
        lambda S: ig.I4(S, "relu", "relu", "relu"),
        lambda S: ig.I4(S, "relu", "erf", "erf"),
        ig.orthant_probability,
    ],
    ids=["I4 relu relu relu", "I4 relu erf erf", "orthant"],
)
def test_quadrature_is_smooth_in_the_covariance(kind, func):
    """Second differences at h = 1e-3 are O(h²) and scale by 4 when h doubles (a noisy or
    adaptive rule would leave jumps ~1e-10 that do not scale)."""
    rng = np.random.default_rng(11)
    S0, dS = _smooth_path(kind, rng)
    h = 1e-3
    d2h, d22h = _second_differences(func, S0, dS, np.linspace(-0.02, 0.02, 5), h)
    # D2_h = f'' h^2 + O(h^4): the curvature along these paths is small (observed
    # |D2_h| <= 1e-8, |f''| <~ 1e-2), so 50 h^2 is a loose bound against gross kinks.
    # For a smooth f, D2_2h - 4 D2_h = f'''' h^4 + rounding ~ 1e-12 f'''' + 1e-15
    # (observed <= 6e-12), whereas a rule whose value jumps by eta between nearby
    # covariances (adaptive or random nodes) leaves a residual of order eta; 1e-10
    # detects any eta >~ 2e-11, far below the 1e-9 accuracy.
    assert np.all(np.abs(d2h) < 50 * h * h)
    assert np.all(np.abs(d22h - 4 * d2h) < 1e-10), (d2h, d22h)


def test_continuity_at_exactly_singular_covariances():
    """Approaching an exact copy (student = teacher, equal students) the integrals converge to
    the exactly singular value at the rate of the angle, with no loss of accuracy on the way."""
    rng = np.random.default_rng(21)
    b = rng.normal(size=(4, 6)) / np.sqrt(6)
    xi = rng.normal(size=6) / np.sqrt(6)
    for moved in (1, 2):  # x1 → x0 (students), x2 → x0 (teacher = student)
        exact = b.copy()
        exact[moved] = b[0]
        S_exact = exact @ exact.T
        for gc, gd in [("relu", "relu"), ("erf", "erf"), ("linear", "relu")]:
            f0 = float(ig.I4(S_exact, "relu", gc, gd))
            for eps in (1e-3, 1e-5, 1e-7):
                near = exact.copy()
                near[moved] = b[0] + eps * xi
                f = float(ig.I4(near @ near.T, "relu", gc, gd))
                # the integrals are Lipschitz in the perturbation with a constant of order the
                # variances (<= 1 here): |f - f0| <~ eps; 3 eps leaves margin. A loss of accuracy
                # near the singular point (e.g. 1e-16/eps rounding) would show at eps = 1e-7.
                assert abs(f - f0) < 3 * eps, (moved, gc, gd, eps, f - f0)


# ------------------------------------------------------------------------------------------
# API: shapes, broadcasting, validation, vectorisation
# ------------------------------------------------------------------------------------------
def test_batch_shapes_and_consistency():
    rng = np.random.default_rng(8)
    S = np.array([[_gram(rng, 4) for _ in range(3)] for _ in range(2)])  # (2, 3, 4, 4)
    for fn, n, args in [
        (ig.I2, 2, ("relu", "erf")),
        (ig.J2, 2, ("relu",)),
        (ig.I3, 3, ("relu", "relu")),
        (ig.I4, 4, ("relu", "relu", "relu")),
        (ig.I4, 4, ("erf", "relu", "linear")),
    ]:
        sub = S[..., :n, :n]
        out = fn(sub, *args)
        assert out.shape == (2, 3) and out.dtype == np.float64
        single = np.array([[fn(sub[i, j], *args) for j in range(3)] for i in range(2)])
        np.testing.assert_allclose(out, single, rtol=0, atol=1e-15)  # same arithmetic
        assert np.ndim(fn(sub[0, 0], *args)) == 0


def test_symmetries():
    rng = np.random.default_rng(9)
    S = np.array([_gram(rng, 4) for _ in range(4)])
    swap01 = S[:, [1, 0, 2, 3]][:, :, [1, 0, 2, 3]]
    swap23 = S[:, [0, 1, 3, 2]][:, :, [0, 1, 3, 2]]
    for a, c, d in TRIPLES4:  # permuted inputs: rounding-level differences only
        v = ig.I4(S, a, c, d)
        np.testing.assert_allclose(ig.I4(swap01, a, c, d), v, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ig.I4(swap23, a, d, c), v, rtol=0, atol=1e-12)
    for a, b in PAIRS4:
        np.testing.assert_allclose(
            ig.I2(S[:, :2, :2], a, b), ig.I2(swap01[:, :2, :2], b, a), rtol=0, atol=1e-15
        )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="'g_a' parameter of I2"):
        ig.I2(np.eye(2), "tanh", "relu")
    with pytest.raises(ValueError, match="'g_b' parameter of I2"):
        ig.I2(np.eye(2), "relu", None)
    with pytest.raises(ValueError, match="'g' parameter of J2"):
        ig.J2(np.eye(2), "sigmoid")
    with pytest.raises(ValueError, match="'g_c' parameter of I3"):
        ig.I3(np.eye(3), "erf", "Relu")
    with pytest.raises(ValueError, match="'g_d' parameter of I4"):
        ig.I4(np.eye(4), "erf", "erf", "lin")
    with pytest.raises(ValueError, match=r"'S' parameter of I4 .*\(\.\.\., 4, 4\).*\(3, 3\)"):
        ig.I4(np.eye(3), "relu", "relu", "relu")
    with pytest.raises(ValueError, match="'S' parameter of I3"):
        ig.I3(np.ones(3), "relu", "relu")
    with pytest.raises(ValueError, match="'S' parameter of J2"):
        ig.J2("not a matrix", "relu")
    with pytest.raises(ValueError, match="'S' parameter of orthant_probability"):
        ig.orthant_probability(np.eye(5))


def test_nan_propagates():
    S = np.eye(4)
    S[2, 2] = np.nan
    for a, c, d in TRIPLES4:
        assert np.isnan(ig.I4(S, a, c, d))
    assert np.isnan(ig.I3(S[:3, :3], "relu", "relu")) and np.isnan(ig.J2(S[1:3, 1:3], "relu"))


def test_large_vectorised_call():
    """5000 tuples (the size of one ODE right-hand side) in one call, across the internal
    blocks, equal to the same tuples evaluated in small calls (speed: module docstring)."""
    rng = np.random.default_rng(10)
    A = rng.normal(size=(5000, 4, 6))
    S = A @ np.swapaxes(A, -1, -2) / 6
    ig.I4(S[:10], "relu", "relu", "relu")
    out = ig.I4(S, "relu", "relu", "relu")
    assert out.shape == (5000,) and np.all(np.isfinite(out))
    pieces = np.concatenate([ig.I4(S[i : i + 97], "relu", "relu", "relu")
                             for i in range(0, 5000, 97)])
    np.testing.assert_array_equal(out, pieces)
