"""One-line reprs of the objects a notebook prints (before: PruningResult's was 14 k chars)."""

import numpy as np

import statmech as sm
from statmech.pruning import Layer


def _one_line(obj, limit=200):
    text = repr(obj)
    assert "\n" not in text and len(text) <= limit, text
    return text


def test_reprs_are_one_short_line():
    W = np.random.default_rng(0).standard_normal((6, 300))
    v = np.ones(6)
    res = sm.prune("dpp_edge", W, v, keep=30, n_masks=20, seed=0)
    assert "method='dpp_edge'" in _one_line(res) and "n_masks=20" in repr(res)
    assert _one_line(Layer.from_arrays(W, v[None, :])).startswith("Layer(H=6, D=300, C=1")
    assert _one_line(sm.KDPP(np.eye(40) + 0.1)).startswith("KDPP(n=40")
    ens = sm.simulate(100, 2, eta=0.5, alpha=np.linspace(0, 1, 3), ensemble=3, seed=0)
    assert _one_line(ens.mean_trajectory()).startswith("EnsembleMean(n_alpha=3")


def test_dataset_repr():
    from empirical.data import load_digits

    assert _one_line(load_digits()).startswith("Dataset('digits', train=1348")


def test_model_settings_and_masked_reprs():
    big = np.random.default_rng(1).standard_normal((3, 5000))
    assert _one_line(sm.SGDModel(eta=np.linspace(0.1, 1, 50))) == "SGDModel(eta=<array (50,)>)"
    assert _one_line(sm.StudentInit(weights=big, mask=big > 0)).startswith(
        "StudentInit(weights=<array (3, 5000)>")
    assert _one_line(sm.BackendOptions("numpy")).startswith("BackendOptions(name='numpy'")
    op = sm.OrderParameters.random(3, 2, 200, seed=0)
    mop = sm.MaskedOrderParameters.random_edge(op, 0.5)
    assert _one_line(mop) == "MaskedOrderParameters(K=3, M=2, cells=8)"
    r = sm.retrain_theory(op, "random_edge", 0.5, alpha=[0.0, 1.0], eta=0.5)
    assert _one_line(r).startswith("RetrainTheory(method='random_edge'")
