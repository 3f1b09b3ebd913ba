"""One SGD step of each engine against independent, deterministic computations.

* The full-N engine's step equals a hand-written per-member NumPy update (the model of
  ``docs/ode_theory.md`` §1.1, mini-batch averaged, weight decay, trained v).
* The reduced chain's update, fed the fields and Gram matrix of explicit inputs, gives exactly the
  Gram matrices of the explicitly updated weights (the derivation in ``reduced_chain``).
* The reduced chain's field map (a, b) -> (λ, ρ) reproduces the covariance [[Q, R], [Rᵀ, T]]
  exactly, also for a singular S = Q − R T⁻¹ Rᵀ (specialised students).
"""

import numpy as np
import pytest
from scipy.special import erf

import statmech as sm
from statmech.simulation.backend import get_backend, member_seeds
from statmech.simulation.reduced_chain import ReducedEngine
from statmech.simulation.sgd_engine import EngineSettings
from statmech.simulation.sgd_full import FullEngine

N, K, M, B, E = 40, 3, 2, 3, 4


def _model(**kw):
    base = dict(N=N, K=K, M=M, eta=0.7, eta_v=0.3, noise=0.2, weight_decay=0.5, batch_size=B,
                train_second_layer=True, student="erf", teacher="erf", dtype="float64")
    base.update(kw)
    return EngineSettings(**base)


def _state(seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((E, K, N))
    Ws = rng.standard_normal((E, M, N))
    v = rng.standard_normal((E, K))
    vs = rng.standard_normal((E, M))
    x = rng.standard_normal((E, B, N))
    z = rng.standard_normal((E, B))
    return W, Ws, v, vs, x, z


def _by_hand(model, W, Ws, v, vs, x, z):
    """Per member, per sample: the textbook update, written independently of the engine."""
    g = lambda t: erf(t / np.sqrt(2))  # noqa: E731
    dg = lambda t: np.sqrt(2 / np.pi) * np.exp(-t * t / 2)  # noqa: E731
    W, v = W.copy(), v.copy()
    d = 1 - model.weight_decay / model.N
    for e in range(E):
        gw = np.zeros((K, N))
        gv = np.zeros(K)
        for b in range(B):
            lam = W[e] @ x[e, b] / np.sqrt(N)
            rho = Ws[e] @ x[e, b] / np.sqrt(N)
            delta = vs[e] @ g(rho) + model.noise * z[e, b] - v[e] @ g(lam)
            gw += np.outer(v[e] * dg(lam) * delta, x[e, b])
            gv += g(lam) * delta
        W[e] = d * W[e] + model.eta / (B * np.sqrt(N)) * gw
        v[e] = d * v[e] + model.eta_v / (B * N) * gv
    return W, v


@pytest.mark.parametrize("backend", ["numpy", "torch", "array-api-strict"])
def test_full_step_matches_hand_written_update(backend):
    pytest.importorskip("torch") if backend == "torch" else None
    model = _model()
    W, Ws, v, vs, x, z = _state()
    be = get_backend(backend, "cpu" if backend == "torch" else None)
    eng = FullEngine(be, model, member_seeds(0, E), W, Ws, v, vs)
    eng.step_with(be.asarray(x), be.asarray(z))
    W1, Ws1, v1 = eng.weights()
    W_ref, v_ref = _by_hand(model, W, Ws, v, vs, x, z)
    np.testing.assert_allclose(W1, W_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v1, v_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(Ws1, Ws)


@pytest.mark.parametrize("acts", [("erf", "erf"), ("relu", "linear"), ("linear", "relu")])
def test_reduced_update_equals_gram_of_explicit_update(acts):
    model = _model(student=acts[0], teacher=acts[1])
    W, Ws, v, vs, x, z = _state(1)
    op = sm.OrderParameters.from_weights(W, Ws, v, vs)
    be = get_backend("numpy")
    red = ReducedEngine(be, model, member_seeds(0, E), op.Q, op.R, op.T, v, vs)
    lam = np.einsum("ekn,ebn->ebk", W, x) / np.sqrt(N)
    rho = np.einsum("emn,ebn->ebm", Ws, x) / np.sqrt(N)
    G = np.einsum("ebn,ecn->ebc", x, x) / N
    red.update(lam, rho, G, z)
    full = FullEngine(be, model, member_seeds(0, E), W, Ws, v, vs)
    full.step_with(x, z)
    Q1, R1, T1, v1 = full.order_parameters()
    Qr, Rr, Tr, vr = red.order_parameters()
    np.testing.assert_allclose(Qr, Q1, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(Rr, R1, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(vr, v1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Tr, T1, rtol=1e-12)


def _field_map(eng, K=K):
    """The linear map (a, b) -> (λ, ρ) of the chain, column by column (unit inputs)."""
    cols = []
    for j in range(M + K):
        unit = np.zeros((E, 1, M + K))
        unit[:, 0, j] = 1.0
        lam, rho = eng.fields(unit[..., :M], unit[..., M:])
        cols.append(np.concatenate([lam[:, 0], rho[:, 0]], axis=-1))
    return np.stack(cols, axis=-1)  # (E, K+M, M+K)


@pytest.mark.parametrize("K", [1, 2, 3])  # closed forms for K <= 2, eigh for K >= 3
@pytest.mark.parametrize("singular", [False, True])
def test_reduced_fields_have_the_exact_covariance(singular, K):
    rng = np.random.default_rng(2)
    Ws = rng.standard_normal((E, M, N))
    if singular:  # students inside the teacher span (+ one duplicate): S has rank 0 or 1
        W = np.einsum("ekm,emn->ekn", rng.standard_normal((E, K, M)), Ws)
        W[:, -1] = W[:, 0] + 0.3 * rng.standard_normal(N) * (np.arange(E) % 2)[:, None]
    else:
        W = rng.standard_normal((E, K, N))
    op = sm.OrderParameters.from_weights(W, Ws)
    eng = ReducedEngine(get_backend("numpy"), _model(K=K), member_seeds(0, E), op.Q, op.R,
                        op.T, np.ones((E, K)), np.ones((E, M)))
    L = _field_map(eng, K)
    C = np.concatenate([np.concatenate([op.Q, op.R], -1),
                        np.concatenate([np.swapaxes(op.R, -1, -2), op.T], -1)], -2)
    scale = np.abs(C).max()
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), C, rtol=0, atol=1e-10 * scale)
