"""Pruning on the array backends: masks drawn on the device, results moved there."""

import importlib.util

import numpy as np
import pytest
from scipy import stats

import statmech as sm
from statmech.simulation.backend import cupy_available

HAS_TORCH = importlib.util.find_spec("torch") is not None




BACKENDS = [
    "array-api-strict",
    pytest.param("torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")),
    pytest.param("cupy", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not cupy_available(), reason="no GPU")]),
]

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 20))
V = np.array([1.0, -0.5, 2.0])


def _np(res):
    return {k: res.backend.to_numpy(getattr(res, k)) for k in ("mask", "W", "W_out")}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["per_unit", "global"])
def test_magnitude_masks_equal_numpy(backend, variant):
    ref = sm.prune("magnitude_edge", W, V, keep=7, variant=variant, n_masks=2)
    got = _np(sm.prune("magnitude_edge", W, V, keep=7, variant=variant, n_masks=2,
                       backend=backend))
    np.testing.assert_array_equal(got["mask"], ref.mask)
    np.testing.assert_array_equal(got["W"], ref.W)


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_edge_masks_are_exact_uniform_and_reproducible(backend):
    n, e = 4000, 5
    res = sm.prune("random_edge", W, V, keep=e, n_masks=n, seed=3, backend=backend)
    mask = _np(res)["mask"]
    assert np.all(mask.sum(-1) == e)
    again = _np(sm.prune("random_edge", W, V, keep=e, n_masks=n, seed=3, backend=backend))
    np.testing.assert_array_equal(again["mask"], mask)
    c = e / W.shape[1]
    z = (mask.mean(0) - c) / np.sqrt(c * (1 - c) / n)
    assert np.all(np.abs(z) < stats.norm.isf(0.0027 / z.size / 2))
    # each unit's set is uniform: pairs of coordinates appear together at the hypergeometric rate
    both = (mask[:, 0, 0] & mask[:, 0, 1]).mean()
    p2 = e * (e - 1) / (20 * 19)
    assert abs(both - p2) < 4 * np.sqrt(p2 * (1 - p2) / n)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bernoulli_masks_have_rate_c(backend):
    n, e = 4000, 5
    mask = _np(sm.prune("random_edge", W, V, keep=e, variant="bernoulli", n_masks=n, seed=4,
                        backend=backend))["mask"]
    c = e / W.shape[1]
    counts = mask.sum(-1).ravel()
    assert abs(counts.mean() - e) < 4 * np.sqrt(20 * c * (1 - c) / counts.size)
    assert counts.std() > 0.5  # not a fixed count


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["random_node", "magnitude_node", "dpp_edge"])
def test_host_selected_methods_are_moved_to_the_backend(backend, method):
    kw = dict(keep=2 if method.endswith("node") else 6, n_masks=3, seed=5)
    ref = sm.prune(method, W, V, **kw)
    res = sm.prune(method, W, V, backend=backend, **kw)
    got = _np(res)
    np.testing.assert_array_equal(got["W"], ref.W)
    np.testing.assert_array_equal(got["W_out"], ref.W_out)
    Ws = RNG.standard_normal((2, 20))
    np.testing.assert_allclose(res.order_parameters(Ws).Q, ref.order_parameters(Ws).Q)
