"""Symmetric plateau, critical learning rate and escape time."""

import numpy as np
import pytest

import statmech as sm


def _eps_star(K):
    """η → 0 plateau of Saad & Solla (docs/ode_theory.md §3.3)."""
    return (K / np.pi) * (np.pi / 6 - K * np.arcsin(1 / (2 * K)))


def test_quoted_eps_star_values():
    # Values of this formula quoted elsewhere to 7 digits, 0.0116109 (K=2) and 0.0202969 (K=3),
    # differ from the formula's 0.01161084 and 0.02029659 (docs/ode_theory.md §3.3) by up to
    # 3e-7. We follow the formula (which our plateau reproduces to 1e-10 below) and only check
    # the quoted values to that level.
    assert _eps_star(2) == pytest.approx(0.0116109, abs=4e-7)
    assert _eps_star(3) == pytest.approx(0.0202969, abs=4e-7)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_small_eta_plateau_matches_saad_solla(K):
    # ε_plateau(η) = ε* + a η + O(η²); Richardson extrapolation from η = 1e-4 and 2e-4 removes the
    # linear term, leaving O(η²) ~ 1e-8 x (curvature of order 10) → tolerance 1e-8 + 1e-7 margin.
    e1 = sm.plateau_height(K, eta=1e-4)
    e2 = sm.plateau_height(K, eta=2e-4)
    assert 2 * e1 - e2 == pytest.approx(_eps_star(K), abs=1e-7)
    op, _ = sm.symmetric_plateau(K, eta=1e-4)
    # and the state tends to q = c = 1/(2K−1), r = 1/sqrt(K(2K−1)) (to O(η) ~ 1e-3 here)
    assert op.Q[0, 0] == pytest.approx(1 / (2 * K - 1), abs=5e-3)
    assert op.R[0, 1] == pytest.approx(1 / np.sqrt(K * (2 * K - 1)), abs=5e-3)


@pytest.mark.parametrize("K, eta", [(2, 0.5), (3, 0.5), (3, 1.0)])
def test_finite_eta_plateau_is_a_zero_of_the_full_flow(K, eta):
    op, eg = sm.symmetric_plateau(K, eta=eta)
    dQ, dR, _ = sm.ode_rhs(op, eta=eta)
    # the full K x K (not only the ansatz) right-hand side vanishes to Newton's precision
    assert max(np.abs(dQ).max(), np.abs(dR).max()) < 1e-10
    # the finite-η plateau is not the identical-students point: Q_ii != Q_ik
    assert op.Q[0, 0] - op.Q[0, 1] > 1e-3
    assert eg == pytest.approx(sm.generalization_error(op), rel=1e-14)


def test_finite_eta_plateau_is_a_saddle_of_the_full_flow():
    """Trajectories started near the plateau stay there for a long time, then escape."""
    K, eta = 3, 0.5
    op, eg = sm.symmetric_plateau(K, eta=eta)
    rng = np.random.default_rng(0)
    dR = 1e-9 * rng.standard_normal((K, K))
    start = op.replace(R=op.R + dR)
    tr = sm.integrate(start, eta=eta, alpha=np.linspace(0, 3000, 301), rtol=1e-10, atol=1e-14)
    early = tr.alpha <= 50
    assert np.abs(tr.eg[early] - eg).max() < 1e-6  # stays on the plateau
    assert tr.eg[-1] < 0.5 * eg  # ... and escapes (saddle)
    t_esc = sm.escape_time(tr)
    assert 50 < t_esc < 3000


def test_plateau_rejects_bad_input():
    with pytest.raises(ValueError, match="'K'"):
        sm.symmetric_plateau(1, eta=0.5)
    with pytest.raises(ValueError, match="'eta'"):
        sm.symmetric_plateau(2, eta=-0.5)
    with pytest.raises(ValueError, match="No attracting symmetric plateau"):
        sm.symmetric_plateau(3, eta=5.0)


@pytest.mark.parametrize("K", [2, 3])
def test_critical_learning_rate_separates_convergence(K):
    """Below η_c the perfect solution attracts; above it a perturbation grows."""
    eta_c = sm.critical_learning_rate(K)
    rng = np.random.default_rng(K)
    Q = np.eye(K)
    R = np.eye(K) + 1e-3 * rng.standard_normal((K, K))
    Q = Q + 1e-3 * np.diag(rng.standard_normal(K))
    # a perturbation that keeps the covariance PSD: perturb explicit weights
    W_star = np.linalg.qr(rng.standard_normal((400, K)))[0].T * np.sqrt(400)
    W = W_star + 0.03 * rng.standard_normal((K, 400))
    start = sm.OrderParameters.from_weights(W, W_star)
    assert start.T == pytest.approx(np.eye(K), abs=1e-12)
    alpha = np.linspace(0, 400, 41)
    below = sm.integrate(start, eta=0.9 * eta_c, alpha=alpha, on_divergence="mask")
    above = sm.integrate(start, eta=1.1 * eta_c, alpha=alpha, on_divergence="mask")
    assert below.eg[-1] < 1e-3 * below.eg[0]
    assert not (above.status == "ok" and above.eg[-1] < 1e-3 * above.eg[0])
    del Q, R


def test_critical_learning_rate_scales_with_batch_size():
    # The Jacobian is η A + (η²/B) B₂, so η_c(B) = B η_c(1) exactly.
    assert sm.critical_learning_rate(2, batch_size=3) == pytest.approx(
        3 * sm.critical_learning_rate(2), rel=1e-9
    )


def test_critical_learning_rate_is_near_saad_solla_estimate():
    # Saad & Solla's η_max = √3π/(K − 1 + 3/√5) is an approximation (docs/ode_theory.md §3.4):
    # it should land within a factor 2 of the Jacobian threshold.
    for K in (2, 3, 5):
        approx = np.sqrt(3) * np.pi / (K - 1 + 3 / np.sqrt(5))
        assert 0.5 < sm.critical_learning_rate(K) / approx < 2.0


def test_escape_time_interpolates_and_validates():
    kw = dict(alpha=np.linspace(0, 400, 401), rtol=1e-11, atol=1e-14)
    tr = sm.integrate(sm.OrderParameters.random(2, 2, 1000, seed=3), eta=0.5, **kw)
    t = sm.escape_time(tr, plateau=0.02)
    i = np.argmax(tr.eg < 0.01)
    assert tr.alpha[i - 1] <= t <= tr.alpha[i]
    with pytest.raises(ValueError, match="'fraction'"):
        sm.escape_time(tr, plateau=0.02, fraction=0.0)
    assert np.isnan(sm.escape_time(tr, plateau=1e-12))
    batch = sm.integrate(sm.OrderParameters.random(2, 2, 1000, seed=3), eta=np.array([0.5, 0.5]),
                         **kw)
    np.testing.assert_allclose(sm.escape_time(batch, plateau=0.02), [t, t], rtol=1e-6)


def _near_perfect(K, eps, seed):
    rng = np.random.default_rng(seed)
    W_star = np.linalg.qr(rng.standard_normal((400, K)))[0].T * np.sqrt(400)  # T = 1 exactly
    return sm.OrderParameters.from_weights(W_star + eps * rng.standard_normal((K, 400)), W_star)


def test_linearisation_predicts_the_decay_of_the_integrated_flow():
    """Independent check of the Jacobian: the distance of the ODE solution to Q = R = 1 decays at
    the largest real part of the Jacobian's eigenvalues. (Away from η_opt, where that eigenvalue
    is degenerate with others and polynomial prefactors bias a fitted slope.)"""
    K = 2
    eta_opt, _ = sm.optimal_learning_rate(K)
    A, B2 = sm.theory.fixed_points._perfect_jacobians(K, 1, "erf", "test")
    op = _near_perfect(K, 0.03, seed=0)
    for eta in (0.25 * eta_opt, 0.5 * eta_opt):
        tr = sm.integrate(op, eta=eta, alpha=np.linspace(0, 150, 151), rtol=1e-11, atol=1e-16)
        dev = np.sqrt(((tr.Q - np.eye(K)) ** 2).sum((-1, -2))
                      + ((tr.R - np.eye(K)) ** 2).sum((-1, -2)))
        slope = np.polyfit(tr.alpha[80:], np.log(dev[80:]), 1)[0]
        lam = np.max(np.linalg.eigvals(eta * (A + eta * B2)).real)
        # the next eigenvalue is 2x faster, so by α = 80 its admixture is e^(-80|λ|) ≲ 2 %
        assert slope == pytest.approx(lam, rel=0.02)


def test_optimal_learning_rate_minimises_the_slowest_rate():
    K = 3
    eta_c = sm.critical_learning_rate(K)
    eta_opt, lam = sm.optimal_learning_rate(K)
    assert 0 < eta_opt < eta_c and lam < 0
    A, B2 = sm.theory.fixed_points._perfect_jacobians(K, 1, "erf", "test")
    grid = np.linspace(0.02, 0.999, 60) * eta_c
    slowest = [np.max(np.linalg.eigvals(e * (A + e * B2)).real) for e in grid]
    assert lam <= min(slowest) + 1e-9


# ------------------------------------------------------------------------------------------
# The three-variable symmetric flow and the plateau search


def _random_symmetric_states(K, n, rng):
    """States of the ansatz Q_ii = q, Q_ik = c, R_in = r with a positive-definite covariance
    [[Q, R], [Rᵀ, 𝟙]]: its Schur complement Q − R Rᵀ has eigenvalues q − c and
    q + (K−1)c − K²r², so take −q/(K−1) < c < q and K²r² < q + (K−1)c."""
    q = rng.uniform(0.05, 8.0, n)
    c = rng.uniform(-0.95 / (K - 1), 0.95, n) * q
    r = rng.uniform(-0.95, 0.95, n) * np.sqrt(q + (K - 1) * c) / K
    return np.stack([q, c, r], -1)


@pytest.mark.parametrize("K", [2, 3, 4, 6, 9])
@pytest.mark.parametrize("sigma2, B, eta", [(0.0, 1, 0.7), (0.3, 3, 2.5)])
def test_symmetric_flow_matches_the_full_right_hand_side(K, sigma2, B, eta):
    """The closed-form flow in the symmetric subspace equals three entries of the full K x K
    right-hand side (statmech.theory.rhs) at random states of the ansatz, noise and batches
    included."""
    from statmech.theory.fixed_points import _flow, _symmetric_flow_erf, _symmetric_state
    from statmech.theory.generalization import resolve_activations

    rng = np.random.default_rng(K)
    z = _random_symmetric_states(K, 40, rng)
    Q, R = _symmetric_state(z, K)
    assert np.all(np.linalg.eigvalsh(np.block([[Q, R], [np.swapaxes(R, -1, -2),
                                                        np.broadcast_to(np.eye(K), Q.shape)]]))
                  > 0)
    st, te = resolve_activations("erf", "test")
    dQ, dR, _ = _flow(Q, R, K, eta, sigma2, B, st, te)
    # the ansatz is invariant: the full derivative has the same symmetry
    assert np.allclose(dR, dR[..., :1, :1], atol=1e-13)
    assert np.allclose(np.diagonal(dQ, axis1=-2, axis2=-1), dQ[..., :1, 0], atol=1e-13)
    full = np.stack([dQ[..., 0, 0], dQ[..., 0, 1], dR[..., 0, 0]], -1) / eta
    mine = np.array([_symmetric_flow_erf(*zz, K, eta, sigma2, B) for zz in z])
    np.testing.assert_allclose(mine, full, rtol=0, atol=1e-13 * max(1.0, np.abs(full).max()))


def test_symmetric_flow_is_nan_where_undefined():
    from statmech.theory.fixed_points import _symmetric_flow
    from statmech.theory.generalization import resolve_activations

    st, te = resolve_activations("erf", "test")
    f = _symmetric_flow(3, 0.5, 0.0, 1, st, te)
    assert np.all(np.isnan(f(np.array([-3.0, 0.0, 0.0]))))  # 1 + q < 0: no covariance
    assert np.all(np.isfinite(f(np.array([0.5, 0.1, 0.2]))))
    out = f(np.array([[0.5, 0.1, 0.2], [-3.0, 0.0, 0.0]]))  # batched
    assert out.shape == (2, 3) and np.isfinite(out[0]).all() and np.isnan(out[1]).all()


@pytest.mark.parametrize("K, eta, previous", [
    (2, 2.9974, 0.17312270618792625), (5, 1.0772, 0.3980609333900484),
    (3, 1.7969, 0.22648790303084465), (6, 0.6458, 0.23839761788594405)])
def test_plateau_far_from_small_eta_is_still_found(K, eta, previous):
    """At large η the plateau lies far out (q up to ≈ 5) but is still an attracting fixed point of
    the symmetric flow and a zero of the full right-hand side. ``previous``: the value of the
    earlier implementation (full right-hand side, restarted solves every τ = 20)."""
    op, eg = sm.symmetric_plateau(K, eta=eta)
    assert eg == pytest.approx(previous, rel=1e-12)
    assert op.Q[0, 0] > 1.0
    dQ, dR, _ = sm.ode_rhs(op, eta=eta)
    assert max(np.abs(dQ).max(), np.abs(dR).max()) < 1e-10 * eta


def test_plateau_with_noise_batch_and_other_activations_is_a_zero_of_the_full_flow():
    for kw in ({"noise": 0.3, "batch_size": 4}, {"activation": ("erf", "relu")}):
        op, _ = sm.symmetric_plateau(3, eta=0.4, **kw)
        dQ, dR, _ = sm.ode_rhs(op, eta=0.4, noise=kw.get("noise", 0.0),
                               batch_size=kw.get("batch_size", 1),
                               activation=kw.get("activation", "erf"))
        assert max(np.abs(dQ).max(), np.abs(dR).max()) < 1e-10


def test_no_plateau_beyond_the_stable_range_for_every_K():
    """The gallery's η = 5 column: for K = 2..6 there is no attracting symmetric plateau."""
    for K in range(2, 7):
        with pytest.raises(ValueError, match="No attracting symmetric plateau"):
            sm.symmetric_plateau(K, eta=5.0)


# ------------------------------------------------------------------------------------------
# The trajectory of the fixed_points sweep: integrate up to the escape, a stiff solver after


def _gallery_start(K, N=1000, seed=0):
    op0 = sm.OrderParameters.random(K, K, N, seed=seed)
    return sm.OrderParameters(op0.Q, op0.R, op0.T, v=np.ones(K), v_star=np.ones(K))


def _alpha(alpha_max, n=600):
    return np.concatenate([[0.0], np.geomspace(0.01, alpha_max, n - 1)])


@pytest.mark.parametrize("K, eta, alpha_max", [(2, 1.0772, 2000.0), (3, 0.6, 1500.0)])
def test_escape_trajectory_is_integrate_up_to_the_escape(K, eta, alpha_max):
    from statmech.theory.fixed_points import _escape_trajectory

    op0 = _gallery_start(K, seed=K)
    alpha = _alpha(alpha_max)
    plateau = sm.plateau_height(K, eta=eta)
    ref = sm.integrate(op0, eta=eta, alpha=alpha, on_divergence="mask")
    tr = _escape_trajectory(op0, eta=eta, alpha=alpha, threshold=0.5 * plateau)
    assert tr.params["phase_1_end"] == "crossing"
    exact = alpha <= tr.params["alpha_exact"]
    t_ref = sm.escape_time(ref, plateau=plateau)
    assert 1.0 < t_ref < tr.params["alpha_exact"]
    # phase 1 is integrate itself: identical outputs, hence the identical escape time
    np.testing.assert_array_equal(tr.eg[exact], ref.eg[exact])
    np.testing.assert_array_equal(tr.Q[exact], ref.Q[exact])
    assert sm.escape_time(tr, plateau=plateau) == pytest.approx(t_ref, rel=1e-12)
    # phase 2 (BDF) agrees with integrate's DOP853 to the tolerance (rtol 1e-8 of O(1) states)
    assert str(tr.status) == str(ref.status) == "ok"
    assert np.abs(tr.Q - ref.Q).max() < 1e-6 and np.abs(tr.R - ref.R).max() < 1e-6
    assert abs(tr.eg[-1] - ref.eg[-1]) < 1e-8
    assert tr.nfev < 0.7 * ref.nfev  # states evaluated, Jacobians included


def test_escape_trajectory_without_crossing_settles_at_a_stable_fixed_point():
    """K = 2 at η = 3 > η_c: the students converge to a fixed point with ε_g above half the
    plateau, so there is no escape; phase 1 ends once the run has settled there."""
    from statmech.theory.fixed_points import _escape_trajectory

    K, eta = 2, 2.9974
    op0 = _gallery_start(K, seed=5)
    alpha = _alpha(2500.0)
    plateau = sm.plateau_height(K, eta=eta)
    ref = sm.integrate(op0, eta=eta, alpha=alpha, on_divergence="mask")
    tr = _escape_trajectory(op0, eta=eta, alpha=alpha, threshold=0.5 * plateau)
    assert tr.params["phase_1_end"] == "settled"
    assert np.isnan(sm.escape_time(ref, plateau=plateau))
    assert np.isnan(sm.escape_time(tr, plateau=plateau))
    assert 0.5 * plateau < ref.eg[-1] < plateau
    assert tr.eg[-1] == pytest.approx(ref.eg[-1], rel=1e-7)
    exact = alpha <= tr.params["alpha_exact"]
    np.testing.assert_array_equal(tr.eg[exact], ref.eg[exact])
    # the same without a threshold
    tr2 = _escape_trajectory(op0, eta=eta, alpha=alpha)
    assert tr2.params["phase_1_end"] == "settled"
    assert tr2.eg[-1] == pytest.approx(ref.eg[-1], rel=1e-7)


@pytest.mark.parametrize("K, eta", [(3, 5.0), (2, 5.0)])
def test_escape_trajectory_diverges_like_integrate(K, eta):
    from statmech.theory.fixed_points import _escape_trajectory

    op0 = _gallery_start(K, seed=1)
    alpha = _alpha(1000.0)
    ref = sm.integrate(op0, eta=eta, alpha=alpha, on_divergence="mask")
    tr = _escape_trajectory(op0, eta=eta, alpha=alpha, threshold=float("nan"))
    assert str(ref.status) == str(tr.status) == "diverged"
    assert tr.params["phase_1_end"] == "diverged"
    assert float(tr.alpha_diverged) == float(ref.alpha_diverged)
    np.testing.assert_array_equal(tr.eg, ref.eg)  # NaN from the same output on


def test_fixed_points_sweep_point_matches_the_integrate_reference():
    """The sweep computation against the pre-optimisation definition (integrate to alpha_max,
    then escape_time), at one gallery-like point."""
    from statmech.sweep.registry import get_computation

    comp = get_computation("fixed_points")
    cfg = comp.check_config({"K": 2, "eta": 1.0772, "alpha_max": 2000.0})
    row = comp.func(dict(cfg), 12345).iloc[0]
    K, eta = 2, 1.0772
    op0 = sm.OrderParameters.random(K, K, 1000, seed=12345)
    op0 = sm.OrderParameters(op0.Q, op0.R, op0.T, v=np.ones(K), v_star=np.ones(K))
    ref = sm.integrate(op0, eta=eta, alpha=_alpha(2000.0), on_divergence="mask")
    plateau = sm.plateau_height(K, eta=eta)
    assert row.plateau_height == plateau
    assert row.eta_c == sm.critical_learning_rate(K)
    assert not row.diverged and str(ref.status) == "ok"
    assert row.escape_time == pytest.approx(sm.escape_time(ref, plateau=plateau), rel=1e-12)
    assert abs(row.eg_final - ref.eg[-1]) < 1e-8
