"""Layer-by-layer spectral pruning of MLPs and the comparison with other node methods
(empirical.spectral; docs/companion_papers.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from empirical.data import load_digits
from empirical.fit import train_classifier
from empirical.models import MLP
from empirical.pruning import layer_statistics
from empirical.spectral import (
    compare_node_methods,
    lambda_for_layer_width,
    records_frame,
    spectral_prune_mlp,
    width_for_lambda,
)
from statmech.companion.spectral import degrees_of_freedom


@pytest.fixture(scope="module")
def deep():
    """A briefly trained float64 MLP with two hidden ReLU layers on digits."""
    ds = load_digits(seed=0)
    net = MLP([64, 40, 24, 10], seed=0).double()
    train_classifier(net, ds, epochs=3, batch_size=128, device="cpu", progress=False)
    return net, ds.X_train.astype(np.float64)


def _out(net, X):
    with torch.no_grad():
        return net(torch.as_tensor(X)).numpy()


@pytest.mark.parametrize("recompute", [True, False])
def test_keeping_all_units_with_tau_to_zero_reproduces_the_network(deep, recompute):
    net, X = deep
    small, rec = spectral_prune_mlp(net, X, widths=[40, 24], tau=1e-12,
                                    recompute_statistics=recompute)
    assert small.sizes == net.sizes
    # per layer the mean squared change of the next pre-activations is <= τ‖W‖²_F/4 ~ 1e-12:
    # the outputs agree to ~1e-6 at worst; observed ~1e-10
    np.testing.assert_allclose(_out(small, X), _out(net, X), atol=1e-6)
    assert [r.lam for r in rec] == [0.0, 0.0]  # width >= rank: no compression, λ = 0
    assert all(r.dof == r.rank for r in rec)


def test_widths_and_lambdas_records(deep):
    net, X = deep
    small, rec = spectral_prune_mlp(net, X, widths=[10, 6])
    assert small.sizes == [64, 10, 6, 10]
    assert [r.width for r in rec] == [10, 6]
    for r in rec:
        assert r.dof == pytest.approx(r.width, rel=1e-8)  # λ solves N̂(λ) = width
        assert 0 < r.loss_input < r.trace
        assert r.kept.shape == (r.width,)
    lam = [rec[0].lam, 0.02]
    small2, rec2 = spectral_prune_mlp(net, X, lambdas=lam)
    assert _out(small2, X).shape == (X.shape[0], 10)
    assert rec2[0].width == 10
    assert rec2[1].width == max(1, round(rec2[1].dof))
    df = records_frame(rec2)
    assert list(df["width"]) == [r.width for r in rec2] and "kept" not in df
    # None leaves a layer alone
    small3, rec3 = spectral_prune_mlp(net, X, widths=[None, 5])
    assert small3.sizes == [64, 40, 5, 10] and [r.layer for r in rec3] == [1]


def test_recompute_or_original_statistics(deep):
    net, X = deep
    orig1 = layer_statistics(net, 1, X)["act_cov"]
    _, rec_o = spectral_prune_mlp(net, X, widths=[8, 6], recompute_statistics=False)
    _, rec_r = spectral_prune_mlp(net, X, widths=[8, 6], recompute_statistics=True)
    assert rec_o[1].trace == pytest.approx(np.trace(orig1), rel=1e-12)
    assert rec_r[1].trace != pytest.approx(np.trace(orig1), rel=1e-3)
    # the first layer sees the same statistics either way
    np.testing.assert_array_equal(rec_o[0].kept, rec_r[0].kept)


def test_leverage_tau(deep):
    net, X = deep
    _, rec = spectral_prune_mlp(net, X, widths=[8, 6], tau="leverage")
    for r in rec:  # Σ_j τ_j = λ m♯, so the mean is λ m♯ / m
        assert r.tau == pytest.approx(r.lam * r.width / r.width_before, rel=1e-10)
    with pytest.raises(ValueError, match="tau='leverage' needs λ > 0"):
        spectral_prune_mlp(net, X, widths=[40, 6], tau="leverage")


def test_width_lambda_helpers(deep):
    net, X = deep
    lam = lambda_for_layer_width(net, X, 12.5, layer=1)
    assert width_for_lambda(net, X, lam, layer=1) == pytest.approx(12.5, rel=1e-9)
    rel = lambda_for_layer_width(net, X, 12.5, layer=1, relative=True)
    assert width_for_lambda(net, X, rel, layer=1, relative=True) == pytest.approx(12.5,
                                                                                  rel=1e-9)
    S = layer_statistics(net, 1, X)["act_cov"]
    assert rel == pytest.approx(lam / (np.trace(S) / 24), rel=1e-10)
    grid = width_for_lambda(net, X, [1e-3, 1e-1, 10.0], layer=0, relative=True)
    assert np.all(np.diff(grid) < 0)
    S0 = layer_statistics(net, 0, X)["act_cov"]
    assert grid[1] == pytest.approx(degrees_of_freedom(S0, 1e-1 * np.trace(S0) / 40), rel=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "exactly one of 'widths' and 'lambdas'"),
    (dict(widths=4, lambdas=0.1), "exactly one"),
    (dict(widths=[4]), r"'widths' parameter of spectral_prune_mlp must be a number or a "
                       r"sequence of 2"),
    (dict(widths=[41, 4]), r"'widths' .* ints in \[1, 40\]"),
    (dict(lambdas=[0.1, -1.0]), r"'lambdas' .* finite floats > 0"),
    (dict(widths=4, tau="uniform"), r"'tau' parameter of spectral_prune_mlp"),
    (dict(widths=4, theta=-1.0), r"'theta' parameter of spectral_prune_mlp"),
    (dict(widths=4, recompute_statistics="yes"), r"'recompute_statistics'"),
])
def test_spectral_prune_mlp_errors(deep, kwargs, match):
    net, X = deep
    with pytest.raises(ValueError, match=match):
        spectral_prune_mlp(net, X, **kwargs)


def test_compare_errors():
    with pytest.raises(ValueError, match=r"'methods' parameter of compare_node_methods"):
        compare_node_methods(load_digits(), methods=("svd",))
    with pytest.raises(ValueError, match=r"'data' parameter"):
        compare_node_methods("cifar")


def test_spectral_beats_random_and_magnitude_without_retraining_on_digits():
    """Digits, MLP [64, 64, 10] (10 epochs of Adam), 8 of 64 hidden units kept, three seeds.

    In development runs (4 seeds) the test error after pruning was about 0.24 for spectral
    pruning against 0.56 (random node) and 0.50 (magnitude node), paired per-seed differences
    0.2–0.4. Asserted: spectral wins for every seed and by at least 0.1 on average (the paired
    differences' standard error was ~0.03, so 0.1 is below the observed mean by > 4 SE).
    """
    methods = ("spectral_theta0", "spectral_theta1", "random_node", "magnitude_node")
    summary, raw = compare_node_methods(load_digits(seed=0), hidden=64, widths=(8,),
                                        seeds=(0, 1, 2), methods=methods, epochs=10,
                                        batch_size=128, return_raw=True)
    assert set(summary.method) == {*methods, "unpruned"}
    assert (summary.n_seeds == 3).all()
    table = raw[raw.width == 8].pivot(index="seed", columns="method", values="error")
    for spec in ("spectral_theta0", "spectral_theta1"):
        for other in ("random_node", "magnitude_node"):
            diff = table[other] - table[spec]
            assert (diff > 0).all(), (spec, other, table)
            assert diff.mean() >= 0.1, (spec, other, table)
    base = summary[summary.method == "unpruned"].error_mean.iloc[0]
    assert base < 0.2
