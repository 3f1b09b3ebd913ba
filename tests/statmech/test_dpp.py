"""Exact k-DPP / DPP sampling (statmech.pruning.dpp).

Statistical tests use fixed seeds, so every run is deterministic; the thresholds below are the
false-alarm rates each test would have with a fresh seed:

* goodness of fit against exact enumeration: Pearson chi-square, reject if p < ALPHA = 1e-3
  (cells with expected count < 5 pooled into one);
* marginals: per-item z-tests (or exact binomial tests where counts are small), family-wise
  rate ALPHA with a Bonferroni correction over the n items;
* the negative controls must give p < 1e-12 (the chi-square test has power).
"""

import importlib.util
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from statmech.pruning.dpp import (
    KDPP,
    _projection_chain,
    inclusion_probabilities,
    log_normaliser,
    sample_dpp,
    sample_k_dpp,
)

ALPHA = 1e-3
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _cupy_available():
    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    return bool(cupy.is_available())


ARRAY_BACKENDS = [
    pytest.param("torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")),
    pytest.param("cupy", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not _cupy_available(), reason="no GPU")]),
]


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def random_kernel(n, seed, spectrum=None):
    """Random PSD kernel: X Xᵀ/n (X Gaussian n×n), or Q diag(spectrum) Qᵀ with Haar Q."""
    rng = np.random.default_rng(seed)
    if spectrum is None:
        X = rng.standard_normal((n, n))
        return X @ X.T / n
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))
    L = (Q * np.asarray(spectrum, dtype=float)) @ Q.T
    return 0.5 * (L + L.T)


def subset_law(L, k=None):
    """All subsets (of size k, or all sizes for the DPP) and their exact probabilities."""
    n = L.shape[0]
    sizes = range(n + 1) if k is None else [k]
    subsets = [s for r in sizes for s in itertools.combinations(range(n), r)]
    w = np.array([np.linalg.det(L[np.ix_(s, s)]) if s else 1.0 for s in subsets])
    w = np.clip(w, 0.0, None)
    return subsets, w / w.sum()


def subset_counts(draws, subsets):
    index = {s: i for i, s in enumerate(subsets)}
    counts = np.zeros(len(subsets), dtype=np.int64)
    for s in draws:
        counts[index[tuple(int(i) for i in s)]] += 1
    return counts


def chi2_pvalue(counts, probs):
    """Pearson chi-square p-value; cells with expected count < 5 are pooled."""
    N = counts.sum()
    expected = probs * N
    big = expected >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] == 0:
        assert obs[-1] == 0
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue


def inclusion_by_enumeration(L, k=None):
    subsets, p = subset_law(L, k)
    out = np.zeros(L.shape[0])
    for s, q in zip(subsets, p, strict=True):
        out[list(s)] += q
    return out


def frequencies(draws, n):
    f = np.zeros(n)
    for s in draws:
        f[np.asarray(s, dtype=int)] += 1
    return f / len(draws)


def assert_z_tests(freq, probs, N, alpha=ALPHA):
    """Per-item z-tests of empirical inclusion frequencies, Bonferroni over the items."""
    n = probs.size
    zcrit = stats.norm.isf(alpha / (2 * n))
    sd = np.sqrt(np.clip(probs * (1 - probs), 1e-300, None) / N)
    z = np.abs(freq - probs) / sd
    informative = (probs > 0) & (probs < 1)
    assert np.all(z[informative] < zcrit), (np.max(z[informative]), zcrit)
    # items of probability 0 or 1 must never / always be drawn
    assert np.all(freq[probs == 0] == 0) and np.all(freq[probs == 1] == 1)


def assert_binomial_tests(counts, probs, N, alpha=ALPHA):
    """Exact two-sided binomial tests per item, Bonferroni over the items."""
    probs = np.clip(probs, 0.0, 1.0)
    lo = stats.binom.cdf(counts, N, probs)
    hi = stats.binom.sf(counts - 1, N, probs)
    pval = np.minimum(1.0, 2 * np.minimum(lo, hi))
    assert np.all(pval > alpha / probs.size), (np.min(pval), alpha / probs.size)


def assert_valid_rows(S, n, k):
    assert S.dtype == np.int64
    assert S.shape[-1] == k
    flat = S.reshape(-1, k)
    assert np.all((flat >= 0) & (flat < n))
    assert np.all(np.diff(flat, axis=1) > 0)  # sorted and distinct


# ------------------------------------------------------------------------------------------
# 1. exactness against enumeration
# ------------------------------------------------------------------------------------------
SPREAD = np.geomspace(0.02, 20.0, 7)  # spread spectrum: the wrong samplers below are far off


@pytest.mark.parametrize("spectrum", [None, SPREAD], ids=["XXt", "spread"])
def test_k_dpp_matches_enumeration(spectrum):
    L = random_kernel(7, 1, spectrum)
    subsets, p = subset_law(L, 3)
    S = sample_k_dpp(L, 3, size=20000, seed=2)
    assert S.shape == (20000, 3)
    assert_valid_rows(S, 7, 3)
    assert chi2_pvalue(subset_counts(S, subsets), p) > ALPHA


def test_k_dpp_degenerate_spectrum_matches_enumeration():
    # repeated eigenvalues: eigh returns an arbitrary basis of each eigenspace, the law must not
    # depend on it (L = I gives the uniform law on k-subsets)
    for L in (np.eye(6), random_kernel(6, 3, [0.0, 1.0, 1.0, 1.0, 4.0, 4.0])):
        subsets, p = subset_law(L, 2)
        S = sample_k_dpp(L, 2, size=10000, seed=4)
        assert chi2_pvalue(subset_counts(S, subsets), p) > ALPHA


def test_batched_k_dpp_each_kernel_matches_enumeration():
    Ls = np.stack([random_kernel(7, 10), random_kernel(7, 11, SPREAD), 3.0 * np.eye(7)])
    S = sample_k_dpp(Ls, 3, size=20000, seed=5)
    assert S.shape == (3, 20000, 3)
    for b in range(3):
        assert_valid_rows(S[b], 7, 3)
        subsets, p = subset_law(Ls[b], 3)
        assert chi2_pvalue(subset_counts(S[b], subsets), p) > ALPHA
    # a stack of one kernel gives the same draws as the kernel alone
    np.testing.assert_array_equal(sample_k_dpp(Ls[:1], 3, size=50, seed=6)[0],
                                  sample_k_dpp(Ls[0], 3, size=50, seed=6))


def test_dpp_matches_enumeration():
    L = random_kernel(6, 20, np.geomspace(0.05, 5.0, 6))
    subsets, p = subset_law(L, None)
    draws = sample_dpp(L, size=20000, seed=7)
    assert len(draws) == 20000 and all(d.dtype == np.int64 for d in draws)
    assert chi2_pvalue(subset_counts(draws, subsets), p) > ALPHA


def test_batched_dpp_each_kernel_matches_enumeration():
    base = random_kernel(5, 21)
    Ls = np.stack([0.3 * base, base, random_kernel(5, 22, [0.0, 0.5, 1.0, 2.0, 50.0])])
    draws = sample_dpp(Ls, size=20000, seed=8)
    assert len(draws) == 3 and all(len(d) == 20000 for d in draws)
    for b in range(3):
        subsets, p = subset_law(Ls[b], None)
        assert chi2_pvalue(subset_counts(draws[b], subsets), p) > ALPHA


# ------------------------------------------------------------------------------------------
# 2. negative controls: the chi-square test has power
# ------------------------------------------------------------------------------------------
def test_chi2_rejects_diagonal_weighted_sampler():
    """Items ∝ diag(L) without replacement (Gumbel top-k): plausible, but not a k-DPP."""
    L = random_kernel(7, 1, SPREAD)
    subsets, p = subset_law(L, 3)
    rng = np.random.default_rng(0)
    keys = np.log(np.diag(L)) + rng.gumbel(size=(20000, 7))
    S = np.sort(np.argsort(-keys, axis=1)[:, :3], axis=1)
    assert chi2_pvalue(subset_counts(S, subsets), p) < 1e-12


def test_chi2_rejects_uniform_eigenvector_choice():
    """Phase 1 replaced by a uniform choice of k eigenvectors; phase 2 is the exact one."""
    L = random_kernel(7, 1, SPREAD)
    subsets, p = subset_law(L, 3)
    rng = np.random.default_rng(1)
    _, U = np.linalg.eigh(L)
    J = np.sort(np.argsort(rng.random((20000, 7)), axis=1)[:, :3], axis=1)
    Vt = U.T[J]  # (draws, k, n): the chosen eigenvectors as rows
    S = np.sort(_projection_chain(Vt, rng.random((20000, 3)), None, np), axis=1)
    assert_valid_rows(S, 7, 3)  # still valid sets ...
    assert chi2_pvalue(subset_counts(S, subsets), p) < 1e-12  # ... from the wrong law


# ------------------------------------------------------------------------------------------
# 3. inclusion probabilities and normalisers
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_inclusion_probabilities_equal_enumeration(seed):
    kernels = [random_kernel(6, seed), random_kernel(6, seed + 5, [0, 0, 0.1, 1, 10, 1e3])]
    for L in kernels:
        rank = int(np.sum(np.linalg.eigvalsh(L) > 1e-9))
        for k in range(rank + 1):
            probs = inclusion_probabilities(L, k)
            np.testing.assert_allclose(probs, inclusion_by_enumeration(L, k), rtol=0, atol=1e-10)
            np.testing.assert_allclose(probs.sum(), k, atol=1e-10)
            subsets, _ = subset_law(L, k)
            e_k = sum(np.linalg.det(L[np.ix_(s, s)]) if s else 1.0 for s in subsets)
            np.testing.assert_allclose(log_normaliser(L, k), np.log(e_k), rtol=1e-10)
        marg = np.diag(L @ np.linalg.inv(np.eye(6) + L))
        np.testing.assert_allclose(inclusion_probabilities(L, None), marg, atol=1e-10)
        np.testing.assert_allclose(inclusion_by_enumeration(L), marg, atol=1e-10)
        np.testing.assert_allclose(log_normaliser(L, None),
                                   np.linalg.slogdet(np.eye(6) + L)[1], rtol=1e-10)


def test_inclusion_probabilities_batched_and_cached():
    Ls = np.stack([random_kernel(6, 30), random_kernel(6, 31, SPREAD[:6])])
    probs = inclusion_probabilities(Ls, 2)
    assert probs.shape == (2, 6)
    for b in range(2):
        np.testing.assert_allclose(probs[b], inclusion_by_enumeration(Ls[b], 2), atol=1e-10)
    dpp = KDPP(Ls)
    np.testing.assert_allclose(dpp.inclusion_probabilities(2), probs, atol=1e-14)
    assert dpp.log_normaliser(2).shape == (2,)
    np.testing.assert_array_equal(inclusion_probabilities(Ls, 0), np.zeros((2, 6)))
    assert log_normaliser(Ls[0], 0) == 0.0


def test_k_dpp_inclusion_frequencies_match_n30():
    L = random_kernel(30, 40)
    N, k = 20000, 8
    S = sample_k_dpp(L, k, size=N, seed=41)
    assert_valid_rows(S, 30, k)
    assert_z_tests(frequencies(S, 30), inclusion_probabilities(L, k), N)


def test_dpp_inclusion_frequencies_and_cardinality_match_n30():
    L = random_kernel(30, 42)
    N = 10000
    draws = sample_dpp(L, size=N, seed=43)
    probs = inclusion_probabilities(L, None)
    assert_z_tests(frequencies(draws, 30), probs, N)
    lam = np.linalg.eigvalsh(L)
    mean, var = np.sum(lam / (1 + lam)), np.sum(lam / (1 + lam) ** 2)
    sizes = np.array([len(d) for d in draws])
    assert abs(sizes.mean() - mean) < stats.norm.isf(ALPHA / 2) * math.sqrt(var / N)


# ------------------------------------------------------------------------------------------
# 4. ill-conditioned kernels (DPPy 0.3.3 fails on all of these; statmech.pruning.dpp, "Why log
# space")
# ------------------------------------------------------------------------------------------
def test_geometric_spectrum_cond_1e16():
    n, k, N = 300, 200, 100
    L = random_kernel(n, 50, np.geomspace(1e-12, 1e4, n))
    dpp = KDPP(L)
    assert k < dpp.rank < n  # the smallest eigenvalues are below n·eps·λ_max: exact zeros
    S = dpp.sample(k, size=N, seed=51)
    assert S.shape == (N, k)
    assert_valid_rows(S, n, k)
    probs = dpp.inclusion_probabilities(k)
    assert np.all(np.isfinite(probs)) and abs(probs.sum() - k) < 1e-8
    assert np.isfinite(dpp.log_normaliser(k))
    assert_binomial_tests(np.bincount(S.ravel(), minlength=n), probs, N)


@pytest.mark.parametrize("k", [250, 400])
def test_unnormalised_hidden_unit_gram_overflow(k):
    # W Wᵀ with K = 500 hidden units, d = 500, W ~ N(0, 1): log e_k far beyond float64
    rng = np.random.default_rng(60)
    W = rng.standard_normal((500, 500))
    L = W @ W.T
    dpp = KDPP(L)
    log_ek = dpp.log_normaliser(k)
    assert np.isfinite(log_ek) and log_ek > 700  # e_k itself would overflow (> 1.8e308)
    N = 20
    S = dpp.sample(k, size=N, seed=61)
    assert_valid_rows(S, 500, k)
    probs = dpp.inclusion_probabilities(k)
    assert np.all(np.isfinite(probs)) and abs(probs.sum() - k) < 1e-8
    assert_binomial_tests(np.bincount(S.ravel(), minlength=500), probs, N)


def test_rank_deficient_kernel():
    rng = np.random.default_rng(70)
    X = rng.standard_normal((20, 5))
    L = X @ X.T
    dpp = KDPP(L)
    assert dpp.rank == 5
    with pytest.raises(ValueError, match=r"'k'.*numerical rank 5.*jitter"):
        sample_k_dpp(L, 6, seed=0)
    with pytest.raises(ValueError, match="numerical rank 5"):
        inclusion_probabilities(L, 6)
    assert log_normaliser(L, 6) == -np.inf
    # k = rank: the projection DPP onto the range of L, P(i ∈ S) = (L L⁺)_ii
    N = 4000
    S = dpp.sample(5, size=N, seed=71)
    assert_valid_rows(S, 20, 5)
    probs = dpp.inclusion_probabilities(5)
    np.testing.assert_allclose(probs, np.diag(L @ np.linalg.pinv(L)), atol=1e-10)
    assert_z_tests(frequencies(S, 20), probs, N)


def test_rbf_kernel_rank_boundary():
    x = np.linspace(0.0, 1.0, 300)
    L = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * 0.1**2))
    dpp = KDPP(L)
    r = dpp.rank
    assert 10 < r < 60
    S = dpp.sample(r, size=20, seed=80)
    assert_valid_rows(S, 300, r)
    with pytest.raises(ValueError, match=f"numerical rank {r}"):
        dpp.sample(r + 1)
    # a stack: the message names the offending kernel
    with pytest.raises(ValueError, match=f"kernel 1 of the stack has numerical rank {r}"):
        sample_k_dpp(np.stack([np.eye(300), L]), r + 1, seed=0)


def test_projection_phase_never_fails_on_degenerate_input():
    # rows spanning only 2 dimensions while 3 items are asked for: residuals vanish after two
    # steps, the sampler must still return distinct items and no NaN (no "sum to 1" error)
    rng = np.random.default_rng(90)
    V = np.linalg.qr(rng.standard_normal((8, 2)))[0]
    Vt = np.repeat(np.concatenate([V.T, V.T[:1]])[None], 500, axis=0)  # 3rd row duplicates
    out = _projection_chain(Vt, rng.random((500, 3)), None, np)
    assert_valid_rows(np.sort(out, axis=1), 8, 3)


# ------------------------------------------------------------------------------------------
# 5. scale invariance
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", [1e6, 1e-6])
def test_k_dpp_is_scale_invariant(c):
    L = random_kernel(12, 100)
    k = 5
    np.testing.assert_allclose(inclusion_probabilities(c * L, k), inclusion_probabilities(L, k),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(log_normaliser(c * L, k), log_normaliser(L, k) + k * math.log(c),
                               rtol=1e-12)
    # log-space ESPs of λ/λ_max: the same seed gives the same samples
    np.testing.assert_array_equal(sample_k_dpp(c * L, k, size=500, seed=101),
                                  sample_k_dpp(L, k, size=500, seed=101))


# ------------------------------------------------------------------------------------------
# 6. DPPy as an oracle on a well-conditioned kernel
# ------------------------------------------------------------------------------------------
def test_agrees_with_dppy():
    pytest.importorskip("dppy")
    from dppy.finite_dpps import FiniteDPP

    L = random_kernel(10, 110)
    k, N = 4, 2000
    dpp = FiniteDPP("likelihood", L=L)
    rs = np.random.RandomState(111)
    theirs = np.zeros(10)
    for _ in range(N):
        theirs[dpp.sample_exact_k_dpp(size=k, random_state=rs)] += 1
    ours = np.bincount(sample_k_dpp(L, k, size=N, seed=112).ravel(), minlength=10)
    # two-proportion z-tests, Bonferroni over the 10 items
    pooled = (theirs + ours) / (2 * N)
    z = np.abs(theirs - ours) / N / np.sqrt(2 * pooled * (1 - pooled) / N)
    assert np.all(z < stats.norm.isf(ALPHA / 20)), z
    assert_z_tests(theirs / N, inclusion_probabilities(L, k), N)  # and DPPy vs the exact marginals


# ------------------------------------------------------------------------------------------
# API: shapes, seeds, caching
# ------------------------------------------------------------------------------------------
def test_k_zero_and_shapes():
    L = random_kernel(5, 120)
    assert sample_k_dpp(L, 0, size=3, seed=0).shape == (3, 0)
    assert sample_k_dpp(np.stack([L, L]), 0, size=3, seed=0).shape == (2, 3, 0)
    assert sample_k_dpp(L, 5, size=2, seed=0).tolist() == [[0, 1, 2, 3, 4]] * 2
    assert sample_k_dpp([[2.0]], 1, seed=0).tolist() == [[0]]
    assert all(d.size == 0 for d in sample_dpp(np.zeros((4, 4)), size=5, seed=0))
    big = sample_dpp(1e12 * np.eye(4), size=3, seed=0)
    assert all(d.tolist() == [0, 1, 2, 3] for d in big)


def test_seeds_are_reproducible():
    L = random_kernel(9, 130)
    a = sample_k_dpp(L, 4, size=30, seed=5)
    np.testing.assert_array_equal(a, sample_k_dpp(L, 4, size=30, seed=5))
    np.testing.assert_array_equal(a, sample_k_dpp(L, 4, size=30, seed=np.random.default_rng(5)))
    np.testing.assert_array_equal(
        sample_k_dpp(L, 4, size=30, seed=np.random.SeedSequence(9)),
        sample_k_dpp(L, 4, size=30, seed=np.random.default_rng(np.random.SeedSequence(9))))
    assert not np.array_equal(a, sample_k_dpp(L, 4, size=30, seed=6))
    d1, d2 = sample_dpp(L, size=10, seed=3), sample_dpp(L, size=10, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(d1, d2, strict=True))


def test_scalar_and_vectorised_eigenvector_choice_agree(monkeypatch):
    import statmech.pruning.dpp as dpp_module

    L = np.stack([random_kernel(40, 145), random_kernel(40, 146, np.geomspace(1e-3, 1e3, 40))])
    dpp = KDPP(L)
    for size in (1, 2):  # B * size <= _SCALAR_DRAWS: the plain-Python loop
        a = dpp.sample(7, size=size, seed=9)
        monkeypatch.setattr(dpp_module, "_SCALAR_DRAWS", 0)
        np.testing.assert_array_equal(a, dpp.sample(7, size=size, seed=9))
        monkeypatch.undo()


def test_kdpp_caches_spectrum_and_esp_tables(monkeypatch):
    import statmech.pruning.dpp as dpp_module

    L = random_kernel(15, 140)
    dpp = KDPP(L)
    calls = []
    real = dpp_module._log_esp_table
    monkeypatch.setattr(dpp_module, "_log_esp_table", lambda *a: calls.append(a[1]) or real(*a))
    monkeypatch.setattr(np.linalg, "eigh", lambda *a, **kw: pytest.fail("eigh recomputed"))
    dpp.sample(6, size=3, seed=0)
    dpp.sample(6, size=3, seed=1)
    dpp.sample(4, size=3, seed=2)  # a smaller k reuses the k = 6 table
    dpp.log_normaliser(5)
    assert calls == [6]
    dpp.inclusion_probabilities(6)  # adds the suffix table only
    dpp.inclusion_probabilities(6)
    assert calls == [6, 5]
    dpp.sample(7, seed=3)  # a larger k extends the table
    assert calls == [6, 5, 7]
    assert dpp.n == 15 and not dpp.batched and dpp.rank == 15
    assert dpp.eigenvalues.shape == (15,) and np.all(np.diff(dpp.eigenvalues) >= 0)


def test_slightly_asymmetric_and_torch_tensor_input():
    L = random_kernel(6, 150)
    noisy = L + 1e-12 * np.triu(np.ones((6, 6)))
    np.testing.assert_allclose(inclusion_probabilities(noisy, 2), inclusion_probabilities(L, 2),
                               atol=1e-10)
    if HAS_TORCH:
        import torch

        np.testing.assert_array_equal(sample_k_dpp(torch.from_numpy(L), 2, size=5, seed=0),
                                      sample_k_dpp(L, 2, size=5, seed=0))


# ------------------------------------------------------------------------------------------
# 7. bad input
# ------------------------------------------------------------------------------------------
_GOOD = np.eye(4) + 0.1
_NONSYM = _GOOD.copy()
_NONSYM[0, 1] += 1e-3
_NAN = _GOOD.copy()
_NAN[1, 2] = _NAN[2, 1] = np.nan
_INF = _GOOD.copy()
_INF[0, 0] = np.inf


@pytest.mark.parametrize(
    ("L", "match"),
    [
        (np.ones((3, 4)), r"'L'.*shape \(3, 4\)"),
        (np.ones(4), r"'L'.*shape \(4,\)"),
        (np.ones((2, 2, 3, 3)), r"'L'.*shape \(2, 2, 3, 3\)"),
        (np.zeros((0, 0)), "'L'"),
        (_NONSYM, "'L'.*symmetric"),
        (np.stack([_GOOD, _NONSYM]), "'L'.*Kernel 1 of the stack"),
        (_NAN, "'L'.*NaN or infinite"),
        (_INF, "'L'.*NaN or infinite"),
        (np.diag([1.0, 2.0, -0.5, 1.0]), "'L'.*positive semi-definite.*smallest eigenvalue -0.5"),
        (_GOOD + 0j, "'L'"),
        ("abc", "'L'"),
        ([[1.0, "x"], ["x", 1.0]], "'L'"),
    ],
)
def test_bad_kernel(L, match):
    for call in (lambda: sample_k_dpp(L, 1), lambda: sample_dpp(L), lambda: KDPP(L),
                 lambda: inclusion_probabilities(L, 1), lambda: log_normaliser(L, 1)):
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("k", [-1, 5, 2.0, True, None, "2", np.float64(1.0)])
def test_bad_k(k):
    with pytest.raises(ValueError, match=r"'k' parameter of sample_k_dpp must be an int.*n = 4"):
        sample_k_dpp(_GOOD, k)
    with pytest.raises(ValueError, match="'k' parameter of KDPP.sample"):
        KDPP(_GOOD).sample(k)


def test_numpy_integer_k_is_accepted():
    assert sample_k_dpp(_GOOD, np.int64(2), seed=0).shape == (1, 2)


@pytest.mark.parametrize("size", [0, -3, 1.5, True, None])
def test_bad_size(size):
    with pytest.raises(ValueError, match="'size' parameter of sample_k_dpp must be an int >= 1"):
        sample_k_dpp(_GOOD, 2, size=size)
    with pytest.raises(ValueError, match="'size' parameter of sample_dpp"):
        sample_dpp(_GOOD, size=size)


@pytest.mark.parametrize("seed", [-1, 1.5, "s", np.random.RandomState(0)])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="'seed' parameter of sample_k_dpp"):
        sample_k_dpp(_GOOD, 2, seed=seed)


def test_bad_backend():
    with pytest.raises(ValueError, match="'backend'"):
        sample_k_dpp(_GOOD, 2, backend="jax")
    with pytest.raises(ValueError, match="'backend'"):
        sample_k_dpp(_GOOD, 2, backend=3)


# ------------------------------------------------------------------------------------------
# 8. torch backend
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ARRAY_BACKENDS)
def test_array_backend_matches_enumeration(backend):
    """torch (CUDA when available, else CPU) and CuPy run eigh and phase 2 on their device."""
    L = random_kernel(7, 1, SPREAD)
    subsets, p = subset_law(L, 3)
    S = sample_k_dpp(L, 3, size=5000, seed=200, backend=backend)
    assert isinstance(S, np.ndarray) and S.shape == (5000, 3)
    assert chi2_pvalue(subset_counts(S, subsets), p) > ALPHA
    Ls = np.stack([L, random_kernel(7, 201)])
    np.testing.assert_allclose(inclusion_probabilities(Ls, 3, backend=backend),
                               inclusion_probabilities(Ls, 3), atol=1e-12)
    np.testing.assert_allclose(log_normaliser(Ls, 3, backend=backend), log_normaliser(Ls, 3),
                               rtol=1e-12)
    Lsmall = random_kernel(5, 202)
    subsets, p = subset_law(Lsmall, None)
    draws = sample_dpp(Lsmall, size=5000, seed=203, backend=backend)
    assert chi2_pvalue(subset_counts(draws, subsets), p) > ALPHA
    batched = sample_dpp(Ls, size=4, seed=204, backend=backend)
    assert len(batched) == 2 and len(batched[1]) == 4
    # an ill-conditioned, overflowing case runs on the device too
    W = np.random.default_rng(205).standard_normal((300, 300))
    S = sample_k_dpp(W @ W.T, 150, size=3, seed=206, backend=backend)
    assert_valid_rows(S, 300, 150)
