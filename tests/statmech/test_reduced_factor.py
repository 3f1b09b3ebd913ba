"""The carried-factor path of the reduced chain (B = 1, ``statmech.simulation.reduced_chain``).

1. Exactness in law: from one common state, n SGD steps (two compressions of F and a partial
   chunk) of the factor path against the explicit full-N engine, at small N where finite-N
   effects are large. Statistic: two-sample z-tests on the mean and on the variance (standard
   error from the fourth central moment) of every entry of Q (upper triangle), R and v;
   Bonferroni over the entries, family-wise false-alarm rate 0.27 % per comparison, fixed seeds.
   Cases: K = 2 and K = 6, weight decay, label noise, an untrained second layer, K = 1, and a
   switch of representation in the middle of a chunk.
2. Negative controls, with the same statistic and threshold: r² without its χ² part, the new
   direction dropped (r ≡ 0), and the subtle one, |x|² ≡ N (the N → ∞ shortcut; at these sizes
   max |z| is about 5.5 for K = 2 and 8 for K = 6 against thresholds 3.8 and 4.2, while the
   exact chain stays below 3 over several seeds).
3. One factor step is the order-parameter update (with G = |x|²/N from the frame); the
   compression keeps F Fᵀ (and R̃) to round-off and leaves F lower triangular and padded; every
   step's frame coordinates have |w|² ~ χ²(N).
4. Determinism: same seeds, same arrays; a member's trajectory does not depend on E; NumPy,
   array-api-strict and torch agree to round-off.
"""

import importlib.util

import numpy as np
import pytest
from scipy import stats

import statmech as sm
from statmech.simulation.backend import get_backend, member_seeds
from statmech.simulation.reduced_chain import (
    FACTOR_CHUNK_MAX,
    REDUCED_BLOCK_STEPS,
    ReducedEngine,
    factor_chunk,
)
from statmech.simulation.sgd_engine import EngineSettings
from statmech.simulation.sgd_full import FullEngine

FAMILY = 0.0027
HAS_TORCH = importlib.util.find_spec("torch") is not None
BACKENDS = ["array-api-strict",
            pytest.param("torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="no torch"))]


class NoChi2Chain(ReducedEngine):
    """Wrong: r² = Σ (spare b_i²) without the χ²(N − M − K − D) part."""

    def _new_norm2(self, tail, chi2, used):
        return tail


class DroppedDirectionChain(ReducedEngine):
    """Wrong: the part of x outside the frame is dropped (r ≡ 0)."""

    def _new_norm2(self, tail, chi2, used):
        return 0.0 * tail


class UnitNormFactorChain(ReducedEngine):
    """Wrong: |x|² ≡ N (the N → ∞ shortcut), r² = N − |a|² − Σ_{i<K+j} b_i² (clipped at 0)."""

    def _new_norm2(self, tail, chi2, used):
        return np.maximum(self.model.N - used, 0.0)


class SwitchingChain(ReducedEngine):
    """Exact: leaves the factor representation after 7 steps (mid-chunk) and re-enters it from
    the eigh factor of S, the chunk's first 7 extra columns of F zero but in use."""

    def advance(self, n, progress=None):
        super().advance(7, progress)
        self._to_eigh()
        super().advance(n - 7, progress)


def _model(K, M, N, eta=1.5, eta_v=0.8, noise=0.0, kappa=0.0, train=True):
    return EngineSettings(N=N, K=K, M=M, eta=eta, eta_v=eta_v if train else 0.0, noise=noise,
                    weight_decay=kappa, batch_size=1, train_second_layer=train, student="erf",
                    teacher="erf", dtype="float64")


def _start(K, M, N, seed):
    """A common initial state: explicit weights and second layers."""
    rng = np.random.default_rng(seed)
    W = 0.8 * rng.standard_normal((K, N))
    Ws = rng.standard_normal((M, N))
    return W, Ws, rng.uniform(0.3, 1.2, K), rng.uniform(0.5, 1.5, M)


def _entries(Q, R, v, train):
    K = Q.shape[-1]
    iu = np.triu_indices(K)
    parts = [Q[:, iu[0], iu[1]], R.reshape(len(R), -1)]
    if train:
        parts.append(v)
    return np.concatenate(parts, axis=1)  # (E, entries)


def _run_full(model, start, n, E, seed, chunk=4000):
    """n steps of the full-N engine, inputs and label noise drawn here per step."""
    W, Ws, v, vs = start
    K, M, N = model.K, model.M, model.N
    be = get_backend("numpy")
    rng = np.random.default_rng(seed)
    out = []
    for lo in range(0, E, chunk):
        e = min(chunk, E - lo)
        eng = FullEngine(be, model, [None] * e, np.broadcast_to(W, (e, K, N)),
                         np.broadcast_to(Ws, (e, M, N)), np.broadcast_to(v, (e, K)),
                         np.broadcast_to(vs, (e, M)))
        for _ in range(n):
            x = rng.standard_normal((e, 1, N))
            z = rng.standard_normal((e, 1)) if model.noise > 0 else None
            eng.step_with(x, z)
        Q, R, _, vv = eng.order_parameters()
        out.append(_entries(Q, R, vv, model.train_second_layer))
    return np.concatenate(out)


def _run_reduced(model, start, n, E, seed, cls=ReducedEngine, chunk=500):
    """n steps of the reduced chain (advance: the factor path for B = 1)."""
    W, Ws, v, vs = start
    op = sm.OrderParameters.from_weights(W, Ws)
    K, M = model.K, model.M
    out = []
    for lo in range(0, E, chunk):
        e = min(chunk, E - lo)
        eng = cls(get_backend("numpy"), model, member_seeds(seed, range(lo, lo + e)),
                  np.broadcast_to(op.Q, (e, K, K)), np.broadcast_to(op.R, (e, K, M)),
                  np.broadcast_to(op.T, (e, M, M)), np.broadcast_to(v, (e, K)),
                  np.broadcast_to(vs, (e, M)))
        assert eng.chunk == factor_chunk(model.N, M, K) > 0  # the factor path runs
        eng.advance(n)
        Q, R, _, vv = eng.order_parameters()
        out.append(_entries(Q, R, vv, model.train_second_layer))
    return np.concatenate(out)


def _z(x, y):
    """Two-sample z statistics of the mean and the variance of each column."""
    n, m = len(x), len(y)

    def var_se2(u):
        c = u - u.mean(0)
        return np.mean((c * c - c.var(0)) ** 2, axis=0) / len(u)

    z_mean = (x.mean(0) - y.mean(0)) / np.sqrt(x.var(0) / n + y.var(0) / m)
    z_var = (x.var(0) - y.var(0)) / np.sqrt(var_se2(x) + var_se2(y))
    return np.concatenate([z_mean, z_var])


def _threshold(n_stats):
    return stats.norm.isf(FAMILY / n_stats / 2)


# (K, M, N, model options): small N, so that |x|²/N and the spare directions matter
CASES = {
    "K2": (2, 2, 40, dict()),
    "K6": (6, 3, 50, dict(eta=1.2)),
    "decay": (3, 2, 40, dict(kappa=2.0)),
    "noise_untrained_v": (2, 3, 40, dict(noise=0.5, train=False)),
    "K1": (1, 2, 30, dict(noise=0.3, kappa=1.0)),
}
E_FULL = E_RED = 12_000


def _steps(D):
    return 2 * D + D // 2 + 3  # two compressions, then part of a chunk


@pytest.fixture(scope="module")
def full_samples():
    cache = {}

    def get(name):
        if name not in cache:
            K, M, N, kw = CASES[name]
            model = _model(K, M, N, **kw)
            start = _start(K, M, N, seed=7)
            n = _steps(factor_chunk(N, M, K))
            cache[name] = (model, start, n, _run_full(model, start, n, E_FULL, seed=100))
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(CASES))
def test_factor_path_matches_full_n_in_law(full_samples, name):
    model, start, n, full = full_samples(name)
    z = _z(full, _run_reduced(model, start, n, E_RED, seed=200))
    assert np.all(np.abs(z) < _threshold(z.size)), z


def test_switching_representation_mid_chunk_is_exact(full_samples):
    model, start, n, full = full_samples("K6")
    z = _z(full, _run_reduced(model, start, n, E_RED, seed=201, cls=SwitchingChain))
    assert np.all(np.abs(z) < _threshold(z.size)), z


@pytest.mark.parametrize("name, cls", [
    ("K2", NoChi2Chain), ("K2", DroppedDirectionChain), ("K2", UnitNormFactorChain),
    ("K6", NoChi2Chain), ("K6", UnitNormFactorChain),
])
def test_wrong_factor_chains_are_rejected(full_samples, name, cls):
    model, start, n, full = full_samples(name)
    z = _z(full, _run_reduced(model, start, n, E_RED, seed=300, cls=cls))
    assert np.any(np.abs(z) > _threshold(z.size)), z


# ---------------------------------------------------------------------------------------------
# 3. compression


def _engine(K, M, N, E=5, seed=0, backend="numpy", model=None, v=None):
    op = sm.OrderParameters.random(K, M, N, size=E, seed=seed)
    model = model or _model(K, M, N, noise=0.2, kappa=0.5)
    return ReducedEngine(get_backend(backend, "cpu" if backend == "torch" else None), model,
                         member_seeds(seed, E), op.Q, op.R, op.T,
                         np.ones((E, K)) if v is None else v, np.ones((E, M)))


@pytest.mark.parametrize("K, M", [(1, 1), (2, 2), (6, 2), (20, 5)])
def test_compression_keeps_f_ft(K, M):
    eng = _engine(K, M, 200)
    D = eng.chunk
    assert D == FACTOR_CHUNK_MAX and REDUCED_BLOCK_STEPS % D == 0
    eng.advance(3 * D - 1)  # the last step of a chunk is still to come: F has K + D - 1 columns
    F = np.array(eng.F)
    Rt = np.array(eng.Rt)
    assert np.all(F[:, :, K + D - 1:] == 0) and np.any(F[:, :, K + D - 2] != 0)
    eng._compress()
    G = np.array(eng.F)
    scale = np.max(np.abs(F @ np.swapaxes(F, -1, -2)))
    np.testing.assert_allclose(G @ np.swapaxes(G, -1, -2), F @ np.swapaxes(F, -1, -2), rtol=0,
                               atol=50 * np.finfo(float).eps * scale)
    assert np.all(G[:, :, K:] == 0)  # padded with D zero columns
    assert np.all(np.triu(G[:, :, :K], 1) == 0)  # ℛᵀ: lower triangular,
    assert np.all(np.diagonal(G, axis1=-2, axis2=-1) >= 0)  # with a non-negative diagonal
    np.testing.assert_array_equal(np.array(eng.Rt), Rt)


def test_compression_of_a_singular_factor():
    """Students inside the teacher span (S = 0, F = 0) and one duplicated student direction."""
    K, M, N, E = 3, 2, 50, 4
    rng = np.random.default_rng(3)
    Ws = rng.standard_normal((E, M, N))
    W = np.einsum("ekm,emn->ekn", rng.standard_normal((E, K, M)), Ws)
    op = sm.OrderParameters.from_weights(W, Ws)
    eng = ReducedEngine(get_backend("numpy"), _model(K, M, N), member_seeds(0, E), op.Q, op.R,
                        op.T, np.ones((E, K)), np.ones((E, M)))
    eng._to_factor()
    assert np.max(np.abs(np.array(eng.F))) < 1e-6  # S = 0 up to round-off
    eng._compress()
    np.testing.assert_allclose(np.array(eng.Q), op.Q, atol=1e-12)
    eng.advance(40)  # singular start, two compressions: Q stays a Gram matrix
    Q = eng.order_parameters()[0]
    assert np.all(np.linalg.eigvalsh(Q) > -1e-12)


@pytest.mark.parametrize("kappa, train", [(0.0, True), (3.0, True), (3.0, False)])
def test_factor_step_is_the_order_parameter_update(kappa, train):
    """One step of the factor path equals the (Q, R, v) update of the module docstring applied
    by the eigh path's ``_apply`` to the same λ = [R̃ | F] w, a, label and G = |w|²/N: the term
    (η²/N)(|x|²/N) c cᵀ of Q' comes out of the frame by itself."""
    K, M, N, E = 4, 2, 40, 6
    model = _model(K, M, N, noise=0.3, kappa=kappa, train=train)
    eng = _engine(K, M, N, E=E, model=model, v=np.linspace(0.2, 1.4, E * K).reshape(E, K))
    for steps in (5, 9):  # mid-chunk; then up to the chunk's end, so a compression follows
        eng.advance(steps)
        s = eng._pos
        X = np.array(eng._X)
        Q0, R0, T0, v0 = eng.order_parameters()
        w = np.array(eng._blocks["w"][s, ...])  # (E, 1, M + K + D)
        y = np.array(eng._blocks["y"][s, ...])
        ref = ReducedEngine(get_backend("numpy"), model, member_seeds(0, E), Q0, R0, T0, v0,
                            np.ones((E, M)))
        lam = w @ np.swapaxes(X, -1, -2)
        ref._apply(lam, w[..., :M], y, ref._g_scale * np.sum(w * w, axis=-1)[..., None] / N)
        eng.advance(1)
        for x, r in zip(eng.order_parameters(), ref.order_parameters(), strict=True):
            np.testing.assert_allclose(x, r, rtol=1e-12, atol=1e-14)


def test_q_is_the_gram_matrix_of_the_frame():
    """Q from the factor state equals the eigh path's (Q, R̃, v) after switching."""
    eng = _engine(4, 2, 60)
    eng.advance(37)
    Q1, R1, _, v1 = eng.order_parameters()
    eng._to_eigh()
    Q2, R2, _, v2 = eng.order_parameters()
    np.testing.assert_allclose(Q2, Q1, rtol=0, atol=1e-14 * np.abs(Q1).max())
    np.testing.assert_array_equal(R2, R1)
    np.testing.assert_array_equal(v2, v1)


def test_chunk_rule():
    assert factor_chunk(500, 2, 6) == 16
    assert factor_chunk(30, 2, 6) == 16  # N − M − K = 22
    assert factor_chunk(20, 2, 6) == 8  # 12 → 8
    assert factor_chunk(10, 2, 2) == 4  # 6 → 4; χ² with 2 degrees of freedom
    assert factor_chunk(12, 2, 2) == 8  # 8 → 8; χ² with 0 degrees of freedom (not drawn)
    assert factor_chunk(5, 2, 2) == 1
    assert factor_chunk(4, 2, 2) == 0  # no room: the eigh path
    eng = _engine(2, 2, 4)
    assert eng.chunk == 0


@pytest.mark.parametrize("N", [12, 40])  # D = N − M − K (χ² with 0 dof, not drawn), and not
def test_frame_coordinates_have_the_norm_of_x(N):
    """At every step j of a chunk |w|² = |a|² + Σ_{i<K+j} b_i² + r² ~ χ²(N) (mean N, variance
    2N): z-tests on the mean and the variance per j, Bonferroni over the 2D statistics."""
    K, M, E = 2, 2, 400
    eng = _engine(K, M, N, E=E)
    D = eng.chunk
    assert (D == N - M - K) == (N == 12)
    eng.advance(1)  # draws a block
    w = np.array(eng._blocks["w"])[:, :, 0, :]  # (Bk, E, M + K + D)
    n2 = np.sum(w * w, axis=-1).reshape(-1, D, E)  # (chunks, j, E)
    n2 = np.swapaxes(n2, 0, 1).reshape(D, -1)  # (j, samples)
    n = n2.shape[1]
    z_mean = (n2.mean(1) - N) / np.sqrt(2 * N / n)
    z_var = (n2.var(1) - 2 * N) / np.sqrt(8 * N * (N + 6) / n)  # 4th central moment 12N(N+4)
    z = np.concatenate([z_mean, z_var])
    assert np.all(np.abs(z) < _threshold(z.size)), z


# ---------------------------------------------------------------------------------------------
# 4. determinism and backends


@pytest.mark.parametrize("backend", ["numpy"] + BACKENDS)
def test_same_seeds_same_arrays_whatever_ensemble_size(backend):
    """CPU backends: bit-identical members whatever E or the chunking (B = 1: factor path)."""
    kw = dict(eta=0.9, alpha=[0.0, 0.5, 3.0, 8.0], noise=0.2, train_second_layer=True,
              weight_decay=0.3, method="reduced", seed=4, backend=backend)
    a = sm.simulate(40, 3, 2, ensemble=5, **kw)
    b = sm.simulate(40, 3, 2, ensemble=5, **kw)
    c = sm.simulate(40, 3, 2, ensemble=3, **kw)
    d = sm.simulate(40, 3, 2, ensemble=5,
                    **dict(kw, backend=sm.BackendOptions(backend, chunk_size=2)))
    for name in ("Q", "R", "v", "eg"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(getattr(a, name)[:3], getattr(c, name))
        np.testing.assert_array_equal(getattr(a, name), getattr(d, name))
    e = sm.simulate(40, 3, 2, ensemble=5, **dict(kw, seed=5))
    assert not np.array_equal(a.Q[:, -1], e.Q[:, -1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("K, M", [(2, 2), (6, 3)])
def test_backends_agree_with_numpy(backend, K, M):
    N, n = 60, REDUCED_BLOCK_STEPS + 37  # crosses a block boundary and several compressions
    ref = _engine(K, M, N, v=np.full((5, K), 0.7))
    other = _engine(K, M, N, backend=backend, v=np.full((5, K), 0.7))
    ref.advance(n)
    other.advance(n)
    for x, y in zip(ref.order_parameters(), other.order_parameters(), strict=True):
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def test_torch_batched_qr_is_a_qr():
    torch = pytest.importorskip("torch")
    from array_api_compat import torch as xt

    A = np.random.default_rng(1).standard_normal((4, 36, 20))
    R = xt.linalg.qr(torch.asarray(A))[1].numpy()
    assert np.all(np.tril(R, -1) == 0)
    np.testing.assert_allclose(np.swapaxes(R, -1, -2) @ R, np.swapaxes(A, -1, -2) @ A,
                               atol=1e-12)
