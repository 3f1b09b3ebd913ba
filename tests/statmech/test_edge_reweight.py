"""Edge reweighting: the kept incoming weights solve the least-squares problem of
``docs/pruning_theory.md`` §2.7."""

import numpy as np
import pytest

import statmech as sm
from statmech.pruning.edge_reweight import reweight_edges


def _data(P, D, seed):
    """Correlated inputs: one fixed mixing matrix, samples from ``seed``."""
    A = np.random.default_rng(100 + D).standard_normal((D, D)) / np.sqrt(D) + np.eye(D)
    return np.random.default_rng(seed).standard_normal((P, D)) @ A


def test_matches_least_squares_on_the_data():
    X = _data(400, 12, 0)
    W = np.random.default_rng(1).standard_normal((3, 12))
    res = sm.prune("random_edge", W, np.ones(3), keep=5, n_masks=2, seed=2,
                   reweight="preactivations", input_cov=X.T @ X / len(X))
    for n in range(2):
        for h in range(3):
            S = res.mask[n, h]
            ref = np.linalg.lstsq(X[:, S], X @ W[h], rcond=None)[0]
            np.testing.assert_allclose(res.W[n, h, S], ref, rtol=1e-6, atol=1e-8)
            assert np.all(res.W[n, h, ~S] == 0)


def test_lowers_held_out_error_and_is_a_no_op_for_isotropic_inputs():
    D = 30
    X, Xt = _data(3000, D, 3), _data(3000, D, 4)
    W = np.random.default_rng(5).standard_normal((4, D))
    kw = dict(keep=10, n_masks=3, seed=6)
    plain = sm.prune("magnitude_edge", W, np.ones(4), **kw)
    rw = sm.prune("magnitude_edge", W, np.ones(4), reweight="preactivations",
                  input_cov=X.T @ X / len(X), **kw)
    err = [np.mean((Xt @ W.T - Xt @ r.W[0].T) ** 2) for r in (plain, rw)]
    assert err[1] < 0.9 * err[0], err  # measured: about 0.7
    iso = sm.prune("magnitude_edge", W, np.ones(4), reweight="preactivations",
                   input_cov=np.eye(D), **kw)
    np.testing.assert_allclose(iso.W, plain.W, atol=1e-12)


def test_singular_input_covariance_and_errors():
    X = _data(200, 8, 7)
    X = np.concatenate([X, np.ones((200, 2))], axis=1)  # two identical constant columns
    W = np.random.default_rng(8).standard_normal((2, 10))
    mask = np.ones((1, 2, 10), dtype=bool)
    mask[0, :, 9] = False  # column 9 is column 8: the removed edge is recoverable exactly
    out = reweight_edges(W, mask, X.T @ X / len(X))
    assert np.all(np.isfinite(out))
    assert np.mean((X @ W.T - X @ out[0].T) ** 2) < 1e-6 * np.mean((X @ W.T) ** 2)
    with pytest.raises(ValueError, match="needs 'input_cov'"):
        sm.prune("random_edge", W, np.ones(2), keep=3, reweight="preactivations")
    with pytest.raises(ValueError, match="'preactivations' for edge methods"):
        sm.prune("random_edge", W, np.ones(2), keep=3, reweight="activations",
                 input_cov=np.eye(10))
