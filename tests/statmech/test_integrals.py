"""The ODE's integral contractions: fast erf path against the generic entry-level path, and the
Activation index-tuple API against direct evaluation."""

import numpy as np
import pytest

import statmech as sm
from statmech.theory.activations import ACTIVATIONS
from statmech.theory.ode_integrals import _erf_contracted, _generic_contracted, pairwise_I2


def _random_state(K, M, batch, seed):
    rng = np.random.default_rng(seed)
    op = sm.OrderParameters.random(K, M, 7, size=batch, seed=seed,
                                   v=rng.normal(size=batch + (K,)))
    return op.covariance, op.signed_weights


@pytest.mark.parametrize("K, M", [(1, 1), (2, 3), (4, 2)])
def test_fast_erf_path_equals_generic_path(K, M):
    C, u = _random_state(K, M, (3,), seed=K + M)
    erf = ACTIVATIONS["erf"]
    fast = _erf_contracted(C, u, K, need_j2=True)
    slow = _generic_contracted(C, u, K, erf, erf, need_j2=True)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_fast_erf_path_on_a_singular_covariance():
    # Student 0 is an exact copy of teacher 0 and student 1 of student 0: C has rank deficits.
    rng = np.random.default_rng(0)
    Ws = rng.standard_normal((2, 50))
    W = np.vstack([Ws[0], Ws[0]])
    op = sm.OrderParameters.from_weights(W, Ws)
    erf = ACTIVATIONS["erf"]
    fast = _erf_contracted(op.covariance, op.signed_weights, 2, need_j2=True)
    slow = _generic_contracted(op.covariance, op.signed_weights, 2, erf, erf, need_j2=True)
    for a, b in zip(fast, slow, strict=True):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_pairwise_I2_mixed_blocks():
    C, _ = _random_state(2, 2, (), seed=3)
    relu, erf = ACTIVATIONS["relu"], ACTIVATIONS["erf"]
    I2 = pairwise_I2(C, 2, relu, erf)
    assert I2[0, 3] == pytest.approx(relu.I2(C, 0, 3, other=erf), rel=1e-13)
    assert I2[3, 0] == pytest.approx(erf.I2(C, 3, 0, other=relu), rel=1e-13)
    assert I2[2, 3] == pytest.approx(erf.I2(C, 2, 3), rel=1e-13)
    np.testing.assert_allclose(I2, I2.T, rtol=1e-13)


def test_activation_index_tuples_broadcast():
    C, _ = _random_state(3, 2, (4,), seed=5)
    erf = ACTIVATIONS["erf"]
    a = np.arange(3)[:, None]
    c = np.arange(5)[None, :]
    I3 = erf.I3(C, a, 0, c)
    assert I3.shape == (4, 3, 5)
    assert I3[2, 1, 4] == pytest.approx(erf.I3(C[2], 1, 0, 4), rel=1e-14)
    with pytest.raises(ValueError, match="indices"):
        erf.I2(C, 0, 5)
    with pytest.raises(ValueError, match="'C'"):
        erf.I2(np.ones(3), 0, 1)


def test_activation_values_and_derivatives():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(ACTIVATIONS["relu"].g(x), [0, 0, 2])
    np.testing.assert_allclose(ACTIVATIONS["relu"].dg(x), [0, 0, 1])
    np.testing.assert_allclose(ACTIVATIONS["linear"].dg(x), 1)
    h = 1e-6
    erf = ACTIVATIONS["erf"]
    np.testing.assert_allclose(erf.dg(x), (erf.g(x + h) - erf.g(x - h)) / (2 * h), rtol=1e-8)
    with pytest.raises(ValueError, match="'activation'"):
        sm.get_activation("sigmoid")


def test_chunked_i4_equals_unchunked(monkeypatch):
    import statmech.theory.ode_integrals as integrals

    C, u = _random_state(5, 3, (2,), seed=9)
    whole = _erf_contracted(C, u, 5, need_j2=False).I4uu
    monkeypatch.setattr(integrals, "_CHUNK_BYTES", 8 * 8 * 8 * 2)  # two pairs per chunk
    np.testing.assert_allclose(_erf_contracted(C, u, 5, need_j2=False).I4uu, whole, rtol=1e-14)


def test_triangle_and_full_i4_paths_agree(monkeypatch):
    import statmech.theory.ode_integrals as integrals

    C, u = _random_state(3, 4, (5,), seed=11)
    monkeypatch.setattr(integrals, "_TRIANGLE_MIN", 0)
    tri = _erf_contracted(C, u, 3, need_j2=False).I4uu
    monkeypatch.setattr(integrals, "_TRIANGLE_MIN", 10**9)
    full = _erf_contracted(C, u, 3, need_j2=False).I4uu
    np.testing.assert_allclose(tri, full, rtol=1e-13, atol=1e-15)


def test_threads_do_not_share_scratch_buffers():
    """The erf path reuses work arrays; concurrent threads must each get their own."""
    from concurrent.futures import ThreadPoolExecutor

    states = [_random_state(4, 4, (64,), seed=s) for s in range(6)]
    expected = [_erf_contracted(C, u, 4, need_j2=False).I4uu for C, u in states]
    with ThreadPoolExecutor(max_workers=3) as pool:
        for _ in range(5):
            got = list(pool.map(lambda cu: _erf_contracted(*cu, 4, need_j2=False).I4uu, states))
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_array_equal(g, e)
