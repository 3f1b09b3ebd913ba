"""The order-parameter ODEs: right-hand side anchors, Monte-Carlo check of the expectations,
batching, divergence handling, Trajectory, and input validation."""

import numpy as np
import pytest
from scipy.stats import norm

import statmech as sm
from statmech.theory.generalization import resolve_activations

# docs/ode_theory.md §3.1: right-hand-side anchor at the `eg_erf_both` state
# (η = η_v = 0.5, σ = 0.1).
DQ_BOTH = [[-0.1255769394, -0.0973662633, -0.0592945127], [0, -0.0037329121, -0.0288632086],
           [0, 0, -0.0149090099]]
DR_BOTH = [[-0.0147502662, -0.0353334800], [0.0010897423, -0.0009175217],
           [0.0034676637, -0.0123510275]]
DV_BOTH = [0.0894091180, 0.0667556743, 0.0314019128]
DQ_SCM = [[-0.2451709102, -0.3155352607, -0.3393311900], [0, -0.0733857673, -0.1318225867],
          [0, 0, -0.0959178112]]
DR_SCM = [[0.0503944319, -0.0708882765], [0.1342303603, -0.0667584796],
          [0.1429110874, -0.1001704536]]


def _sym(a):
    a = np.array(a)
    return np.triu(a) + np.triu(a, 1).T


def test_rhs_anchor_trained_second_layer(nn2pp_both):
    dQ, dR, dv = sm.ode_rhs(nn2pp_both, eta=0.5, eta_v=0.5, noise=0.1, train_second_layer=True)
    # The anchor is printed to 10 decimals (abs. rounding 5e-11); 1e-8 relative is our bar.
    np.testing.assert_allclose(dQ, _sym(DQ_BOTH), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dR, DR_BOTH, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dv, DV_BOTH, rtol=1e-8, atol=1e-10)


def test_rhs_anchor_scm(nn2pp_both):
    op = nn2pp_both.replace(v=np.ones(3), v_star=np.ones(2))
    dQ, dR, dv = sm.ode_rhs(op, eta=0.5, noise=0.1)
    np.testing.assert_allclose(dQ, _sym(DQ_SCM), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dR, DR_SCM, rtol=1e-8, atol=1e-10)
    assert np.all(dv == 0)


def _mc_rhs(op, eta, eta_v, sigma, kappa, B, activation, P, rng):
    """Direct Monte Carlo of the expectations in docs/ode_theory.md §1.2: per-sample
    contributions."""
    gs, gt = resolve_activations(activation, "test")
    K = op.K
    x = rng.multivariate_normal(np.zeros(op.covariance.shape[0]), op.covariance, size=P,
                                method="eigh")
    lam, rho = x[:, :K], x[:, K:]
    delta = gt.g(rho) @ op.v_star - gs.g(lam) @ op.v
    dg = gs.dg(lam)
    w = op.v * dg * delta[:, None]  # v_i g'(λ_i) Δ
    dR = eta * w[:, :, None] * rho[:, None, :] - kappa * op.R
    lin = w[:, :, None] * lam[:, None, :]
    dQ = eta * (lin + lin.transpose(0, 2, 1))
    vv = op.v[:, None] * op.v[None, :]
    noisy2 = (delta**2 + sigma**2)[:, None, None]
    dQ = dQ + eta**2 / B * vv * dg[:, :, None] * dg[:, None, :] * noisy2
    dQ = dQ - 2 * kappa * op.Q
    dv = eta_v * gs.g(lam) * delta[:, None] - kappa * op.v
    return dQ, dR, dv


@pytest.mark.parametrize("activation", ["erf", "relu", "linear", ("erf", "relu"), ("relu", "erf")])
def test_rhs_against_direct_monte_carlo(activation):
    """Every component of (dQ, dR, dv) against a sample mean of the integrands.

    Family-wise false-alarm rate 1e-3 over all components of all parametrised cases
    (5 cases x 18 components) → Bonferroni z ≈ 4.4 standard errors.
    """
    rng = np.random.default_rng(7)
    K, M, N = 2, 2, 6
    W, Ws = rng.standard_normal((K, N)), rng.standard_normal((M, N))
    op = sm.OrderParameters.from_weights(W, Ws, v=[0.8, -1.1], v_star=[1.2, 0.7])
    kw = dict(eta=0.7, eta_v=0.4, noise=0.3, weight_decay=0.05, batch_size=2)
    dQ, dR, dv = sm.ode_rhs(op, train_second_layer=True, activation=activation, **kw)
    P = 400_000
    sQ, sR, sv = _mc_rhs(op, 0.7, 0.4, 0.3, 0.05, 2, activation, P, rng)
    z = norm.isf(1e-3 / (5 * 18) / 2)
    for exact, samples in ((dQ, sQ), (dR, sR), (dv, sv)):
        se = samples.std(0, ddof=1) / np.sqrt(P)
        assert np.all(np.abs(samples.mean(0) - exact) < z * se + 1e-12), (exact, samples.mean(0))


def test_rhs_mc_negative_control():
    """The same MC check rejects a plausible wrong RHS: the η² term without the 1/B factor."""
    rng = np.random.default_rng(7)
    K, M, N = 2, 2, 6
    W, Ws = rng.standard_normal((K, N)), rng.standard_normal((M, N))
    op = sm.OrderParameters.from_weights(W, Ws)
    wrong, _, _ = sm.ode_rhs(op, eta=1.5, noise=0.5, batch_size=1)  # B forgotten
    P = 400_000
    sQ, _, _ = _mc_rhs(op, 1.5, 1.5, 0.5, 0.0, 4, "erf", P, rng)  # the truth has B = 4
    se = sQ.std(0, ddof=1) / np.sqrt(P)
    assert np.any(np.abs(sQ.mean(0) - wrong) > 4.4 * se)


def test_minibatch_divides_only_the_eta_squared_term(nn2pp_scm):
    lin = sm.ode_rhs(nn2pp_scm, eta=1e-8)[0] / 1e-8  # η-linear part (η² part is 1e-8 smaller)
    d1 = sm.ode_rhs(nn2pp_scm, eta=0.6, noise=0.2)[0]
    d4 = sm.ode_rhs(nn2pp_scm, eta=0.6, noise=0.2, batch_size=4)[0]
    np.testing.assert_allclose(d1 - 0.6 * lin, 4 * (d4 - 0.6 * lin), rtol=1e-6, atol=1e-9)


def test_perfect_student_is_a_fixed_point():
    op = sm.OrderParameters(Q=np.eye(3), R=np.eye(3), T=np.eye(3))
    for act in ("erf", "relu", "linear"):
        dQ, dR, dv = sm.ode_rhs(op, eta=0.8, train_second_layer=True, activation=act)
        assert max(np.abs(dQ).max(), np.abs(dR).max(), np.abs(dv).max()) < 1e-12


@pytest.mark.parametrize("method", ["DOP853", "RK45", "LSODA"])
def test_batch_equals_one_at_a_time(method):
    op0 = sm.OrderParameters.random(3, 3, 500, size=3, seed=2)
    etas = np.array([0.2, 0.5, 0.9])
    alpha = np.geomspace(0.5, 60, 12)
    kw = dict(rtol=1e-11, atol=1e-13, method=method)
    batch = sm.integrate(op0, eta=etas, alpha=alpha, noise=0.1, **kw)
    assert batch.eg.shape == (3, 12) and batch.Q.shape == (3, 12, 3, 3)
    for i in range(3):
        one = sm.integrate(op0[i], eta=etas[i], alpha=alpha, noise=0.1, **kw)
        # Both runs are controlled to rtol 1e-11 per member; 1e-8 leaves room for the
        # amplification of integration error along the unstable plateau direction.
        np.testing.assert_allclose(batch.eg[i], one.eg, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(batch.Q[i], one.Q, rtol=1e-8, atol=1e-10)


def test_batch_members_are_controlled_like_solo_runs():
    """Per-member error control: at the default rtol, every member of a batch is at least as
    accurate (against a tight reference) as the same member integrated alone, up to a factor
    that allows for the different step sequence."""
    op0 = sm.OrderParameters.random(3, 3, 500, seed=4)
    etas = np.array([0.1, 0.4, 1.0])
    alpha = np.geomspace(1, 300, 30)
    batch = sm.integrate(op0, eta=etas, alpha=alpha)
    for i, eta in enumerate(etas):
        ref = sm.integrate(op0, eta=eta, alpha=alpha, rtol=1e-12, atol=1e-14)
        solo = sm.integrate(op0, eta=eta, alpha=alpha)
        err_solo = np.abs(solo.eg - ref.eg).max()
        assert np.abs(batch.eg[i] - ref.eg).max() <= 3 * err_solo + 1e-10


def test_eta_broadcasts_against_states():
    op0 = sm.OrderParameters.random(2, 2, 100, size=4, seed=0)
    tr = sm.integrate(op0, eta=np.array([[0.1], [0.5]]), alpha=[0.0, 1.0, 2.0])
    assert tr.batch_shape == (2, 4)
    np.testing.assert_allclose(tr.Q[:, :, 0], np.broadcast_to(op0.Q, (2, 4, 2, 2)))


def test_trajectory_api():
    op0 = sm.OrderParameters.random(2, 2, 100, seed=0)
    tr = sm.integrate(op0, eta=0.5, alpha=np.linspace(0, 5, 6), train_second_layer=True)
    op = tr.at(-1)
    assert isinstance(op, sm.OrderParameters)
    assert op.Q[0, 0] == tr.Q[-1, 0, 0]
    assert sm.generalization_error(op) == pytest.approx(tr.eg[-1], rel=1e-12)
    df = tr.to_frame()
    assert len(df) == 6 and {"alpha", "eg", "Q_0_1", "R_1_0", "v_1", "eta"} <= set(df.columns)
    with pytest.raises(ValueError, match="'i'"):
        tr.at(6)
    assert tr.eg[0] == pytest.approx(sm.generalization_error(op0), rel=1e-13)


def test_second_layer_frozen_unless_trained():
    op0 = sm.OrderParameters.random(2, 2, 100, seed=0, v=[0.3, 0.6])
    tr = sm.integrate(op0, eta=0.5, alpha=[1.0, 5.0])
    np.testing.assert_array_equal(tr.v[-1], [0.3, 0.6])
    tr2 = sm.integrate(op0, eta=0.5, alpha=[1.0, 5.0], train_second_layer=True, eta_v=0.5)
    assert np.abs(tr2.v[-1] - [0.3, 0.6]).max() > 1e-3


def test_divergence_raises_naming_eta_and_range():
    op0 = sm.OrderParameters.random(2, 2, 1000, seed=1)
    with pytest.raises(ValueError, match=r"eta = 20.*stable only for 0 < eta < "):
        sm.integrate(op0, eta=20.0, alpha=500.0)


def test_divergence_mask_marks_only_that_member():
    op0 = sm.OrderParameters.random(2, 2, 1000, seed=1)
    tr = sm.integrate(op0, eta=np.array([0.5, 20.0]), alpha=np.linspace(0, 500, 51),
                      on_divergence="mask")
    assert list(tr.status) == ["ok", "diverged"]
    assert np.isnan(tr.alpha_diverged[0]) and 0 < tr.alpha_diverged[1] < 500
    assert np.all(np.isfinite(tr.eg[0]))
    assert np.isnan(tr.eg[1, -1])
    solo = sm.integrate(op0, eta=0.5, alpha=np.linspace(0, 500, 51), rtol=1e-10)
    np.testing.assert_allclose(tr.eg[0], solo.eg, atol=1e-5)


def test_linear_activation_divergence_is_caught():
    op0 = sm.OrderParameters.random(2, 2, 1000, seed=1)
    tr = sm.integrate(op0, eta=5.0, alpha=100.0, activation="linear", on_divergence="mask")
    assert tr.status == "diverged"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eta=-0.1), "'eta'.*> 0"),
        (dict(eta=0.0), "'eta'"),
        (dict(eta=np.nan), "'eta'"),
        (dict(eta=0.5, alpha=[0.0, 2.0, 1.0]), "'alpha'.*increasing"),
        (dict(eta=0.5, alpha=-1.0), "'alpha'"),
        (dict(eta=0.5, activation="tanh"), "'activation'"),
        (dict(eta=0.5, method="Euler"), "'method'"),
        (dict(eta=0.5, noise=-1.0), "'noise'"),
        (dict(eta=0.5, batch_size=0), "'batch_size'"),
        (dict(eta=0.5, batch_size=2.5), "'batch_size'"),
        (dict(eta=0.5, weight_decay=-0.1), "'weight_decay'"),
        (dict(eta=0.5, rtol=0.0), "'rtol'"),
        (dict(eta=0.5, on_divergence="ignore"), "'on_divergence'"),
        (dict(eta=np.ones(3)), "do not broadcast"),
    ],
)
def test_bad_input_messages(kwargs, match):
    op0 = sm.OrderParameters.random(2, 2, 100, size=2, seed=0)
    kwargs.setdefault("alpha", 1.0)
    with pytest.raises(ValueError, match=match):
        sm.integrate(op0, **kwargs)


def test_op0_must_be_order_parameters():
    with pytest.raises(ValueError, match="'op0'"):
        sm.integrate(np.eye(2), eta=0.5, alpha=1.0)


def test_lsoda_uses_the_block_diagonal_jacobian():
    """Members are independent: LSODA must not estimate cross-member Jacobian entries, which
    would cost one RHS call per state component of the whole batch (measured: 8577 calls
    dense against 2353 banded here)."""
    op0 = sm.OrderParameters.random(3, 3, 500, size=12, seed=2)
    alpha = np.geomspace(1, 300, 10)
    batch = sm.integrate(op0, eta=0.5, alpha=alpha, method="LSODA")
    one = sm.integrate(op0[0], eta=0.5, alpha=alpha, method="LSODA")
    assert batch.nfev < 5 * one.nfev + 50 * (6 + 9)
    np.testing.assert_allclose(batch.eg[0], one.eg, rtol=1e-4, atol=1e-8)


def test_bdf_batch_with_sparse_jacobian_agrees():
    op0 = sm.OrderParameters.random(3, 3, 500, size=4, seed=2)
    alpha = np.geomspace(1, 300, 10)
    batch = sm.integrate(op0, eta=0.5, alpha=alpha, method="BDF", rtol=1e-10, atol=1e-13)
    one = sm.integrate(op0[1], eta=0.5, alpha=alpha, method="BDF", rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(batch.eg[1], one.eg, rtol=1e-6, atol=1e-10)
