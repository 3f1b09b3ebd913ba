"""Companion paper A (Guha, Dubey & Huo, arXiv 2305.18789; ``docs/companion_papers.md`` §1.3–1.4):
randomised magnitude pruning, its Gaussian closed forms, the ``mbp_edge`` pruning method's
theory, and sparse-matrix sketching.

Monte Carlo comparisons are z-tests with a family-wise false-alarm rate of 0.27 % (Bonferroni
over the entries or values compared in one test).
"""

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

import statmech as sm
from statmech import pruning as P
from statmech.companion import (
    d_for_fraction,
    error_second_moment,
    error_spectral_norm,
    expander_matrix,
    keep_probability,
    kept_fraction,
    mbp_mask,
    predicted_max_row_nonzeros,
    recover,
    row_col_counts,
    sketch,
    sketch_size,
)
from statmech.pruning.mbp_edge import MBP_EDGE, gaussian_weighted_second_moment

FAMILY = 0.0027
DS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)


@pytest.fixture(scope="module", autouse=True)
def single_blas_thread():
    """On a few shared cores OpenBLAS threads fight (a 400 × 800 SVD took 6 s): one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def gaussian_matrix():
    """A 400 × 800 matrix of i.i.d. N(0, 0.49) entries (the check of §1.3)."""
    return 0.7 * np.random.default_rng(0).standard_normal((400, 800))


# ------------------------------------------------------------------------------------------
# closed forms (§1.3)


def test_kept_fraction_matches_monte_carlo(gaussian_matrix):
    """Measured density vs κ(d). The standard error combines the Bernoulli draws given W and
    the sampling of W itself, Ψ̂ included (influence function of mean p(W²/Ψ̂):
    p_i − κ − β (W_i²/Ψ̂ − 1), β = mean p′(x) x)."""
    W = gaussian_matrix
    n = W.size
    thr = stats.norm.isf(FAMILY / len(DS) / 2)
    for i, d in enumerate(DS):
        mask = mbp_mask(W, d, rng=i)
        p = keep_probability(W, d)
        x = W * W / np.var(W)
        beta = np.mean(np.exp(-x / d) / d * x)
        infl = p - p.mean() - beta * (x - 1.0)
        se = np.sqrt(np.sum(p * (1 - p)) + np.sum(infl**2)) / n
        z = (mask.mean() - kept_fraction(d)) / se
        assert abs(z) < thr, (d, mask.mean(), kept_fraction(d), z)


def test_published_kappa_values_and_inverse_round_trip():
    for d, k in ((0.5, 0.553), (1, 0.423), (2, 0.293), (5, 0.155), (10, 0.087)):
        assert kept_fraction(d) == pytest.approx(k, abs=5e-4)
    assert kept_fraction(0.0) == 1.0
    ds = np.array([1e-6, 0.01, 0.3, 1.0, 7.0, 123.0])
    np.testing.assert_allclose(d_for_fraction(kept_fraction(ds)), ds, rtol=1e-9)
    cs = np.array([1e-4, 0.1, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(kept_fraction(d_for_fraction(cs)), cs, rtol=1e-12)
    assert d_for_fraction(1.0) == 0.0


@pytest.mark.parametrize("d", [1.0, 10.0])
def test_error_moments_match_the_gaussian_closed_forms(gaussian_matrix, d):
    W = gaussian_matrix
    psi = float(np.var(W))
    Delta = np.where(mbp_mask(W, d, rng=7), 0.0, W)
    assert np.mean(Delta**2) == pytest.approx(error_second_moment(d, psi), rel=0.03)
    measured = np.sqrt(np.linalg.eigvalsh(Delta @ Delta.T)[-1])  # ‖Δ‖₂, cheaper than an SVD
    predicted = error_spectral_norm(d, psi, n_in=W.shape[1], n_out=W.shape[0])
    assert measured == pytest.approx(predicted, rel=0.04)


def test_negative_control_deterministic_threshold_has_another_error(gaussian_matrix):
    """A magnitude threshold at the same density κ(d) removes the small weights only: its
    E[Δ²] = Ψ(1 − κ − 2zφ(z)) is far from Ψ (d/(d+2))^{3/2} and the 3 % test rejects it."""
    W = gaussian_matrix
    psi = float(np.var(W))
    for d in (1.0, 2.0):
        z = ndtri(1 - kept_fraction(d) / 2)
        Delta = np.where(np.abs(W) > z * np.sqrt(psi), 0.0, W)
        assert np.mean(Delta != 0) == pytest.approx(1 - kept_fraction(d), abs=0.01)
        closed = error_second_moment(d, psi)
        assert abs(np.mean(Delta**2) / closed - 1) > 0.3


def test_row_count_cap_published_curve():
    """3 · n · κ(d): the exact predicted curves of the authors' numcounts figures (§1.7)."""
    assert predicted_max_row_nonzeros(784, 1e-9) == pytest.approx(2352, rel=1e-4)
    assert predicted_max_row_nonzeros(784, 10) == pytest.approx(204.9, abs=0.05)
    assert predicted_max_row_nonzeros(3072, 1e-9) == pytest.approx(9216, rel=1e-4)
    exact = 3 * 3072 * (1 - np.sqrt(10 / 12))
    assert predicted_max_row_nonzeros(3072, 10) == pytest.approx(exact, rel=1e-12)
    assert round(exact, 1) == 802.9 or round(exact, 1) == 803.0
    assert round(predicted_max_row_nonzeros(3072, 10)) == 803
    np.testing.assert_allclose(predicted_max_row_nonzeros(784, np.array([1.0, 2.0])),
                               3 * 784 * kept_fraction(np.array([1.0, 2.0])))


def test_measured_row_counts_stay_below_the_cap():
    W = np.random.default_rng(1).standard_normal((300, 784))
    for d in (0.1, 1.0, 10.0):
        mask = mbp_mask(W, d, rng=2)
        j_r, j_c = row_col_counts(mask)
        assert j_r == mask.sum(1).max() and j_c == mask.sum(0).max()
        assert mask.sum(1).mean() < j_r < predicted_max_row_nonzeros(784, d)
        assert j_c < predicted_max_row_nonzeros(300, d)


def test_mask_options_and_edge_cases():
    W = np.random.default_rng(3).standard_normal((30, 40))
    assert mbp_mask(W, 0.0, rng=0).all()
    assert mbp_mask(np.full((3, 4), 2.0), 1.0, rng=0).all()  # Ψ = 0: nothing to compare with
    m = mbp_mask(W, 50.0, rng=0, keep_diagonal=True)
    assert m[np.arange(30), np.arange(30)].all()
    np.testing.assert_array_equal(mbp_mask(W, 1.0, rng=5), mbp_mask(W, 1.0, rng=5))


# ------------------------------------------------------------------------------------------
# the mbp_edge pruning method and its theory


def _op(K=4, M=2, seed=0):
    """Order parameters with unequal unit norms (so one Ψ per layer matters) and overlaps."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((K + M, K + M))
    C = A @ A.T / (K + M) + 0.2 * np.eye(K + M)
    s = np.sqrt(np.r_[np.linspace(0.5, 2.0, K), np.ones(M)] / np.diagonal(C))
    C = C * np.outer(s, s)
    return sm.OrderParameters(Q=C[:K, :K], R=C[:K, K:], T=C[K:, K:], v=np.ones(K),
                              v_star=np.ones(M)), C


def _z(samples, expected):
    se = samples.std(0, ddof=1) / np.sqrt(samples.shape[0])
    return (samples.mean(0) - expected) / se


def test_gaussian_weighted_second_moment_identity():
    """det(I+CD)^{-1/2}(I+CD)^{-1}C = E[x xᵀ exp(−½xᵀDx)]: Monte Carlo on a singular C, and
    the 2 × 2 closed form C_12 det^{−3/2} used by the theory."""
    rng = np.random.default_rng(4)
    B = rng.standard_normal((3, 2))
    C = B @ B.T  # rank 2
    a = np.array([0.7, 1.3, 0.0])
    x = rng.standard_normal((400_000, 2)) @ B.T
    w = np.exp(-0.5 * (x * x) @ a)
    mc = (x[:, :, None] * x[:, None, :] * w[:, None, None])
    z = _z(mc.reshape(len(x), -1), gaussian_weighted_second_moment(C, a).ravel())
    assert np.all(np.abs(z) < stats.norm.isf(FAMILY / 9 / 2))
    C2 = np.array([[1.2, 0.5], [0.5, 0.8]])
    G = gaussian_weighted_second_moment(C2, [0.9, 0.4])
    det = (1 + 0.9 * 1.2) * (1 + 0.4 * 0.8) - 0.9 * 0.4 * 0.25
    assert G[0, 1] == pytest.approx(0.5 * det**-1.5, rel=1e-12)


def test_mbp_edge_large_n_theory_matches_explicit_masks():
    """E[Q′], E[R′] from prune_theory (Gaussian coordinates, Ψ = mean diag Q) against explicit
    pruning of 30 independent draws of N = 4000 Gaussian coordinates with covariance
    [[Q, R], [Rᵀ, T]]; random edge's theory at the same fraction is rejected."""
    op, C = _op()
    K = op.K
    c = 0.3
    th = P.prune_theory(op, "mbp_edge", c)
    L = np.linalg.cholesky(C)
    rng = np.random.default_rng(11)
    Qs, Rs = [], []
    for r in range(30):
        X = L @ rng.standard_normal((C.shape[0], 4000))
        res = sm.prune("mbp_edge", X[:K], op.v, keep=c, seed=r)
        o = res.order_parameters(X[K:])
        Qs.append(o.Q[0][np.triu_indices(K)])
        Rs.append(o.R[0].ravel())
    samples = np.hstack([np.array(Qs), np.array(Rs)])
    expected = np.concatenate([th.Q[np.triu_indices(K)], th.R.ravel()])
    z = _z(samples, expected)
    thr = stats.t.isf(FAMILY / z.size / 2, df=samples.shape[0] - 1)
    assert np.all(np.abs(z) < thr), (np.abs(z).max(), thr)
    wrong = P.prune_theory(op, "random_edge", c)
    zw = _z(samples, np.concatenate([wrong.Q[np.triu_indices(K)], wrong.R.ravel()]))
    assert np.any(np.abs(zw) > thr)
    assert np.isfinite(th.mean_eg) and th.mean_eg == pytest.approx(
        sm.pruned_error(op, "mbp_edge", c))


def test_mbp_edge_finite_n_theory_matches_mask_average():
    """prune_theory(weights=...) gives the exact mask expectation of Q′, R′ for the actual
    coordinates (masks stay random); its ε_g (with the Jensen correction of independent
    Bernoulli masks) and its spread across masks match the mask average."""
    op, C = _op(seed=1)
    K = op.K
    X = np.linalg.cholesky(C) @ np.random.default_rng(2).standard_normal((C.shape[0], 500))
    W, Ws = X[:K], X[K:]
    op_n = sm.OrderParameters.from_weights(W, Ws, op.v, op.v_star)
    th = P.prune_theory(op_n, "mbp_edge", 150, weights=W, teacher_weights=Ws)
    res = sm.prune("mbp_edge", W, op.v, keep=150, n_masks=3000, seed=9)
    ops = res.order_parameters(Ws, op.v_star)
    iu = np.triu_indices(K)
    z = np.concatenate([_z(ops.Q[:, iu[0], iu[1]], th.Q[iu]), _z(ops.R.reshape(3000, -1),
                                                                     th.R.ravel())])
    thr = stats.norm.isf(FAMILY / (z.size + 1) / 2)
    assert np.all(np.abs(z) < thr), np.abs(z).max()
    eg = np.atleast_1d(sm.generalization_error(ops))
    assert abs(eg.mean() - th.mean_eg) < thr * eg.std(ddof=1) / np.sqrt(eg.size)
    assert th.std_eg == pytest.approx(eg.std(ddof=1), rel=0.1)
    # the explicit density is the mean keep probability with the layer's Ψ = var(W)
    p = keep_probability(W, d_for_fraction(150 / 500))
    assert res.info["expected_density"] == pytest.approx(p.mean(), rel=1e-12)


def test_mbp_edge_options_d_keep_diagonal_and_backend():
    W = np.random.default_rng(5).standard_normal((6, 300))
    res = sm.prune("mbp_edge", W, np.ones(6), keep=1, d=2.0, n_masks=50, seed=1)
    assert res.info["d"] == 2.0 and res.keep == round(kept_fraction(2.0) * 300)
    assert res.mask.mean() == pytest.approx(res.info["expected_density"], abs=0.01)
    assert np.all(res.W[~res.mask] == 0) and np.all(res.W[res.mask] == np.broadcast_to(
        W, res.mask.shape)[res.mask])
    diag = sm.prune("mbp_edge", W, np.ones(6), keep=0.05, keep_diagonal=True, seed=2)
    assert diag.mask[0, np.arange(6), np.arange(6)].all()
    assert MBP_EDGE.variants == ("bernoulli",)
    # c = 1 keeps everything; theory is then the identity map
    op, _ = _op()
    th = P.prune_theory(op, "mbp_edge", 1.0)
    np.testing.assert_allclose(th.Q, op.Q)
    np.testing.assert_allclose(th.R, op.R)
    pytest.importorskip("torch")
    tres = sm.prune("mbp_edge", W, np.ones(6), keep=0.2, backend="torch", seed=3)
    assert tuple(tres.mask.shape) == (1, 6, 300)


# ------------------------------------------------------------------------------------------
# sketching (§1.4)


def _sparse_matrix(n, j, rng):
    """n × n with exactly j non-zeros in every row and column (j disjoint permutations)."""
    X = np.zeros((n, n))
    placed = 0
    while placed < j:
        perm = rng.permutation(n)
        if np.any(X[np.arange(n), perm] != 0):
            continue
        X[np.arange(n), perm] = rng.standard_normal(n)
        placed += 1
    return X


def test_expander_is_left_regular():
    A = expander_matrix(12, 40, 4, rng=0)
    assert A.shape == (12, 40)
    assert set(np.unique(A)) == {0.0, 1.0}
    assert np.all(A.sum(0) == 4)


def test_sketch_recovery_is_exact_and_fails_when_too_small():
    rng = np.random.default_rng(0)
    n, j = 32, 2
    X = _sparse_matrix(n, j, rng)
    assert row_col_counts(X) == (j, j)
    p = sketch_size(j, n)
    assert p == int(np.ceil(np.sqrt(j * n) * np.log(n)))  # C = 1, natural log
    A, B = expander_matrix(p, n, 4, rng), expander_matrix(p, n, 4, rng)
    Y = sketch(X, A, B)
    assert Y.shape == (p, p)
    Xh = recover(Y, A, B)
    assert np.linalg.norm(Xh - X) / np.linalg.norm(X) < 1e-6
    # negative control: p = 8 is far too small
    A8, B8 = expander_matrix(8, n, 4, rng), expander_matrix(8, n, 4, rng)
    Xh8 = recover(sketch(X, A8, B8), A8, B8)
    assert np.linalg.norm(Xh8 - X) / np.linalg.norm(X) > 0.3


def test_sketch_size_values():
    assert sketch_size(3, 64) == 58
    assert sketch_size(1, 1) == 1
    assert sketch_size(784, 784) == 784  # capped at n


# ------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("call, match", [
    (lambda: mbp_mask(np.ones((2, 2)), -1.0), r"'d' parameter of mbp_mask .* >= 0"),
    (lambda: mbp_mask(np.ones((2, 2)), float("nan")), r"'d' parameter of mbp_mask"),
    (lambda: mbp_mask(np.ones(3), 1.0), r"'W' parameter of mbp_mask .* 2-D"),
    (lambda: mbp_mask(np.ones((2, 2)), 1.0, keep_diagonal=1), r"'keep_diagonal'"),
    (lambda: kept_fraction(-0.5), r"'d' parameter of kept_fraction .* >= 0"),
    (lambda: d_for_fraction(0.0), r"'c' parameter of d_for_fraction .* > 0.0 and <= 1.0"),
    (lambda: d_for_fraction(1.5), r"'c' parameter of d_for_fraction"),
    (lambda: error_second_moment(1.0, -1.0), r"'psi' parameter of error_second_moment"),
    (lambda: error_spectral_norm(1.0, 1.0, 0, 3), r"'n_in' parameter .* int >= 1"),
    (lambda: predicted_max_row_nonzeros(0, 1.0), r"'n' parameter .* int >= 1"),
    (lambda: expander_matrix(0, 5, 1), r"'p' parameter of expander_matrix .* int >= 1"),
    (lambda: expander_matrix(3, 5, 4), r"'ones_per_column' .* \[1, p=3\]"),
    (lambda: sketch_size(5, 4), r"'j' parameter of sketch_size .* \[1, n=4\]"),
    (lambda: sketch(np.ones((3, 3)), np.ones((2, 4)), np.ones((2, 3))), r"A with 3 columns"),
    (lambda: recover(np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 4))), r"Y of shape"),
    (lambda: sm.prune("mbp_edge", np.ones((2, 5)), np.ones(2), keep=2, d=-1.0),
     r"'d' parameter of prune must be None or a finite float >= 0"),
    (lambda: sm.prune("mbp_edge", np.ones((2, 5)), np.ones(2), keep=2, alpha=1.0),
     r"Unknown options for method 'mbp_edge' of prune: 'alpha'. Allowed: 'd', 'keep_diagonal'"),
    (lambda: sm.prune("mbp_edge", np.ones((2, 5)), np.ones(2), keep=6), r"'keep' .* \[1, 5\]"),
])
def test_bad_parameters_are_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_prune_theory_passes_the_compression_parameter_d():
    import statmech as sm
    from statmech.companion import kept_fraction

    op = sm.OrderParameters.random(3, 2, 400, seed=1)
    with_d = sm.pruned_error(op, "mbp_edge", 0.3, d=5.0)
    assert with_d != sm.pruned_error(op, "mbp_edge", 0.3)
    assert np.isclose(with_d, sm.pruned_error(op, "mbp_edge", float(kept_fraction(5.0))))
