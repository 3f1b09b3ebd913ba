"""Reconstructed weights: exact Gram matrices, and rotation invariance (with a negative control).

Rotation invariance: for weights drawn Haar given their Gram matrices, the law of W is unchanged
by any fixed rotation O of R^N. We compare, over independent reconstructions, the first
coordinate W[0, 0] with the first coordinate of W Oᵀ for a fixed random rotation O (two-sample
KS test). The control reconstructs with the complement basis taken from the coordinate axes
(a non-Haar choice); the same test must reject it.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

import statmech as sm
from statmech.simulation import weights_reconstruction as wr

N, K, M = 12, 3, 2


def test_gram_matrices_are_exact():
    op = sm.OrderParameters.random(K, M, N, size=5, seed=0)
    W, Ws = sm.weights_from_order_parameters(op, N, seed=1)
    np.testing.assert_allclose(W @ np.swapaxes(W, -1, -2) / N, op.Q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(W @ np.swapaxes(Ws, -1, -2) / N, op.R, rtol=0, atol=1e-12)
    np.testing.assert_allclose(Ws @ np.swapaxes(Ws, -1, -2) / N, op.T, rtol=0, atol=1e-12)


def test_given_teacher_is_kept_and_singular_s_is_handled():
    rng = np.random.default_rng(3)
    Ws = rng.standard_normal((M, N))
    W = rng.standard_normal((K, M)) @ Ws  # students in the teacher span: S = 0
    op = sm.OrderParameters.from_weights(W, Ws)
    W2, Ws2 = sm.weights_from_order_parameters(op, N, teacher=Ws, seed=0)
    np.testing.assert_array_equal(Ws2, Ws)
    # S = 0 up to round-off ε·|Q|, so its square root contributes up to √ε·|W| ≈ 1e-8 · |W|
    np.testing.assert_allclose(W2, W, atol=1e-6)
    np.testing.assert_allclose(W2 @ W2.T / N, op.Q, atol=1e-12)
    with pytest.raises(ValueError, match="'teacher'"):
        sm.weights_from_order_parameters(op, N, teacher=2 * Ws)
    with pytest.raises(ValueError, match="'N' parameter"):
        sm.weights_from_order_parameters(op, K + M - 1)


def _axis_rows(rng, k, n, exclude=None):
    """Non-Haar control: orthonormalised coordinate axes (projected off ``exclude``)."""
    Y = np.eye(n)[:k]
    if exclude is not None:
        Bx = wr._polar_rows(exclude)
        Y = Y - (Y @ Bx.T) @ Bx
    return wr._polar_rows(Y)


def _rotation_pvalues(monkeypatch=None, rows=None):
    if rows is not None:
        monkeypatch.setattr(wr, "haar_rows", rows)
    op = sm.OrderParameters.random(K, M, N, seed=4)
    O = np.linalg.qr(np.random.default_rng(5).standard_normal((N, N)))[0]
    rng = np.random.default_rng(6)
    n = 2000
    first = np.empty((n, 2))
    rotated = np.empty((n, 2))
    for i in range(n):
        W, Ws = wr.reconstruct_member(op.Q, op.R, op.T, N, rng)
        first[i] = W[0, 0], Ws[0, 0]
        rotated[i] = (W @ O.T)[0, 0], (Ws @ O.T)[0, 0]
    return np.array([stats.ks_2samp(first[:, j], rotated[:, j]).pvalue for j in range(2)])


def test_reconstruction_is_rotation_invariant():
    assert np.all(_rotation_pvalues() > 0.0027 / 2)


def test_axis_aligned_reconstruction_is_rejected(monkeypatch):
    assert np.any(_rotation_pvalues(monkeypatch, _axis_rows) < 0.0027 / 2)


def test_reduced_ensemble_weights_match_its_order_parameters():
    ens = sm.simulate(30, 2, 3, eta=0.8, alpha=[0.0, 1.0], ensemble=3, method="reduced", seed=2)
    w = ens.weights()
    np.testing.assert_allclose(w["W"] @ np.swapaxes(w["W"], -1, -2) / 30, ens.Q[:, -1],
                               atol=1e-12)
    np.testing.assert_allclose(w["W"] @ np.swapaxes(w["W_star"], -1, -2) / 30, ens.R[:, -1],
                               atol=1e-12)
    again = ens.weights()
    np.testing.assert_array_equal(again["W"], w["W"])  # reproducible from the run's seed


def test_reduced_with_given_weights_warns():
    rng = np.random.default_rng(0)
    with pytest.warns(sm.ReconstructionWarning):
        sm.simulate(20, 2, eta=0.5, alpha=[1.0], method="reduced",
                    init=rng.standard_normal((2, 20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm.simulate(20, 2, eta=0.5, alpha=[1.0], method="reduced",
                    teacher=rng.standard_normal((2, 20)))
