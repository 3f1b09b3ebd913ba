"""OrderParameters: validation, constructors, batching."""

import numpy as np
import pytest
from scipy.stats import norm

import statmech as sm
from statmech import OrderParameters


def test_defaults_and_immutability():
    op = OrderParameters(Q=np.eye(3), R=np.zeros((3, 2)), T=np.eye(2))
    assert (op.K, op.M, op.batch_shape) == (3, 2, ())
    np.testing.assert_array_equal(op.v, np.ones(3))
    np.testing.assert_array_equal(op.v_star, np.ones(2))
    with pytest.raises(ValueError):
        op.Q[0, 0] = 2.0  # read-only array
    with pytest.raises(AttributeError):
        op.Q = np.eye(3)  # frozen dataclass


def test_batch_broadcasting_and_indexing():
    Q = np.stack([np.eye(2) * s for s in (1.0, 2.0, 3.0)])
    op = OrderParameters(Q=Q, R=np.zeros((2, 1)), T=np.eye(1))
    assert op.batch_shape == (3,)
    assert op.T.shape == (3, 1, 1)
    assert op[1].Q[0, 0] == 2.0
    with pytest.raises(ValueError, match="do not broadcast"):
        OrderParameters(Q=Q, R=np.zeros((2, 2, 1)), T=np.eye(1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(Q=np.ones((2, 3)), R=np.zeros((2, 1)), T=np.eye(1)), "'Q'"),
        (dict(Q=np.eye(2), R=np.zeros((3, 1)), T=np.eye(1)), "'R'"),
        (dict(Q=np.eye(2), R=np.zeros((2, 1)), T=np.ones(3)), "'T'"),
        (dict(Q=np.eye(2), R=np.zeros((2, 1)), T=np.eye(1), v=np.ones(3)), "'v'"),
        (dict(Q=np.eye(2), R=np.zeros((2, 1)), T=np.eye(1), v_star=np.ones(2)), "'v_star'"),
        (dict(Q=[[1, np.nan], [np.nan, 1]], R=np.zeros((2, 1)), T=np.eye(1)), "'Q'.*finite"),
        (dict(Q=[[1, 0.5], [0.4, 1]], R=np.zeros((2, 1)), T=np.eye(1)), "'Q'.*symmetric"),
        (dict(Q=np.eye(2), R=[[2.0], [0.0]], T=np.eye(1)), "positive semi-definite"),
        (dict(Q=np.zeros((0, 0)), R=np.zeros((0, 1)), T=np.eye(1)), "K >= 1"),
    ],
)
def test_validation_messages(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OrderParameters(**kwargs)


def test_singular_covariances_are_legal():
    # A student that is an exact copy of its teacher, and two identical student units.
    W_star = np.random.default_rng(0).standard_normal((2, 30))
    W = np.vstack([W_star, W_star[:1]])
    op = OrderParameters.from_weights(W, W_star)
    assert np.linalg.eigvalsh(op.covariance)[0] == pytest.approx(0.0, abs=1e-12)
    assert sm.generalization_error(OrderParameters.from_weights(W_star, W_star)) < 1e-14


def test_from_weights_matches_definition():
    rng = np.random.default_rng(1)
    W, Ws = rng.standard_normal((4, 3, 20)), rng.standard_normal((2, 20))
    op = OrderParameters.from_weights(W, Ws)
    assert op.batch_shape == (4,)
    np.testing.assert_allclose(op.Q[2], W[2] @ W[2].T / 20, rtol=1e-14)
    np.testing.assert_allclose(op.R[2], W[2] @ Ws.T / 20, rtol=1e-14)
    with pytest.raises(ValueError, match="input dimension"):
        OrderParameters.from_weights(W, np.ones((2, 21)))


def _diagonal_means_ok(G, scales, N, E, z):
    """E[G_jj] = scale_j² with se = scale_j² sqrt(2 / (N E)) (a scaled chi²_N / N)."""
    d = np.diagonal(G, axis1=-2, axis2=-1)
    se = scales**2 * np.sqrt(2 / N / E)
    return np.abs(d.mean(0) - scales**2) < z * se


def test_random_matches_explicit_gaussian_weights():
    """Bartlett-sampled Gram matrices have the moments of explicit Gaussian weights.

    Wishart moments for rows ~ N(0, s² I_N): E[Q_kk] = s², Var[Q_kk] = 2 s⁴ / N,
    E[R_kn] = 0, Var[R_kn] = s² t² / N. The family (K + M diagonal means, one variance, one
    off-diagonal mean) is tested at false-alarm rate 1e-3 with a Bonferroni z.
    """
    K, M, N, E = 3, 2, 50, 20000
    s, t = 0.7, 1.3
    op = OrderParameters.random(K, M, N, init_scale=s, teacher_scale=t, size=E, seed=5)
    z = norm.isf(1e-3 / (K + M + 2) / 2)
    scales = np.array([s] * K + [t] * M)
    assert _diagonal_means_ok(op.covariance, scales, N, E, z).all()
    var = 2 * s**4 / N
    # se of a sample variance of a scaled chi²_N/N: var * sqrt((2 + 12/N) / E) (excess kurtosis).
    assert abs(op.Q[:, 0, 0].var() - var) < z * var * np.sqrt((2 + 12 / N) / E)
    assert abs(op.R[:, 1, 0].mean()) < z * s * t / np.sqrt(N * E)

    # Negative control: the plausible slip of drawing every Bartlett diagonal from chi²(N)
    # (instead of chi²(N − i)) biases E[G_jj] by j/N (0.02-0.08 here, ~30-100 standard errors);
    # the same check must reject it.
    rng = np.random.default_rng(5)
    p = K + M
    A = np.zeros((E, p, p))
    rows, cols = np.tril_indices(p, -1)
    A[:, rows, cols] = rng.standard_normal((E, rows.size))
    A[:, np.arange(p), np.arange(p)] = np.sqrt(rng.chisquare(N, (E, p)))
    G = (A @ A.transpose(0, 2, 1) / N) * scales[:, None] * scales[None, :]
    assert not _diagonal_means_ok(G, scales, N, E, z).all()


def test_random_small_N_and_validation():
    op = OrderParameters.random(4, 3, 2, seed=0)  # N < K + M: explicit draw, rank <= 2
    assert np.linalg.matrix_rank(op.covariance, tol=1e-10) <= 2
    with pytest.raises(ValueError, match="'K'"):
        OrderParameters.random(0, 1, 10)
    with pytest.raises(ValueError, match="'init_scale'"):
        OrderParameters.random(1, 1, 10, init_scale=-1.0)
    with pytest.raises(ValueError, match="'N'"):
        OrderParameters.random(1, 1, 2.5)
