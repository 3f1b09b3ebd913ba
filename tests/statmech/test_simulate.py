"""statmech.simulate: API, reproducibility, backends, divergence and bad input."""

import importlib.util
import io

import numpy as np
import pytest
from scipy import stats

import statmech as sm
from statmech._progress import ProgressBar
from statmech.simulation.backend import cupy_available

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
METHODS = ["full", "reduced"]




BACKENDS = [
    "numpy",
    "array-api-strict",
    pytest.param("torch", marks=needs_torch),
    pytest.param("cupy", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not cupy_available(), reason="no GPU")]),
]

KW = dict(eta=0.6, alpha=[0.0, 0.5, 1.5], noise=0.1, train_second_layer=True, batch_size=2,
          weight_decay=0.1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_arrays_whatever_ensemble_size_or_chunking(backend, method, dtype):
    kw = dict(KW, method=method, backend=sm.BackendOptions(backend, dtype=dtype), seed=3)
    a = sm.simulate(40, 2, 3, ensemble=5, **kw)
    b = sm.simulate(40, 2, 3, ensemble=5, **kw)
    c = sm.simulate(40, 2, 3, ensemble=3, **kw)
    d = sm.simulate(40, 2, 3, ensemble=5,
                    **dict(kw, backend=sm.BackendOptions(backend, dtype=dtype, chunk_size=2)))
    # On GPUs the random streams are the same, but cuBLAS / cuSOLVER / reduction kernels are
    # chosen by batch shape, so results across E or chunkings agree only to rounding (measured on
    # an H100: <= 3e-7 relative in float32, <= 2.2e-16 in float64); CPU backends are bit-exact.
    gpu = sm.get_backend(backend).is_gpu
    rtol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    for name in ("Q", "R", "v", "eg", "T"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        for x, y in ((getattr(a, name)[:3], getattr(c, name)), (getattr(a, name),
                                                                 getattr(d, name))):
            if gpu:
                np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(x).max())
            else:
                np.testing.assert_array_equal(x, y)
    e = sm.simulate(40, 2, 3, ensemble=5, **dict(kw, seed=4))
    assert not np.array_equal(a.Q[:, -1], e.Q[:, -1])
    tol = 1e-4 if dtype == "float32" else 1e-12  # the recorded state is the Gram of the weights
    np.testing.assert_allclose(a.Q, np.swapaxes(a.Q, -1, -2), atol=tol)


@needs_torch
@pytest.mark.parametrize("method", METHODS)
def test_numpy_and_torch_agree_in_distribution(method):
    """Independent seeds: two-sample KS on ε_g, mean Q_kk and mean R_kk at two times."""
    kw = dict(eta=0.8, alpha=[0.0, 1.0, 3.0], ensemble=300, method=method, noise=0.2)
    a = sm.simulate(30, 2, **kw, backend="numpy", seed=1)
    b = sm.simulate(30, 2, **kw, backend="torch", seed=2)
    p = []

    def summaries(e, j):
        return (e.eg[:, j], np.trace(e.Q[:, j], axis1=1, axis2=2),
                np.trace(e.R[:, j], axis1=1, axis2=2))

    for j in (1, 2):
        for x, y in zip(summaries(a, j), summaries(b, j), strict=True):
            p.append(stats.ks_2samp(x, y).pvalue)
    assert min(p) > 0.0027 / len(p), p


def test_reduced_chain_streams_are_the_same_on_every_backend():
    kw = dict(KW, method="reduced", ensemble=3, seed=5)
    a = sm.simulate(40, 2, **kw)
    b = sm.simulate(40, 2, **kw, backend="array-api-strict")
    np.testing.assert_allclose(a.Q, b.Q, rtol=1e-13)


def test_ensemble_outputs_and_round_trip(tmp_path):
    ens = sm.simulate(50, 3, 2, eta=0.5, alpha=2.0, ensemble=4, seed=0)
    n = ens.alpha.size
    assert ens.alpha[0] == 0.0 and ens.alpha[-1] == 2.0 and n == 101  # 201 outputs, 100 steps
    assert ens.Q.shape == (4, n, 3, 3) and ens.R.shape == (4, n, 3, 2)
    assert ens.v.shape == (4, n, 3) and ens.eg.shape == (4, n) and ens.T.shape == (4, 2, 2)
    op = ens.order_parameters(-1)
    np.testing.assert_allclose(sm.generalization_error(op), ens.eg[:, -1], rtol=1e-12)
    mean = ens.mean_trajectory()
    np.testing.assert_allclose(mean.eg, ens.eg.mean(0))
    np.testing.assert_allclose(mean.eg_se, ens.eg.std(0, ddof=1) / 2)
    w = ens.weights()
    np.testing.assert_allclose(w["W"] @ np.swapaxes(w["W"], 1, 2) / 50, ens.Q[:, -1], atol=1e-12)
    frame = ens.to_frame()
    assert len(frame) == 4 * n and {"member", "alpha", "eg", "Q_0_2", "R_2_1", "v_0"} <= set(
        frame.columns)
    path = ens.save(tmp_path / "run")
    back = sm.Ensemble.load(path)
    for name in ("alpha", "Q", "R", "v", "eg", "T", "v_star", "status"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ens, name))
    assert back.params == ens.params
    np.testing.assert_array_equal(back.weights()["W"], w["W"])
    red = sm.simulate(50, 3, 2, eta=0.5, alpha=1.0, ensemble=2, method="reduced", seed=0)
    red_back = sm.Ensemble.load(red.save(tmp_path / "red.npz"))
    np.testing.assert_array_equal(red_back.weights()["W"], red.weights()["W"])


def test_initial_state_options():
    rng = np.random.default_rng(0)
    Ws = rng.standard_normal((2, 60))
    W0 = rng.standard_normal((3, 2, 60))
    ens = sm.simulate(60, 2, eta=0.5, alpha=[0.0, 0.1], ensemble=3, teacher=Ws,
                      init=sm.StudentInit(weights=W0, v=0.3), v_star=[1.0, -0.5])
    op0 = ens.order_parameters(0)
    ref = sm.OrderParameters.from_weights(W0, Ws)
    np.testing.assert_allclose(op0.Q, ref.Q, atol=1e-12)
    np.testing.assert_allclose(op0.R, ref.R, atol=1e-12)
    np.testing.assert_allclose(op0.v, 0.3)
    np.testing.assert_allclose(op0.v_star, np.broadcast_to([1.0, -0.5], (3, 2)))
    start = sm.OrderParameters.random(2, 2, 60, seed=1, v=[0.5, 0.7])
    for method in METHODS:
        e = sm.simulate(60, 2, eta=0.5, alpha=[0.0, 0.1], ensemble=2, init=start, method=method)
        np.testing.assert_allclose(e.Q[:, 0], np.broadcast_to(start.Q, (2, 2, 2)), atol=1e-12)
        np.testing.assert_allclose(e.v[:, 0], np.broadcast_to([0.5, 0.7], (2, 2)))
    g = sm.simulate(200, 2, eta=0.5, alpha=[0.0], ensemble=400, method="reduced",
                    init=sm.StudentInit(scale=0.1, v=0.0, v_scale=0.5))
    # Q_kk ~ 0.01 χ²(200)/200 and v ~ N(0, 0.25): check the scales
    assert abs(np.mean(np.diagonal(g.Q[:, 0], axis1=1, axis2=2)) - 0.01) < 5 * 0.01 * 0.1 / 20
    assert abs(np.std(g.v[:, 0]) - 0.5) < 0.05


def test_divergence_raises_or_masks():
    with pytest.raises(ValueError, match=r"diverged.*learning rate is too large"):
        sm.simulate(100, 2, eta=30.0, alpha=5.0, ensemble=2)
    ens = sm.simulate(100, 2, eta=30.0, alpha=5.0, ensemble=2, on_divergence="mask")
    assert np.all(ens.status == "diverged")
    assert np.all(np.isnan(ens.eg[:, -1])) and np.all(ens.alpha_diverged > 0)
    assert np.all(np.isnan(ens.weights()["W"]))
    red = sm.simulate(100, 2, eta=30.0, alpha=5.0, ensemble=2, on_divergence="mask",
                      method="reduced")
    assert np.all(red.status == "diverged")
    with pytest.raises(ValueError, match="diverged"):
        red.order_parameters(-1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(N=3, K=2), r"'N' parameter of simulate must be an int >= K \+ M = 4"),
    (dict(ensemble=0), r"'ensemble' parameter of simulate must be an int >= 1"),
    (dict(backend="jax"), r"'backend' parameter .* must be one of 'numpy', 'torch', 'cupy'"),
    (dict(method="exact"), r"'method' parameter of simulate must be one of 'full', 'reduced'"),
    (dict(eta=-1.0), r"'eta' parameter of simulate must be a finite float > 0"),
    (dict(eta=float("nan")), r"'eta' parameter"),
    (dict(batch_size=0), r"'batch_size' parameter of simulate must be an int >= 1"),
    (dict(N=8, K=2, method="reduced", batch_size=5), r"'batch_size' .* <= N - K - M = 4"),
    (dict(alpha=[1.0, 0.5]), r"'alpha' parameter of simulate"),
    (dict(alpha=[0.0, 0.001]), r"closer than one SGD step"),
    (dict(v_star=[1.0, 2.0, 3.0]), r"'v_star' parameter of simulate"),
    (dict(teacher=np.ones((3, 5))), r"'teacher' parameter of simulate must be .* shape"),
    (dict(init=np.ones((2, 7))), r"'init' parameter of simulate must be .* shape"),
    (dict(noise=-0.1), r"'noise' parameter"),
    (dict(seed=-1), r"'seed' parameter of simulate must be an int >= 0"),
    (dict(on_divergence="ignore"), r"'on_divergence' parameter"),
    (dict(activation="tanh"), r"'activation' parameter"),
    (dict(init=lambda: sm.StudentInit(scale=0.0)), r"'scale' parameter of StudentInit"),
    (dict(backend=lambda: sm.BackendOptions(dtype="float16")),
     r"'dtype' parameter of BackendOptions must be one of 'float64', 'float32'"),
    (dict(backend=lambda: sm.BackendOptions(chunk_size=0)), r"'chunk_size' parameter"),
    (dict(etta=0.5), r"unexpected keyword argument 'etta'"),
    (dict(model=sm.SGDModel(eta=[0.5, 0.6])), r"'eta' parameter of simulate must be a scalar"),
])
def test_bad_input_gives_clear_messages(kwargs, match):
    base = dict(N=20, K=2, eta=0.5, alpha=1.0)
    base.update(kwargs)
    if "model" in kwargs:
        del base["eta"]
    N, K = base.pop("N"), base.pop("K")
    with pytest.raises(ValueError, match=match):
        base = {k: v() if callable(v) else v for k, v in base.items()}
        sm.simulate(N, K, **base)


def test_cupy_without_gpu_is_a_clear_error():
    if cupy_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="'backend' parameter is 'cupy'"):
        sm.simulate(20, 2, eta=0.5, alpha=1.0, backend="cupy")


def test_progress_bar_draws_only_when_enabled():
    quiet = io.StringIO()
    with ProgressBar(10, "x", stream=quiet) as bar:  # StringIO is not a terminal
        bar.update(10)
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    with ProgressBar(10, "x", enabled=True, stream=loud, min_interval=0) as bar:
        bar.update(5)
        bar.update(5)
    assert "100.0%" in loud.getvalue()


def test_escape_times_per_member():
    # up to α = 600: with seed 1 one of the 8 members escapes slowly (α ≈ 490)
    alpha = np.concatenate([[0.0], np.linspace(1.0, 600.0, 600)])
    ens = sm.simulate(300, 2, eta=0.5, alpha=alpha, ensemble=8, method="reduced", seed=1)
    t = ens.escape_time()
    plateau = sm.plateau_height(2, eta=0.5)
    assert t.shape == (8,) and np.all(np.isfinite(t))
    for e in range(8):  # ε_g crosses half the plateau height at t[e] (linear interpolation)
        i = np.searchsorted(ens.alpha, t[e])
        assert ens.eg[e, i - 1] >= 0.5 * plateau >= ens.eg[e, i]
    short = sm.simulate(500, 2, eta=0.5, alpha=np.linspace(0, 5, 6), ensemble=2, seed=1)
    assert np.all(np.isnan(short.escape_time()))
