"""Array backends and per-member random streams."""

import importlib.util

import numpy as np
import pytest
from scipy import stats

from statmech.simulation.backend import cupy_available, get_backend, member_seeds

HAS_TORCH = importlib.util.find_spec("torch") is not None




BACKENDS = [
    "numpy",
    pytest.param("torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")),
    pytest.param("cupy", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not cupy_available(), reason="no GPU")]),
]


def test_member_streams_do_not_depend_on_ensemble_size_or_chunking():
    whole = member_seeds(7, 10)
    chunk = member_seeds(7, range(6, 10))
    be = get_backend("numpy")
    a = be.standard_normal(be.generators(whole)[8], (5,))
    b = be.standard_normal(be.generators(chunk)[2], (5,))
    np.testing.assert_array_equal(a, b)
    c = be.standard_normal(be.generators(member_seeds(7, 20))[8], (5,))
    np.testing.assert_array_equal(a, c)
    d = be.standard_normal(be.generators(member_seeds(8, 10))[8], (5,))
    assert not np.array_equal(a, d)


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streams_are_reproducible_and_standard_normal(name, dtype):
    be = get_backend(name, device="cpu" if name == "torch" else None)
    draw = [be.to_numpy(be.standard_normal(g, (20000,), dtype))
            for g in be.generators(member_seeds(3, 2))]
    again = be.to_numpy(be.standard_normal(be.generators(member_seeds(3, 2))[0], (20000,), dtype))
    np.testing.assert_array_equal(draw[0], again)
    assert draw[0].dtype == np.dtype(dtype)
    assert not np.array_equal(draw[0], draw[1])
    # distribution: Kolmogorov-Smirnov against N(0, 1), 4 comparisons per backend at 1e-3
    for x in draw:
        assert stats.kstest(x.astype(float), "norm").pvalue > 1e-3 / 4


@pytest.mark.parametrize("name", BACKENDS)
def test_round_trip_and_namespace(name):
    be = get_backend(name, device="cpu" if name == "torch" else None)
    x = be.asarray([[1.0, 2.0], [3.0, 4.0]], dtype="float32")
    y = be.xp.matmul(x, x)
    np.testing.assert_allclose(be.to_numpy(y), [[7, 10], [15, 22]])


def test_bad_backend_messages():
    with pytest.raises(ValueError, match="'backend'.*'numpy', 'torch', 'cupy'"):
        get_backend("jax")
    if not cupy_available():
        with pytest.raises(ValueError, match="'cupy'"):
            get_backend("cupy")
    if HAS_TORCH:
        import torch

        if not torch.cuda.is_available():
            with pytest.raises(ValueError, match="no CUDA device"):
                get_backend("torch", device="cuda")
    with pytest.raises(ValueError, match="'dtype'"):
        get_backend("numpy").dtype("float16")
