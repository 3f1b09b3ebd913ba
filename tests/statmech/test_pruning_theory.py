"""Pruning theory against closed forms and against explicit pruning (Monte Carlo over masks).

Students are built from order parameters by the Haar reconstruction (no training). Monte Carlo
compares *expected pruned order parameters* (their mask average is unbiased for E[Q′], E[R′], so
no Jensen bias enters) entry by entry with z-tests, family-wise false-alarm rate 0.27 %
(Bonferroni over the entries of each comparison). Node methods are compared on E[ε_g] itself,
which the theory gives exactly at any N.
"""

import numpy as np
import pytest
from scipy import stats

import statmech as sm
from statmech import pruning as P
from statmech.pruning.base import Layer
from statmech.pruning.node_method import NodeContext, fold_outgoing

FAMILY = 0.0027


def specialised_op(K=6, M=2, v_star=4.0, noise=0.15, seed=0):
    """A partially specialised student: z = K/M units per teacher, plus a little spread."""
    rng = np.random.default_rng(seed)
    z = K // M
    R = np.zeros((K, M))
    for k in range(K):
        R[k, k // z] = 0.9 + 0.1 * rng.random()
    R += noise * rng.standard_normal((K, M))
    A = noise * rng.standard_normal((K, K))
    Q = R @ R.T + A @ A.T + 0.05 * np.eye(K)
    sign = np.where(rng.random(K) < 0.3, -1.0, 1.0)
    Q = Q * np.outer(sign, sign)
    R = R * sign[:, None]
    v = sign * v_star / z * (1 + 0.1 * rng.standard_normal(K))
    return sm.OrderParameters(Q=Q, R=R, T=np.eye(M), v=v, v_star=np.full(M, v_star))


def idealised_op(K, M, v_star=4.0):
    z = K // M
    R = np.zeros((K, M))
    R[np.arange(K), np.arange(K) // z] = 1.0
    return sm.OrderParameters(Q=R @ R.T, R=R, T=np.eye(M), v=np.full(K, v_star / z),
                              v_star=np.full(M, v_star))


# ------------------------------------------------------------------------------------------
# closed forms for the idealised specialised student (docs/pruning_theory.md §4)


@pytest.mark.parametrize("K, M", [(6, 2), (20, 5)])
def test_random_node_matches_hypergeometric_closed_form(K, M):
    op, vs, z = idealised_op(K, M), 4.0, K // M
    for k in range(1, K):
        closed = (vs**2 / 6) * M * ((1 - k / K) ** 2
                                    + k * (z / K) * (1 - z / K) * (K - k) / ((K - 1) * z**2))
        assert sm.pruned_error(op, "random_node", k) == pytest.approx(closed, rel=1e-10)


def test_node_error_of_an_allocation_matches_closed_form():
    """ε_g = (v*²/6) Σ_m (1 − a_m/z)² for every kept set (a_m units of group m)."""
    K, M, z = 6, 2, 3
    th = P.prune_theory(idealised_op(K, M), "random_node", 3)
    assert th.exact
    from statmech.pruning.node_theory import all_subsets
    sets = all_subsets(K, 3)
    a = np.stack([(sets // z == m).sum(1) for m in range(M)], axis=1)
    closed = (16 / 6) * np.sum((1 - a / z) ** 2, axis=1)
    assert np.mean(closed) == pytest.approx(th.mean_eg, rel=1e-12)
    assert np.std(closed) == pytest.approx(th.std_eg, rel=1e-10)


@pytest.mark.parametrize("K, M", [(6, 2), (20, 5)])
def test_random_edge_matches_closed_form(K, M):
    op, vs, z = idealised_op(K, M), 4.0, K // M
    for c in (0.166, 0.332, 0.5, 0.834):
        closed = (M * vs**2 / np.pi) * (
            np.arcsin(c * c / (1 + c)) + (np.arcsin(c / (1 + c)) - np.arcsin(c * c / (1 + c))) / z
            + np.pi / 6 - 2 * np.arcsin(c / np.sqrt(2 + 2 * c)))
        assert sm.pruned_error(op, "random_edge", c) == pytest.approx(closed, rel=1e-10)


def test_matched_edges_published_levels():
    assert [sm.matched_edges(k, 6, 500, round_up=True) for k in range(1, 6)] == [
        83, 166, 250, 333, 417]
    assert sm.matched_edges(1, 20, 500) == pytest.approx(24.05)
    assert sm.match_parameters(2, 6, 500) == pytest.approx(sm.matched_edges(2, 6, 500))
    # biases and several outputs: equal counts by construction
    e = sm.match_parameters(3, 10, 40, C=4, bias=True, bias_out=True)
    assert 3 * (40 + 1 + 4) + 4 == pytest.approx(10 * (e + 1 + 4) + 4)


# ------------------------------------------------------------------------------------------
# explicit pruning vs theory


N = 1500


@pytest.fixture(scope="module")
def student():
    op = specialised_op()
    W, Ws = sm.weights_from_order_parameters(op, N, seed=3)
    op_n = sm.OrderParameters.from_weights(W, Ws, op.v, op.v_star)  # exact finite-N state
    return op_n, W, Ws


def _z_entries(mc: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """z-scores of mask averages (n, ...) against expected values, per entry."""
    n = mc.shape[0]
    se = mc.std(0, ddof=1) / np.sqrt(n)
    d = mc.mean(0) - expected
    ok = se > 0
    z = np.zeros_like(d)
    z[ok] = d[ok] / se[ok]
    assert np.all(np.abs(d[~ok]) < 1e-12)
    return z


def _edge_mc(student, method, e, n_masks=400, variant=None, seed=5):
    op, W, Ws = student
    res = sm.prune(method, W, op.v, keep=e, n_masks=n_masks, seed=seed, variant=variant)
    assert np.all(res.mask.sum(-1) == e) or variant == "bernoulli"
    ops = res.order_parameters(Ws, op.v_star)
    return ops


@pytest.mark.parametrize("method, variant", [("random_edge", "exact"),
                                             ("random_edge", "bernoulli"),
                                             ("dpp_edge", "default")])
def test_random_edge_methods_order_parameters_match_theory(student, method, variant):
    op, W, Ws = student
    e = 250
    ops = _edge_mc(student, method, e, variant=variant)
    th = P.prune_theory(op, method, e, variant=variant, weights=W, teacher_weights=Ws)
    K = op.K
    iu = np.triu_indices(K)
    z = np.concatenate([_z_entries(ops.Q[:, iu[0], iu[1]], th.Q[iu]).ravel(),
                        _z_entries(ops.R, th.R).ravel()])
    thr = stats.norm.isf(FAMILY / z.size / 2)
    assert np.all(np.abs(z) < thr), (np.abs(z).max(), thr)


def test_random_edge_negative_control_is_rejected(student):
    """The pre-2020-02-04 formula (c² on the diagonal too) must fail the same test."""
    op, W, Ws = student
    e = 250
    c = e / N
    ops = _edge_mc(student, "random_edge", e)
    wrong = c * c * op.Q
    iu = np.triu_indices(op.K)
    z = _z_entries(ops.Q[:, iu[0], iu[1]], wrong[iu]).ravel()
    assert np.any(np.abs(z) > stats.norm.isf(FAMILY / z.size / 2))


def test_magnitude_edge_is_deterministic_and_exact(student):
    op, W, Ws = student
    for variant in ("per_unit", "global"):
        res = sm.prune("magnitude_edge", W, op.v, keep=166, variant=variant, n_masks=2)
        th = P.prune_theory(op, "magnitude_edge", 166, variant=variant, weights=W,
                            teacher_weights=Ws)
        got = res.order_parameters(Ws, op.v_star)
        np.testing.assert_allclose(got.Q[0], th.Q, atol=1e-12)
        np.testing.assert_allclose(got.R[1], th.R, atol=1e-12)
        kept = res.mask[0].sum()
        assert kept == 166 * op.K
        if variant == "per_unit":
            assert np.all(res.mask[0].sum(1) == 166)


@pytest.mark.parametrize("method", ["random_edge", "magnitude_edge", "dpp_edge"])
def test_gaussian_coordinate_theory_matches_reconstructed_students(method):
    """Large-N theory (Gaussian coordinates) vs the exact expectation on 16 reconstructed
    students (N = 1500): the difference is the coordinate-sampling noise, averaged out."""
    op = specialised_op(seed=1)
    c = 0.332
    th = P.prune_theory(op, method, c)
    per = []
    for s in range(16):
        W, Ws = sm.weights_from_order_parameters(op, N, seed=100 + s)
        # the reconstruction is exact in Q, R: compare like with like
        t = P.prune_theory(op, method, c, N=N, weights=W, teacher_weights=Ws)
        per.append(np.concatenate([t.Q[np.triu_indices(op.K)], t.R.ravel()]))
    per = np.array(per)
    exp = np.concatenate([th.Q[np.triu_indices(op.K)], th.R.ravel()])
    # the N-dimensional fraction is e/N = ⌈cN⌉/N, slightly above c: compare at that fraction
    th_n = P.prune_theory(op, method, int(np.ceil(c * N)), N=N)
    exp = np.concatenate([th_n.Q[np.triu_indices(op.K)], th_n.R.ravel()])
    se = per.std(0, ddof=1) / np.sqrt(per.shape[0])
    z = (per.mean(0) - exp) / np.maximum(se, 1e-15)
    # finite-N bias of the order statistics (magnitude) is O(1/N) ≈ 7e-4 relative: allow it
    bias = 2.0 / N * np.maximum(np.abs(exp), 1e-3)
    thr = stats.t.isf(FAMILY / z.size / 2, df=per.shape[0] - 1)
    assert np.all(np.abs(per.mean(0) - exp) < thr * se + bias), np.abs(z).max()


def test_cps_sampler_matches_enumeration():
    """Conditional Poisson sampling against all C(6, 3) subsets (chi-square)."""
    from itertools import combinations

    from statmech.pruning.dpp_edge import cps_inclusion, sample_conditional_poisson

    q = np.array([0.1, 2.0, 0.5, 1.5, 0.05, 1.0])
    sets = list(combinations(range(6), 3))
    p = np.array([np.prod(q[list(s)]) for s in sets])
    p /= p.sum()
    masks = sample_conditional_poisson(q, 3, np.random.default_rng(0), 40000)
    assert np.all(masks.sum(1) == 3)
    codes = {s: i for i, s in enumerate(sets)}
    counts = np.bincount([codes[tuple(np.flatnonzero(m))] for m in masks], minlength=len(sets))
    chi2 = stats.chisquare(counts, p * counts.sum())
    assert chi2.pvalue > 1e-3
    pi = np.array([sum(pp for s, pp in zip(sets, p, strict=True) if i in s) for i in range(6)])
    np.testing.assert_allclose(cps_inclusion(q, 3), pi, rtol=1e-10)
    # negative control: inclusion ∝ q (a plausible shortcut) is rejected
    wrong = 3 * q / q.sum()
    freq = masks.mean(0)
    z = (freq - wrong) / np.sqrt(wrong * (1 - np.minimum(wrong, 0.99)) / masks.shape[0])
    assert np.any(np.abs(z) > 5)


@pytest.mark.parametrize("method, variant", [("random_node", None), ("magnitude_node", "norm"),
                                             ("magnitude_node", "v"),
                                             ("magnitude_node", "signed")])
@pytest.mark.parametrize("reweight", [None, "activations", "preactivations"])
def test_node_methods_mean_error_matches_theory(student, method, variant, reweight):
    op, W, Ws = student
    k = 3
    stats_ = P.student_layer(W, op.v)
    res = sm.prune(method, W, op.v, keep=k, variant=variant, n_masks=600, seed=7,
                   reweight=reweight, **stats_)
    egs = sm.generalization_error(res.order_parameters(Ws, op.v_star))
    th = P.prune_theory(op, method, k, variant=variant, reweight=reweight)
    if th.std_eg == 0:
        np.testing.assert_allclose(egs, th.mean_eg, rtol=1e-10)
    else:
        z = (egs.mean() - th.mean_eg) / (th.std_eg / np.sqrt(egs.size))
        assert abs(z) < stats.norm.isf(FAMILY / 2), z
        assert egs.std() == pytest.approx(th.std_eg, rel=0.15)


def test_random_node_inclusion_path_equals_enumeration():
    op = specialised_op(K=20, M=5, seed=2)
    from statmech.pruning import node_theory

    full = P.prune_theory(op, "random_node", 4)
    old = node_theory.ENUMERATION_LIMIT
    try:
        node_theory.ENUMERATION_LIMIT = 10
        import statmech.pruning.node_method as nm

        nm.ENUMERATION_LIMIT = 10
        inc = P.prune_theory(op, "random_node", 4)
    finally:
        node_theory.ENUMERATION_LIMIT = old
        nm.ENUMERATION_LIMIT = old
    assert full.exact and not inc.exact
    assert inc.mean_eg == pytest.approx(full.mean_eg, rel=1e-10)
    assert inc.std_eg == pytest.approx(full.std_eg, rel=0.1)


def test_spectral_node_explicit_equals_theory_and_tau_zero_is_reweighting(student):
    op, W, Ws = student
    stats_ = P.student_layer(W, op.v)
    for theta in (0.0, 1.0):
        res = sm.prune("spectral_node", W, op.v, keep=3, theta=theta, **stats_)
        eg = sm.generalization_error(res.order_parameters(Ws, op.v_star))[0]
        th = P.prune_theory(op, "spectral_node", 3, theta=theta)
        assert eg == pytest.approx(th.mean_eg, rel=1e-9)
        # τ → 0: the reconstruction is least-squares reweighting on the activations
        r0 = sm.prune("spectral_node", W, op.v, keep=3, theta=theta, tau=0.0, **stats_)
        ctx = NodeContext.from_layer(Layer.from_arrays(W, op.v, **stats_))
        folded = fold_outgoing(ctx.act_cov, ctx.W_out, r0.kept)
        np.testing.assert_allclose(r0.W_out, folded, rtol=1e-8)
        # and a small τ is close to it (continuity), a large one is not
        r1 = sm.prune("spectral_node", W, op.v, keep=3, theta=theta, tau=1e-9, **stats_)
        np.testing.assert_allclose(r1.W_out, folded, rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="random_node", keep=7), r"'keep' parameter of prune must be an int in \[1, 6\]"),
    (dict(method="random_edge", keep=301), r"'keep' .* \[1, 300\]"),
    (dict(method="random_edge", keep=1.5), r"'keep' .* fraction in \(0, 1\]"),
    (dict(method="random_edge", keep=0.0), r"'keep'"),
    (dict(method="dpp_node", keep=True), r"'keep' .* Got True"),
    (dict(method="pruned", keep=2), r"'method' parameter of prune must be one of"),
    (dict(method="magnitude_edge", keep=2, variant="local"), r"'variant' parameter"),
    (dict(method="random_node", keep=2, reweight="yes"), r"'reweight' parameter"),
    (dict(method="random_edge", keep=2, reweight="activations"), r"'preactivations' for edge"),
    (dict(method="random_edge", keep=2, reweight="preactivations"), r"needs 'input_cov'"),
])
def test_bad_requests_are_clear_errors(kwargs, match):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=match):
        sm.prune(kwargs.pop("method"), rng.standard_normal((6, 300)), np.ones(6), **kwargs)


def test_theory_bad_requests():
    op = specialised_op()
    with pytest.raises(ValueError, match="'N' parameter of prune_theory is required"):
        P.prune_theory(op, "random_edge", 83)
    with pytest.raises(ValueError, match=r"'keep' .* \[1, 6\]"):
        P.prune_theory(op, "dpp_node", 7)
    with pytest.raises(ValueError, match="'keep'"):
        P.prune_theory(op, "random_edge", 1.2)


def test_order_units_by_teacher_groups_units():
    R = np.array([[0.1, 0.9], [0.8, 0.0], [0.2, -0.95], [0.7, 0.1]])
    assert list(P.order_units_by_teacher(R)) == [1, 3, 2, 0]


def test_finite_n_jensen_correction_matches_mask_average():
    """At N = 40 the mask fluctuations bias E[ε_g(Q′)] away from ε_g(E[Q′]) (Jensen). The
    second-order correction (``pruning.finite_n``) removes it; the uncorrected value is the
    negative control and must be rejected."""
    op0 = specialised_op()
    N40 = 40
    W, Ws = sm.weights_from_order_parameters(op0, N40, seed=3)
    op = sm.OrderParameters.from_weights(W, Ws, op0.v, op0.v_star)
    cases = [("random_edge", "exact", 8), ("random_edge", "exact", 20),
             ("random_edge", "bernoulli", 8), ("random_edge", "bernoulli", 20),
             ("dpp_edge", "default", 8), ("dpp_edge", "default", 20)]
    z_corr, z_plain = [], []
    for method, variant, e in cases:
        res = sm.prune(method, W, op.v, keep=e, variant=variant, n_masks=20000, seed=1)
        egs = sm.generalization_error(res.order_parameters(Ws, op.v_star))
        th = P.prune_theory(op, method, e, variant=variant, weights=W, teacher_weights=Ws)
        se = egs.std(ddof=1) / np.sqrt(egs.size)
        z_corr.append((egs.mean() - th.mean_eg) / se)
        z_plain.append((egs.mean() - th.eg_of_mean) / se)
        # the first-order spread across masks (delta method) describes the masks' ε_g
        assert egs.std() == pytest.approx(th.std_eg, rel=0.15)
    thr = stats.norm.isf(FAMILY / len(cases) / 2)
    assert np.all(np.abs(z_corr) < thr), z_corr
    assert np.any(np.abs(z_plain) > thr), z_plain


@pytest.mark.parametrize("kernel, reweight", [("linear", None), ("rbf", None),
                                              ("linear", "activations"),
                                              ("rbf", "preactivations")])
def test_dpp_node_mean_error_matches_theory(student, kernel, reweight):
    op, W, Ws = student
    stats_ = P.student_layer(W, op.v)
    res = sm.prune("dpp_node", W, op.v, keep=3, n_masks=1500, seed=11, kernel=kernel,
                   reweight=reweight, **stats_)
    egs = sm.generalization_error(res.order_parameters(Ws, op.v_star))
    th = P.prune_theory(op, "dpp_node", 3, kernel=kernel, reweight=reweight)
    assert th.exact and th.std_eg > 0
    z = (egs.mean() - th.mean_eg) / (th.std_eg / np.sqrt(egs.size))
    assert abs(z) < stats.norm.isf(FAMILY / 2), z
    # the kept-set frequencies follow the DPP's inclusion probabilities
    freq = np.zeros(op.K)
    np.add.at(freq, res.kept.ravel(), 1.0)
    freq /= res.kept.shape[0]
    pi = th.info["pi1"]
    zi = (freq - pi) / np.sqrt(pi * (1 - pi) / res.kept.shape[0])
    assert np.all(np.abs(zi) < stats.norm.isf(FAMILY / op.K / 2)), zi


def test_dpp_node_inclusion_path_equals_enumeration():
    op = specialised_op(K=12, M=3, seed=4)
    import statmech.pruning.node_method as nm

    full = P.prune_theory(op, "dpp_node", 4)
    old = nm.ENUMERATION_LIMIT
    try:
        nm.ENUMERATION_LIMIT = 10
        inc = P.prune_theory(op, "dpp_node", 4)
    finally:
        nm.ENUMERATION_LIMIT = old
    assert full.exact and not inc.exact
    assert inc.mean_eg == pytest.approx(full.mean_eg, rel=1e-8)
    np.testing.assert_allclose(inc.info["pi2"], full.info["pi2"], atol=1e-10)


def test_dpp_node_prefers_balanced_sets_for_near_duplicate_units():
    """Near-copies of two teachers (K = 6, z = 3): the linear-kernel DPP concentrates on sets with
    one unit per teacher, so it beats random node (the seed paper's first claim, in theory)."""
    K, M = 6, 2
    R = np.zeros((K, M))
    R[np.arange(K), np.arange(K) // 3] = 1.0
    Q = R @ R.T + 0.01 * np.eye(K)
    op = sm.OrderParameters(Q=Q, R=R, T=np.eye(M), v=np.full(K, 4 / 3), v_star=np.full(M, 4.0))
    th = P.prune_theory(op, "dpp_node", 2)
    assert th.mean_eg < sm.pruned_error(op, "random_node", 2)
    balanced = th.info["pi2"][:3, 3:].sum()  # P(one unit from each group)
    assert balanced > 0.95


@pytest.mark.parametrize("method", ["random_node", "dpp_node"])
def test_inclusion_path_gives_the_enumerated_expected_order_parameters(method, monkeypatch):
    """E[Q′], E[R′] and ε_g(E[·]) from (π_i, π_ij) equal the enumeration's (found when the
    random-node π_ii was k(k−1)/(K(K−1)) instead of k/K)."""
    import statmech.pruning.node_method as nm

    op = sm.OrderParameters.random(7, 2, 300, seed=4)
    op = sm.OrderParameters(op.Q, op.R, op.T, v=np.linspace(0.5, 2.0, 7), v_star=[2.0, 2.0])
    exact = sm.prune_theory(op, method, 4)
    monkeypatch.setattr(nm, "ENUMERATION_LIMIT", 0)
    incl = sm.prune_theory(op, method, 4, n_samples=200)
    assert exact.exact and not incl.exact
    np.testing.assert_allclose(incl.Q, exact.Q, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(incl.R, exact.R, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(incl.eg_of_mean, exact.eg_of_mean, rtol=1e-9)
    np.testing.assert_allclose(incl.mean_eg, exact.mean_eg, rtol=1e-9)
