"""Tests of statmech.companion.pruning_gaps, the stand-in for paper D (Qian & Klabjan 2021) of
docs/companion_papers.md §4.4 (paper fidelity pending).

Statistical comparisons use standard errors from independent replicates (network draws) and a
Student-t critical value with a Bonferroni correction over the comparisons of each test
(family-wise level ALPHA). All seeds are fixed.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage, stats

from statmech.companion import pruning_gaps as pg

ALPHA = 1e-3  # family-wise false-alarm level of each statistical test


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small matrix products are far faster single-threaded on a shared machine (optional)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def t_crit(n_comparisons: int, df: int) -> float:
    """Two-sided Student-t critical value, Bonferroni over ``n_comparisons``."""
    return float(stats.t.ppf(1 - ALPHA / (2 * n_comparisons), df))


def mean_se(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


# ------------------------------------------------------------------------------------------
# closed forms


def test_known_gaussian_magnitude_values():
    # §4.4: about 0.023 at r = 0.1, 0.267 at r = 0.5 and 0.749 at r = 0.9.
    got = [float(pg.layer_gap("magnitude", r)) for r in (0.1, 0.5, 0.9)]
    np.testing.assert_allclose(got, [0.023, 0.267, 0.749], atol=5e-4)
    # §4.4 network-level values at L = 2: magnitude 0.032 (r=0.1), 0.38 (r=0.5); random 0.45,
    # 1.0; random-rescaled 1.41.
    assert pg.predicted_gap("magnitude", 0.1, 2) == pytest.approx(0.032, abs=5e-4)
    assert pg.predicted_gap("magnitude", 0.5, 2) == pytest.approx(0.38, abs=5e-3)
    assert pg.predicted_gap("random", 0.1, 2) == pytest.approx(0.45, abs=5e-3)
    assert pg.predicted_gap("random", 0.5, 2) == pytest.approx(1.0, abs=1e-12)
    assert pg.predicted_gap("random_rescaled", 0.5, 2) == pytest.approx(1.41, abs=5e-3)


def test_closed_forms_against_numerical_integration_and_limits():
    r = np.array([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
    for dist in pg.DISTRIBUTIONS:
        closed = pg.magnitude_moment_fraction(r, dist)
        numeric = pg.magnitude_moment_fraction(r, dist, numerical=True)
        np.testing.assert_allclose(closed, numeric, rtol=1e-8, atol=1e-14)
    # uniform: gap r^{3/2}; Gaussian small-r limit √(π/6) r^{3/2} (§4.4).
    np.testing.assert_allclose(pg.layer_gap("magnitude", r, "uniform"), r ** 1.5, rtol=1e-12)
    assert pg.layer_gap("magnitude", 1e-3) == pytest.approx(math.sqrt(math.pi / 6) * 1e-3 ** 1.5,
                                                             rel=1e-5)
    # a scipy distribution goes through numerical integration; r → 0 gives 0, monotone in r
    m = pg.magnitude_moment_fraction(np.array([0.0, 0.2, 0.5, 0.8]), stats.t(df=5))
    assert m[0] == 0.0 and np.all(np.diff(m) > 0) and m[-1] < 0.8
    np.testing.assert_allclose(pg.random_layer_gap(0.5), math.sqrt(0.5))
    np.testing.assert_allclose(pg.random_layer_gap(0.5, rescale=True), 1.0)


def _layer_change(w: np.ndarray, wp: np.ndarray, h: np.ndarray) -> float:
    """Mean-square relative pre-activation change Σ‖(W − W̃)h‖² / Σ‖Wh‖² over inputs h."""
    return float(np.sum((h @ (w - wp).T) ** 2) / np.sum((h @ w.T) ** 2))


def test_layer_gap_closed_forms_against_monte_carlo():
    """Per-layer mean-square relative pre-activation change, width 512, inputs independent of
    the mask: Gaussian and uniform weights × 3 methods × 3 ratios, each against its closed
    form squared; SE from 12 independent layers."""
    n, n_in, reps = 512, 32, 12
    rng = np.random.default_rng(20210520)
    cases = [(d, m, r) for d in ("gaussian", "uniform") for m in pg.METHODS
             for r in (0.1, 0.5, 0.9)]
    crit = t_crit(len(cases), reps - 1)
    for dist, method, r in cases:
        vals = []
        for _ in range(reps):
            w = pg.random_fcn([n, n], dist, rng=rng).weights[0]
            wp = pg.prune(w, method, r, rng)
            h = rng.standard_normal((n_in, n))
            vals.append(_layer_change(w, wp, h))
        mean, se = mean_se(vals)
        expected = float(pg.layer_gap(method, r, dist)) ** 2
        assert abs(mean - expected) <= crit * se + 1e-12, (dist, method, r, mean, expected, se)


def _network_rms(width, depth, method, r, reps, rng, n_inputs=64):
    vals = []
    for _ in range(reps):
        net = pg.random_fcn([32] + [width] * depth, rng=rng)
        x = pg.random_unit_inputs(net, n_inputs, rng)
        vals.append(pg.measure_gap(net, pg.prune(net, method, r, rng), x).rms_rel ** 2)
    return mean_se(vals)


def test_network_level_sqrt_depth_scaling():
    """§4.4 "Across depth": mean-square network gap ≈ L × (per-layer gap)², i.e. √L scaling.

    The quadrature rule neglects how layer errors compound through σ, a systematic error that
    grows with L and with the per-layer gap (the large-width recursion, ``rule="recursion"``,
    puts it at −0.3 % … −2.2 % in the mean square for the magnitude cases r ∈ {0.1, 0.2},
    L ∈ {2, 3} used here; −7.5 % at r = 0.3, L = 4). Stated tolerance: the mean-square
    statistic within 5 % of L·g² plus t·SE (width 256, 8 networks each).
    """
    rng = np.random.default_rng(105)
    reps = 8
    cases = [(r, L) for r in (0.1, 0.2) for L in (2, 3)]
    crit = t_crit(len(cases), reps - 1)
    for r, L in cases:
        mean, se = _network_rms(256, L, "magnitude", r, reps, rng)
        pred = pg.predicted_gap("magnitude", r, L) ** 2
        assert abs(mean - pred) <= 0.05 * pred + crit * se, (r, L, mean, pred, se)
        rec = pg.predicted_gap("magnitude", r, L, rule="recursion") ** 2
        assert abs(rec / pred - 1) < 0.025


def test_recursion_rule_and_where_sqrt_depth_fails():
    """At r = 0.5 the √L rule is off (compounding), the recursion is not: random-rescaled at
    L = 3 measures ≈ 2.6 against √3 ≈ 1.73. Tolerance: 3 % (finite width 256) + t·SE."""
    rng = np.random.default_rng(7)
    reps = 6
    cases = [(m, L) for m in pg.METHODS for L in (2, 3)]
    crit = t_crit(len(cases), reps - 1)
    for method, L in cases:
        mean, se = _network_rms(256, L, method, 0.5, reps, rng)
        rec = pg.predicted_gap(method, 0.5, L, rule="recursion") ** 2
        assert abs(mean - rec) <= 0.03 * rec + crit * se, (method, L, mean, rec, se)
        if method == "random_rescaled" and L == 3:
            assert mean > 1.5 * pg.predicted_gap(method, 0.5, L) ** 2


def test_recursion_special_cases():
    """Linear σ: F̃ = Π W̃_l x exactly in the mean square, gap² = 1 − (1 − r)^L (random),
    (1 − r)^{−L} − 1 (rescaled). The Gaussian pair moments (arc-cosine kernel) of ReLU and
    leaky ReLU against Monte Carlo."""
    for L in (1, 2, 5):
        assert pg.predicted_gap("random", 0.3, L, rule="recursion", activation="linear") == \
            pytest.approx(math.sqrt(1 - 0.7 ** L), rel=1e-12)
        assert pg.predicted_gap("random_rescaled", 0.3, L, rule="recursion",
                                activation="linear") == pytest.approx(
            math.sqrt(0.7 ** -L - 1), rel=1e-12)
        assert pg.predicted_gap("magnitude", 0.3, 1, rule="recursion") == pytest.approx(
            float(pg.layer_gap("magnitude", 0.3)), rel=1e-12)
    rng = np.random.default_rng(9)
    n = 400_000
    cases = ((1.0, 1.0, 0.7), (2.0, 0.5, -0.4), (1.0, 3.0, 1.2))
    crit = t_crit(6 * len(cases), n - 1)
    for qa, qb, c in cases:
        u, v = rng.multivariate_normal([0, 0], [[qa, c], [c, qb]], n).T
        for act in ("relu", "leaky_relu"):
            su, sv = pg.ACTIVATIONS[act](u), pg.ACTIVATIONS[act](v)
            for got, samp in zip(pg._pair_moments(act, qa, qb, c), (su * su, sv * sv, su * sv),
                                 strict=True):
                assert abs(samp.mean() - got) <= crit * samp.std() / math.sqrt(n)
    with pytest.raises(ValueError, match="'activation' parameter"):
        pg.predicted_gap("random", 0.3, 2, rule="recursion", activation="tanh")


def test_gap_does_not_shrink_with_width():
    """§4.4: for a fixed ratio the relative gap of a fixed target does not shrink with width
    (1/√width shrinking would make width 1024 four times smaller than width 64). Tolerance on
    the ratio of mean-square gaps: 10 % (finite-width corrections at 64) + t·SE (delta method)."""
    rng = np.random.default_rng(64)
    cases = [("magnitude", 0.5), ("random", 0.1)]
    crit = t_crit(len(cases), 3)
    for method, r in cases:
        m64, se64 = _network_rms(64, 2, method, r, 8, rng, n_inputs=128)
        m1k, se1k = _network_rms(1024, 2, method, r, 4, rng, n_inputs=128)
        ratio = m1k / m64
        se = ratio * math.hypot(se64 / m64, se1k / m1k)
        assert abs(ratio - 1) <= 0.10 + crit * se, (method, r, m64, m1k, se)


def test_relative_gap_invariant_under_scaling():
    """Bias-free ReLU nets are positively homogeneous: the same draw under standard and
    mean-field scaling has identical relative gaps (layer-wise pruning)."""
    for method in pg.METHODS:
        a = pg.random_fcn([32, 64, 64, 16], scaling="standard", rng=3)
        b = pg.random_fcn([32, 64, 64, 16], scaling="mean_field", rng=3)
        x = pg.random_unit_inputs(a, 50, 4)
        ga = pg.measure_gap(a, pg.prune(a, method, 0.3, rng=5), x)
        gb = pg.measure_gap(b, pg.prune(b, method, 0.3, rng=5), x)
        assert ga.rms_rel == pytest.approx(gb.rms_rel, rel=1e-10)
        assert ga.max_rel == pytest.approx(gb.max_rel, rel=1e-10)
        assert ga.max_abs != pytest.approx(gb.max_abs, rel=1e-3)


# ------------------------------------------------------------------------------------------
# telescoping bound


def _nets():
    yield pg.random_fcn([32, 64, 64, 10], "gaussian", rng=1)
    yield pg.random_fcn([16, 48, 48, 48, 8], "uniform", "mean_field", rng=2)
    yield pg.random_fcn([20, 40, 5], "laplace", rng=3, activation="tanh")
    yield pg.random_fcn([8, 30, 30, 3], rng=4, activation="leaky_relu", gain=3.0)
    yield pg.random_cnn([2, 6, 6, 3], 3, 16, rng=5)
    yield pg.random_cnn([3, 5, 4], (3, 2), (6, 7), "uniform", rng=6, activation="hardtanh")


def _inputs(net, rng):
    """Random unit inputs plus ± the top right singular vector of the first layer (FCN)."""
    x = pg.random_unit_inputs(net, 300, rng).reshape(300, -1)
    if net.kind == "fcn":
        v = np.linalg.svd(net.weights[0])[2][0]
        x = np.vstack([x, v, -v])
    return x


def test_telescoping_bound_upper_bounds_measured_gap():
    rng = np.random.default_rng(11)
    for net in _nets():
        x = _inputs(net, rng)
        for method in pg.METHODS:
            pruned = pg.prune(net, method, 0.4, rng)
            gap = pg.measure_gap(net, pruned, x)
            bound, terms = pg.telescoping_bound(net, pruned, return_terms=True)
            assert terms.shape == (net.depth,) and np.all(terms >= 0)
            assert gap.max_abs <= bound * (1 + 1e-12), (net.kind, method, gap.max_abs, bound)
            # the bound is linear in the input radius, and so is the gap (homogeneity, ReLU)
            assert pg.telescoping_bound(net, pruned, input_norm=2.0) == pytest.approx(2 * bound)


def test_telescoping_bound_is_tight_for_one_linear_layer():
    net = pg.random_fcn([20, 30], rng=8)
    pruned = pg.prune_magnitude(net, 0.5)
    v = np.linalg.svd(net.weights[0] - pruned.weights[0])[2][0]
    gap = pg.measure_gap(net, pruned, v[None, :])
    assert gap.max_abs == pytest.approx(pg.telescoping_bound(net, pruned), rel=1e-10)


def test_negative_control_bound_without_other_layers_norms_fails():
    """Dropping the products of the other layers' norms, Σ_l ‖W_l − W̃_l‖₂, is not a bound: the
    gap scales like gain^L under W_l → gain·W_l, that expression like gain."""
    rng = np.random.default_rng(12)
    violated = 0
    for seed in range(3):
        net = pg.random_fcn([16, 64, 64, 8], rng=seed, gain=4.0)
        x = pg.random_unit_inputs(net, 200, rng)
        pruned = pg.prune_random(net, 0.3, rng=rng)
        wrong = sum(pg.operator_norm(w - p) for w, p in zip(net.weights, pruned.weights,
                                                              strict=True))
        gap = pg.measure_gap(net, pruned, x).max_abs
        assert gap <= pg.telescoping_bound(net, pruned)
        violated += gap > wrong
    assert violated == 3


def test_conv_matches_scipy_and_operator_norm_matches_dense_matrix():
    rng = np.random.default_rng(13)
    # single channel: circular cross-correlation as scipy.ndimage.correlate(mode="wrap")
    for spatial, taps in (((11,), (3,)), ((11,), (4,)), ((6, 7), (3, 3)), ((6, 7), (2, 3))):
        net = pg.random_cnn([1, 1], taps, spatial, rng=rng)
        x = rng.standard_normal((1, 1, *spatial))
        ours = pg.forward(net, x).reshape(spatial)
        ref = ndimage.correlate(x[0, 0], net.weights[0][0, 0], mode="wrap")
        np.testing.assert_allclose(ours, ref, atol=1e-12)
    # operator norm: FFT formula against the dense matrix of the map
    for spatial, taps in (((12,), (3,)), ((5, 6), (3, 2))):
        net = pg.random_cnn([3, 4], taps, spatial, rng=rng)
        n = int(np.prod(net.input_shape))
        dense = pg.forward(net, np.eye(n)).T
        assert pg.operator_norm(net.weights[0], spatial) == pytest.approx(
            np.linalg.norm(dense, 2), rel=1e-10)
    w = rng.standard_normal((300, 200))
    assert pg.operator_norm(w) == pytest.approx(np.linalg.norm(w, 2), rel=1e-10)


# ------------------------------------------------------------------------------------------
# pruning procedures


def test_cnn_pruning_applies_to_every_kernel_entry():
    net = pg.random_cnn([3, 8, 5], (3, 3), (8, 8), rng=14)
    sizes = [w.size for w in net.weights]
    assert sizes == [8 * 3 * 9, 5 * 8 * 9]
    # random: the mask is one Bernoulli(r) per kernel entry, drawn over the full kernel shape
    r = 0.37
    pruned = pg.prune_random(net, r, rng=15)
    ref = np.random.default_rng(15)
    for w, p in zip(net.weights, pruned.weights, strict=True):
        drop = ref.random(w.shape) < r
        np.testing.assert_array_equal(p == 0, drop)
        assert int((p == 0).sum()) == int(drop.sum())
        np.testing.assert_array_equal(p[~drop], w[~drop])
    # rescaled survivors
    res = pg.prune_random(net, r, rescale=True, rng=15)
    np.testing.assert_allclose(res.weights[0][pruned.weights[0] != 0],
                               pruned.weights[0][pruned.weights[0] != 0] / (1 - r))
    # magnitude: exactly ⌊r N⌋ zeros per kernel (all taps and channels), the smallest |w|
    for r in (0.1, 0.5, 0.9):
        mp = pg.prune_magnitude(net, r)
        for w, p in zip(net.weights, mp.weights, strict=True):
            k = math.floor(r * w.size + 1e-9)
            assert int((p == 0).sum()) == k
            assert np.abs(w[p == 0]).max() < np.abs(w[p != 0]).min()
    # global scope: one threshold over all layers
    mg = pg.prune_magnitude(net, 0.5, scope="global")
    assert sum(int((p == 0).sum()) for p in mg.weights) == math.floor(0.5 * sum(sizes))


def test_prune_types_and_r_zero():
    w = np.random.default_rng(0).standard_normal((5, 4))
    assert isinstance(pg.prune_magnitude(w, 0.5), np.ndarray)
    assert isinstance(pg.prune_random([w, w], 0.5, rng=0), list)
    np.testing.assert_array_equal(pg.prune_magnitude(w, 0.0), w)
    np.testing.assert_array_equal(pg.prune_random(w, 0.0, rng=1), w)


# ------------------------------------------------------------------------------------------
# strong-lottery-ticket estimate


def test_matching_estimates():
    assert pg.matching_width(100, 0.05, 0.5, 0.1) == math.ceil(math.log(1000) / 0.05)
    assert pg.p_no_match(0.05, 0.5, 20) == pytest.approx(0.95 ** 20)
    assert pg.p_no_match(0.05, 0.5, 20, form="exp") >= pg.p_no_match(0.05, 0.5, 20)
    # Monte Carlo: candidates U(−1, 1) (density 1/2), a target inside the range: exact (1−ε)^k
    rng = np.random.default_rng(16)
    n, k, eps = 20000, 20, 0.05
    cand = rng.uniform(-1, 1, (n, k))
    miss = np.all(np.abs(cand - 0.3) > eps, axis=1).mean()
    p = pg.p_no_match(eps, 0.5, k)
    assert abs(miss - p) <= t_crit(2, n - 1) * math.sqrt(p * (1 - p) / n)
    # union bound: with k = matching_width all 50 targets matched w.p. >= 1 − δ
    kk = pg.matching_width(50, 0.1, 0.5, 0.2)
    targets = rng.uniform(-0.9, 0.9, 50)
    trials = 2000
    fail = np.mean([np.any(np.all(np.abs(rng.uniform(-1, 1, (kk, 1)) - targets) > 0.1,
                                  axis=0)) for _ in range(trials)])
    assert fail <= 0.2 + t_crit(2, trials - 1) * math.sqrt(0.2 * 0.8 / trials)


# ------------------------------------------------------------------------------------------
# grid, sweep computation, validation, imports


def test_gap_grid_and_probability():
    table = pg.gap_grid([16, 32], [2], [0.1, 0.5], pg.METHODS, ("standard", "mean_field"),
                        n_inputs=20, rng=17, replicates=2)
    assert len(table) == 2 * 1 * 2 * 3 * 2 * 2
    assert np.all(table["bound"] >= table["max_abs"] * (1 - 1e-12))
    assert set(table["distribution"]) == {"gaussian"}
    prob = pg.gap_probability(table, 0.5, "rms_rel")
    assert len(prob) == 24 and prob["p"].between(0, 1).all() and (prob["n"] == 2).all()


def test_sweep_computation_registered():
    from statmech.sweep.registry import get_computation

    comp = get_computation("pruning_gap")
    out = comp.func(comp.full_config({"width": 24, "depth": 3, "ratio": 0.5,
                                      "method": "random", "n_inputs": 30, "replicate": 2}),
                    seed=123)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["width"], row["depth"], row["method"], row["replicate"]) == (24, 3, "random", 2)
    assert row["bound"] >= row["max_abs"]
    assert row["pred_sqrt_depth"] == pytest.approx(math.sqrt(3 * 0.5))


@pytest.mark.parametrize("call, match", [
    (lambda: pg.prune_random(np.ones((2, 2)), 1.0), r"'r' parameter.*>= 0.0 and < 1.0"),
    (lambda: pg.prune_magnitude(np.ones((2, 2)), -0.1), r"'r' parameter.*>= 0.0 and < 1.0"),
    (lambda: pg.prune(np.ones((2, 2)), "lottery", 0.5), r"'method' parameter.*'magnitude'"),
    (lambda: pg.layer_gap("optimal", 0.5), r"'method' parameter"),
    (lambda: pg.predicted_gap("random", 1.2, 2), r"'r' parameter.*< 1.0"),
    (lambda: pg.predicted_gap("random", 0.2, 0), r"'depth' parameter.*>= 1"),
    (lambda: pg.predicted_gap("random", 0.2, 2, rule="exact"), r"'rule' parameter"),
    (lambda: pg.prune_magnitude(np.ones((2, 2)), 0.5, scope="row"), r"'scope' parameter"),
    (lambda: pg.random_fcn([5]), r"'widths' parameter.*at least two"),
    (lambda: pg.random_fcn([5, 3], distribution="cauchy"), r"'distribution' parameter"),
    (lambda: pg.random_cnn([2, 3], 5, 4), r"'kernel_size' parameter"),
    (lambda: pg.matching_width(10, 0.1, 0.5, 1.0), r"'delta' parameter.*> 0.0 and < 1.0"),
    (lambda: pg.matching_width(10, 2.0, 0.5, 0.1), r"2·eps·g_min <= 1"),
    (lambda: pg.p_no_match(-0.1, 0.5, 3), r"'eps' parameter.*> 0.0"),
    (lambda: pg.gap_grid([8], [2], [0.5], ["magnitude"], ["xavier"]), r"'scalings' parameter"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_module_does_not_import_torch():
    code = ("import sys; import statmech.companion.pruning_gaps; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
