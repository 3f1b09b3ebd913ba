"""Paper B (Yang et al., arXiv 2301.00335): random pruning at initialisation, masked GD on the
signal + noise patch model (:mod:`statmech.companion.pruning_at_init`, docs/companion_papers.md §2).

Statistical tolerances are 4 standard errors (fixed seeds: the checks are deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from statmech.companion import pruning_at_init as pai

# §2.5 reference settings (d, n, m, ‖μ‖, σ_p)
REF = {"d": 1000, "n": 40, "m": 20, "mu_norm": 6.0, "sigma_p": 1.0}


# --------------------------------------------------------------------------------- data model


@pytest.mark.parametrize("sparse", [True, False])
def test_noise_orthogonal_to_signal_and_moments(sparse):
    n, d, sigma_p = 4000, 50, 1.5
    data = pai.make_patch_data(n, d, 3.0, sigma_p, np.random.default_rng(1),
                               sparse_signal=sparse)
    assert data.xi.shape == (n, d) and data.y.shape == (n,)
    assert np.isclose(data.mu_norm, 3.0)
    if sparse:
        assert np.array_equal(np.flatnonzero(data.mu), [0]) and data.mu[0] == 3.0
        assert np.all(data.xi[:, 0] == 0.0)  # exactly orthogonal
    assert np.max(np.abs(data.xi @ data.mu)) < 1e-10 * data.mu_norm * sigma_p * np.sqrt(d)
    # E‖ξ‖² = σ_p²(d − 1); per-example variance of ‖ξ‖² is 2σ_p⁴(d − 1)
    sq = np.sum(data.xi**2, axis=1)
    se = np.sqrt(2 * sigma_p**4 * (d - 1) / n)
    assert abs(sq.mean() - sigma_p**2 * (d - 1)) < 4 * se
    # labels: ±1, balanced within SE
    assert set(np.unique(data.y)) == {-1.0, 1.0}
    assert abs(data.y.mean()) < 4 / np.sqrt(n)
    # patches: (y μ, ξ)
    x = data.patches
    assert x.shape == (n, 2, d)
    assert np.array_equal(x[:, 0], data.y[:, None] * data.mu[None, :])
    assert np.array_equal(x[:, 1], data.xi)


def test_fresh_data_shares_signal():
    data = pai.make_patch_data(10, 30, 2.0, 1.0, 0, sparse_signal=False)
    test = data.fresh(25, 1)
    assert test.n == 25 and np.array_equal(test.mu, data.mu) and test.sigma_p == data.sigma_p


def test_effective_snr():
    assert np.isclose(pai.effective_snr(6.0, 1.0, 1000, 0.9), 6.0 / np.sqrt(100.0))
    assert np.isclose(pai.effective_snr(6.0, 2.0, 1000, 0.0), 6.0 / (2 * np.sqrt(1000.0)))


# ------------------------------------------------------------------------- network, gradient


def _small_problem(q, seed=0, d=12, n=5, m=3, p=0.3):
    rng = np.random.default_rng(seed)
    data = pai.make_patch_data(n, d, 2.0, 1.0, rng)
    W = 0.7 * rng.standard_normal((2, m, d))
    M = rng.random((2, m, d)) >= p
    M[0, 0, 0] = M[1, 1, 0] = True  # some filters see the signal
    return data, W, M


def test_network_output_matches_definition():
    q = 3.0
    data, W, M = _small_problem(q)
    sigma = lambda z: np.maximum(z, 0.0) ** q  # noqa: E731
    m = W.shape[1]
    x = data.patches
    expect = np.array([
        sum(s / m * sigma((W[j, r] * M[j, r]) @ x[i, k])
            for j, s in ((0, 1.0), (1, -1.0)) for r in range(m) for k in range(2))
        for i in range(data.n)])
    assert np.allclose(pai.network_output(W, M, data, q), expect, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("q", [3.0, 2.5, 1.0])
def test_gradient_matches_finite_differences(q):
    data, W, M = _small_problem(q, seed=3)
    loss, grad = pai.loss_and_gradient(W, M, data, q)
    f = pai.network_output(W, M, data, q)
    assert np.isclose(loss, np.mean(np.log1p(np.exp(-data.y * f))), rtol=1e-12)
    h = 1e-6
    fd = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += h
        Wm[idx] -= h
        fd[idx] = (pai.loss_and_gradient(Wp, M, data, q)[0]
                   - pai.loss_and_gradient(Wm, M, data, q)[0]) / (2 * h)
    assert np.all(grad[~M] == 0.0)  # masked coordinates get no gradient
    # central differences: error O(h²·L''') + rounding O(ε·L/h) ≈ 1e-10
    assert np.allclose(grad, fd, rtol=1e-6, atol=1e-9)
    assert np.abs(grad).max() > 1e-4  # the check is not vacuous


def test_masked_coordinates_never_change():
    rng = np.random.default_rng(5)
    data = pai.make_patch_data(20, 200, 6.0, 1.0, rng)
    # masked GD from weights whose masked entries are NOT zero: they must stay put
    W0 = 0.1 * rng.standard_normal((2, 5, 200))
    M = rng.random(W0.shape) >= 0.6
    W = W0.copy()
    for _ in range(100):
        W -= 0.05 * pai.loss_and_gradient(W, M, data)[1]
    assert np.array_equal(W[~M], W0[~M])
    assert np.all(W[M] != W0[M])
    # the trainer's effective weights are zero off the mask, both representations
    for method in ("coefficients", "direct"):
        res = pai.train_pruned_network(data, 5, 0.6, rng=7, max_steps=300, n_test=50,
                                       method=method)
        assert res.method == method
        assert np.all(res.weights[~res.masks] == 0.0)
        assert np.count_nonzero(res.weights[res.masks]) == np.count_nonzero(res.masks)


def test_coefficient_dynamics_equal_direct_gd():
    """The O(m n²) signal–noise coefficient representation is exact masked GD."""
    data = pai.make_patch_data(15, 120, 4.0, 1.0, 11)
    kw = dict(m=4, p=0.5, q=3.0, sigma0=0.1, eta=0.2, max_steps=400, loss_tol=1e-4, rng=2,
              n_test=300, record_every=7)
    a = pai.train_pruned_network(data, method="coefficients", **kw)
    b = pai.train_pruned_network(data, method="direct", **kw)
    assert a.steps == b.steps
    assert np.allclose(a.weights, b.weights, rtol=1e-8, atol=1e-10)
    assert np.allclose(a.trajectory_loss, b.trajectory_loss, rtol=1e-8)
    assert np.allclose(a.trajectory_signal, b.trajectory_signal, rtol=1e-8, atol=1e-12)
    assert a.test_error == b.test_error and np.array_equal(a.masks, b.masks)
    # and the same as a hand-written masked-GD loop
    rng = np.random.default_rng(2)
    W = 0.1 * rng.standard_normal((8, 120))
    M = (rng.random((8, 120)) >= 0.5).reshape(2, 4, 120)
    W = W.reshape(2, 4, 120) * M
    for _ in range(a.steps):
        W -= 0.2 * pai.loss_and_gradient(W, M, data)[1]
    assert np.allclose(a.weights, W, rtol=1e-8, atol=1e-10)
    assert a.trajectory_steps[-1] == a.steps
    assert np.all(np.diff(a.trajectory_steps[:-1]) == 7)


# ------------------------------------------------------------------------ §2.4 phenomenology


@pytest.mark.parametrize("seed", [0, 1])
def test_no_signal_neuron_gives_chance_test_error(seed):
    """§2.4: with no mask keeping coordinate 1, the output depends only on the noise patch,
    so the test error is 1/2 (each test point is an independent fair coin); (1 − p)d = 500
    coordinates still memorise the n = 40 noise vectors, so the training loss goes to 0."""
    rng = np.random.default_rng(100 + seed)
    masks = rng.random((2, REF["m"], REF["d"])) >= 0.5
    masks[:, :, 0] = False
    data = pai.make_patch_data(REF["n"], REF["d"], REF["mu_norm"], REF["sigma_p"], rng)
    n_test = 4000
    res = pai.train_pruned_network(data, REF["m"], 0.5, rng=rng, n_test=n_test, masks=masks)
    assert res.signal_neurons == 0
    assert np.all(res.trajectory_signal == 0.0)
    assert res.converged and res.train_loss < 1e-3 and res.train_error == 0.0
    assert abs(res.test_error - 0.5) < 4 * np.sqrt(0.25 / n_test)
    assert res.max_noise_coefficient > 1.0  # memorised


def test_signal_neurons_binomial_and_nested():
    """Signal-seeing filters ~ Binomial(2m, 1 − p) (§2.4); with one seed the masks are nested
    in p, so the count never rises with p."""
    m, d, reps = 20, 30, 60
    ps = [0.0, 0.5, 0.8, 0.95]
    counts = np.zeros((reps, len(ps)))
    for s in range(reps):
        data = pai.make_patch_data(4, d, 1.0, 1.0, s)
        for k, p in enumerate(ps):
            res = pai.train_pruned_network(data, m, p, max_steps=1, rng=s, n_test=1)
            counts[s, k] = res.signal_neurons
    assert np.all(np.diff(counts, axis=1) <= 0)
    assert np.all(counts[:, 0] == 2 * m)
    for k, p in enumerate(ps[1:], start=1):
        mean, var = 2 * m * (1 - p), 2 * m * p * (1 - p)
        assert abs(counts[:, k].mean() - mean) < 4 * np.sqrt(var / reps)


def test_test_error_is_u_shaped_in_p():
    """§2.5 at the reference settings, 6 fixed seeds (common random numbers across p): dense
    and extreme pruning are at chance, p = 0.9 generalises. The seed-to-seed variance is large
    (§2.5), so medians are compared; n·SNR_p³ is 0.27 at p = 0 and 8.6 at p = 0.9."""
    summary, runs = pai.test_error_curve([0.0, 0.9, 0.995], range(6), return_runs=True)
    med = dict(zip(summary.p, summary.median_test_error, strict=True))
    se = np.sqrt(0.25 / 2000)
    assert abs(med[0.0] - 0.5) < 4 * se + 0.02
    assert abs(med[0.995] - 0.5) < 4 * se + 0.02
    assert med[0.9] < 0.1
    # the race: at p = 0 noise memorisation wins in every run, at p = 0.9 the signal
    # coefficient grows from O(σ₀‖μ‖) to O(1) in the runs that generalise
    dense = runs[runs.p == 0.0]
    assert np.all(dense.max_noise_coefficient > 10 * dense.max_signal_coefficient)
    good = runs[(runs.p == 0.9) & (runs.test_error < 0.1)]
    assert len(good) >= 3 and np.all(good.max_signal_coefficient > 1.0)
    assert np.all(runs.train_error[runs.p < 0.99] == 0.0)
    means = dict(zip(summary.p, summary.mean_signal_neurons, strict=True))
    assert means[0.0] == 40 and means[0.0] > means[0.9] > means[0.995]


# ------------------------------------------------------------------ sweep and bad input


def test_sweep_computation(tmp_path):
    from statmech.sweep import get_computation, run_sweep

    comp = get_computation("pruning_at_init")
    assert set(comp.defaults) == set(pai.SWEEP_DEFAULTS)
    spec = {"computation": "pruning_at_init",
            "params": {"d": 60, "n": 8, "m": 3, "max_steps": 50, "n_test": 100},
            "grid": {"p": [0.0, 0.5], "replicate": [0, 1]}}
    runs = run_sweep(spec, cache=tmp_path, executor="serial")
    assert len(runs) == 4
    for col in ("test_error", "train_error", "signal_neurons", "snr_p", "steps", "diverged",
                "max_signal_coefficient", "max_noise_coefficient", "seconds"):
        assert col in runs.columns
    assert runs.p.tolist() == [0.0, 0.0, 0.5, 0.5]
    assert np.allclose(runs.snr_p, 6.0 / np.sqrt((1 - runs.p) * 60))
    assert runs.test_error.nunique() > 1  # replicates are independent
    summary = pai.summarize_runs(runs)
    assert summary.p.tolist() == [0.0, 0.5] and summary.runs.tolist() == [2, 2]


def test_divergence():
    data = pai.make_patch_data(10, 50, 6.0, 1.0, 0)
    with pytest.raises(FloatingPointError, match="diverged.*'eta'"):
        pai.train_pruned_network(data, 4, 0.0, 3.0, 1.0, 1e200, 20, 1e-300, 0, n_test=10)
    row = pai.run_point({"d": 50, "n": 10, "m": 4, "sigma0": 1.0, "eta": 1e200,
                         "loss_tol": 1e-300, "n_test": 10}, 0)
    assert bool(row.diverged.iloc[0]) and np.isnan(row.test_error.iloc[0])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"p": 1.0}, r"'p' parameter .* >= 0.0 and < 1.0"),
    ({"p": -0.1}, r"'p' parameter .* >= 0.0 and < 1.0"),
    ({"q": 0.5}, r"'q' parameter .* >= 1.0"),
    ({"m": 0}, r"'m' parameter .* >= 1"),
    ({"eta": 0.0}, r"'eta' parameter .* > 0.0"),
    ({"sigma0": -1.0}, r"'sigma0' parameter .* > 0.0"),
    ({"max_steps": 0}, r"'max_steps' parameter .* >= 1"),
    ({"loss_tol": 0.0}, r"'loss_tol' parameter .* > 0.0"),
    ({"n_test": 0}, r"'n_test' parameter .* >= 1"),
    ({"method": "adam"}, r"'method' parameter .* 'auto'"),
    ({"masks": np.ones((2, 3, 5))}, r"'masks' parameter .* shape \(2, 3, 20\)"),
])
def test_bad_training_input(kwargs, match):
    data = pai.make_patch_data(5, 20, 1.0, 1.0, 0)
    args = {"m": 3, "p": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        pai.train_pruned_network(data, **args)


def test_bad_other_input():
    with pytest.raises(ValueError, match=r"'d' parameter .* >= 2"):
        pai.make_patch_data(5, 1, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match=r"'mu_norm' parameter .* > 0.0"):
        pai.make_patch_data(5, 10, 0.0, 1.0, 0)
    with pytest.raises(ValueError, match=r"'sigma_p' parameter .* > 0.0"):
        pai.make_patch_data(5, 10, 1.0, -1.0, 0)
    with pytest.raises(ValueError, match=r"'n' parameter .* >= 1"):
        pai.make_patch_data(0, 10, 1.0, 1.0, 0)
    data = pai.make_patch_data(5, 10, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match=r"'q' parameter .* >= 1.0"):
        pai.loss_and_gradient(np.zeros((2, 2, 10)), np.ones((2, 2, 10)), data, q=0.0)
    with pytest.raises(ValueError, match=r"'weights' parameter .* shape \(2, m, 10\)"):
        pai.network_output(np.zeros((3, 2, 10)), np.ones((3, 2, 10)), data)
    with pytest.raises(ValueError, match=r"'data' parameter"):
        pai.train_pruned_network(data.patches, 2, 0.5)
    with pytest.raises(ValueError, match=r"'ps' parameter .* < 1.0"):
        pai.test_error_curve([0.5, 1.0], 1)
    with pytest.raises(ValueError, match=r"Unknown setting"):
        pai.test_error_curve([0.5], 1, width=3)
    with pytest.raises(ValueError, match=r"Unknown parameter"):
        pai.run_point({"width": 3}, 0)
