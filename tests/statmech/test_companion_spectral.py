"""Paper C (spectral pruning): degrees of freedom, leverage scores, λ ↔ width, allocation, decay
rates and bound terms (statmech.companion.spectral), and the greedy selection / reconstruction of
the ``spectral_node`` method (docs/companion_papers.md §3)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

import statmech as sm
from statmech.companion import spectral as sp
from statmech.pruning.spectral_node import (
    default_tau,
    greedy_path,
    greedy_select,
    information_loss,
)


def _relu_cov(seed: int = 0, H: int = 30, n: int = 400, dead: int = 3):
    """Uncentred covariance of ReLU features with a few dead units, and outgoing weights."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8))
    W = rng.standard_normal((H, 8))
    b = rng.standard_normal(H) * 0.5
    b[:dead] = -50.0  # never active
    phi = np.maximum(X @ W.T + b, 0.0)
    return phi.T @ phi / n, rng.standard_normal((4, H))


# -- degrees of freedom and leverage scores ------------------------------------------------

def test_dof_monotone_limits_and_trace_formula():
    S, _ = _relu_cov()
    r = np.linalg.matrix_rank(S)
    assert r == 27 and sp.numerical_rank(S) == r
    lam = np.logspace(-8, 8, 200)
    N = sp.degrees_of_freedom(S, lam)
    assert N.shape == lam.shape
    assert np.all(np.diff(N) < 0)
    assert sp.degrees_of_freedom(S, 0.0) == r
    assert N[0] == pytest.approx(r, rel=1e-5)
    # N̂(λ) → 0 like Tr Σ / λ
    assert N[-1] == pytest.approx(np.trace(S) / lam[-1], rel=1e-6)
    # equals Tr[Σ(Σ + λI)⁻¹] computed directly, and is the same from the eigenvalues
    for x in (1e-3, 0.3, 7.0):
        direct = np.trace(S @ np.linalg.inv(S + x * np.eye(S.shape[0])))
        assert sp.degrees_of_freedom(S, x) == pytest.approx(direct, rel=1e-10)
        assert sp.degrees_of_freedom(np.linalg.eigvalsh(S), x) == pytest.approx(direct,
                                                                                  rel=1e-10)


def test_leverage_scores_sum_to_one_and_match_definition():
    S, _ = _relu_cov(1)
    H = S.shape[0]
    for lam in (0.0, 1e-2, 1.0, 100.0):
        q = sp.leverage_scores(S, lam)
        assert q.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(q >= -1e-15)
        assert np.all(q[:3] < 1e-12)  # dead units carry no leverage
        if lam > 0:
            P = S @ np.linalg.inv(S + lam * np.eye(H))
            np.testing.assert_allclose(q, np.diag(P) / np.trace(P), rtol=1e-8, atol=1e-14)
    tau = sp.leverage_tau(S, 0.5, 7)
    assert tau.sum() == pytest.approx(0.5 * 7, rel=1e-12)


def test_lambda_for_width_round_trip_and_errors():
    S, _ = _relu_cov(2)
    mu = np.linalg.eigvalsh(S)
    for w in (0.5, 1.0, 4.0, 13.3, 26.9):
        lam = sp.lambda_for_width(S, w)
        assert sp.degrees_of_freedom(S, lam) == pytest.approx(w, rel=1e-9)
        assert sp.lambda_for_width(mu, w) == pytest.approx(lam, rel=1e-8)
    with pytest.raises(ValueError, match=r"'width' parameter of lambda_for_width must be .*"
                                         r"< 27"):
        sp.lambda_for_width(S, 27)
    with pytest.raises(ValueError, match=r"'width' .* > 0"):
        sp.lambda_for_width(S, 0.0)
    with pytest.raises(ValueError, match="rank 0"):
        sp.lambda_for_width(np.zeros((3, 3)), 1)


def test_spectrum_input_errors():
    with pytest.raises(ValueError, match="symmetric"):
        sp.degrees_of_freedom(np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        sp.degrees_of_freedom([1.0, -1.0], 1.0)
    with pytest.raises(ValueError, match=r"'lam' parameter of degrees_of_freedom .* >= 0"):
        sp.degrees_of_freedom([1.0, 2.0], -1.0)


def test_no_torch_import():
    code = ("import sys, statmech.companion.spectral, statmech.pruning.spectral_node; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- eigenvalue decay and rates ----------------------------------------------------------------

def test_decay_rate_recovers_alpha_exact_and_sampled():
    j = np.arange(1, 201)
    fit = sp.eigen_decay_rate(2.5 * j**-1.7)
    assert fit.alpha == pytest.approx(1.7, abs=1e-10) and fit.c == pytest.approx(2.5, rel=1e-10)
    assert fit.power_law and fit.r2 == pytest.approx(1.0)
    # sample covariance of N(0, diag(j^-1.5)), n = 20000: over 20 seeds the fitted α had
    # s.d. 0.0025 (j ≤ 20); tolerance 0.0125 = 5 s.d.
    rng = np.random.default_rng(0)
    m, n, a = 40, 20000, 1.5
    Z = rng.standard_normal((n, m)) * np.arange(1, m + 1) ** (-a / 2)
    fit = sp.eigen_decay_rate(Z.T @ Z / n, j_max=20)
    assert fit.alpha == pytest.approx(a, abs=0.0125)
    assert fit.power_law


def test_decay_rate_negative_control_exponential():
    fit = sp.eigen_decay_rate(np.exp(-0.3 * np.arange(1, 101)))
    assert not fit.power_law
    assert fit.r2_exponential == pytest.approx(1.0) and fit.r2 < 0.9
    assert fit.j_max == 62  # the tail below 1e-8·μ_1 is left out
    with pytest.raises(ValueError, match=r"'j_max' parameter of eigen_decay_rate"):
        sp.eigen_decay_rate(np.ones(5), j_max=9)


def test_dof_bound_holds_for_power_law():
    j = np.arange(1, 20001)
    for alpha, c in ((1.3, 1.0), (2.0, 3.0), (4.0, 0.5)):
        mu = c * j**-alpha
        lam = np.logspace(-6, 1, 30)
        N = sp.degrees_of_freedom(mu, lam)
        B = sp.dof_bound(lam, alpha, c)
        assert np.all(N <= B)
        # tight up to a constant where j* = (c/λ)^{1/α} >= 2 and far from the truncation of the
        # spectrum at j = 20000
        mid = (B >= 2 * alpha / (alpha - 1)) & (B < 0.01 * j.size)
        assert mid.sum() >= 5
        assert np.all(N[mid] >= 0.4 * B[mid])
    with pytest.raises(ValueError, match=r"'alpha' parameter of dof_bound .* > 1"):
        sp.dof_bound(1.0, 1.0)


def test_optimal_lambda_balances_bias_and_variance():
    alpha = 2.0
    ns = np.array([1e3, 1e4, 1e5, 1e6])
    lam_grid = np.logspace(-8, 1, 20001)
    argmins = []
    for n in ns:  # squared bias λ + variance N̂(λ)² log n / n with the N̂ bound
        f = lam_grid + sp.dof_bound(lam_grid, alpha) ** 2 * np.log(n) / n
        argmins.append(lam_grid[np.argmin(f)])
    x = np.log(np.log(ns) / ns)
    slope = np.polyfit(x, np.log(argmins), 1)[0]
    assert slope == pytest.approx(alpha / (alpha + 2), abs=2e-3)  # grid step 1e-3 in log10
    ratio = np.array(argmins) / np.array([sp.optimal_lambda(alpha, int(n)) for n in ns])
    assert np.ptp(np.log(ratio)) < 0.01  # the same constant for every n


def test_compression_bound_terms_by_hand():
    t = sp.compression_bound_terms([0.04, 0.09], [64, 10, 20, 10], 1000)
    assert t.bias == pytest.approx((0.2 + 0.3) ** 2)
    assert t.variance == pytest.approx((640 + 200 + 200) * math.log(1000) / 1000)
    assert t.total == pytest.approx(t.bias + t.variance)
    assert t.gap == pytest.approx(math.sqrt(t.bias) + math.sqrt(t.variance))
    t2 = sp.compression_bound_terms([0.04, 0.09], [64, 10, 20, 10], 1000, lipschitz=[2, 1])
    assert t2.bias == pytest.approx((0.4 + 0.3) ** 2)
    with pytest.raises(ValueError, match=r"'widths' parameter .* L \+ 2 = 4"):
        sp.compression_bound_terms([0.04, 0.09], [64, 10, 10], 1000)


def test_spectrum_summary():
    mu = np.array([4.0, 2.0, 1.0, 1.0, 0.0])
    s = sp.spectrum_summary(mu, leading=(1, 2), rel_lambdas=(1.0,))
    assert s["trace"] == 8.0 and s["rank"] == 4 and s["m"] == 5
    assert s["trace_fraction"] == {1: 0.5, 2: 0.75}
    lam = 8.0 / 5
    assert s["dof"][1.0] == pytest.approx(sum(m / (m + lam) for m in mu))


# -- allocation -------------------------------------------------------------------------------

def _spectra():
    j = np.arange(1, 129)
    return [j**-1.2, 0.2 * j**-3.0, 3.0 * np.exp(-0.05 * j)]


def test_allocation_satisfies_budget_and_beats_equal_split():
    eigs = _spectra()
    D = 1.5
    res = sp.allocate_lambdas(eigs, D, m_in=64, m_out=10)
    assert res.success
    assert np.sum(np.sqrt(res.lambdas)) <= D * (1 + 1e-9)
    assert np.sum(np.sqrt(res.lambdas)) == pytest.approx(D, rel=1e-6)  # the budget is active
    np.testing.assert_allclose(res.dof, [sp.degrees_of_freedom(e, x) for e, x in
                                         zip(eigs, res.lambdas, strict=True)])
    assert res.objective < 0.9 * res.equal_objective
    # local optimality: random feasible points on the budget surface are no better
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = np.sqrt(res.lambdas) * np.exp(0.3 * rng.standard_normal(3))
        s *= D / s.sum()
        a = [sp.degrees_of_freedom(e, x**2) for e, x in zip(eigs, s, strict=True)]
        V = 64 * a[0] + a[0] * a[1] + a[1] * a[2] + a[2] * 10
        assert V >= res.objective * (1 - 1e-7)


def test_allocation_errors():
    with pytest.raises(ValueError, match="'m_in' or 'm_out'"):
        sp.allocate_lambdas([np.ones(3)], 1.0)
    with pytest.raises(ValueError, match=r"'budget' parameter of allocate_lambdas .* > 0"):
        sp.allocate_lambdas(_spectra(), 0.0)


# -- greedy selection and reconstruction (spectral_node) ----------------------------------------

@pytest.mark.parametrize("theta", [0.0, 1.0, np.inf])
def test_greedy_loss_path_is_the_direct_loss_and_non_increasing(theta):
    S, W = _relu_cov(3)
    H = S.shape[0]
    for tau in (default_tau(S), sp.leverage_tau(S, sp.lambda_for_width(S, 10), 10)):
        J, losses = greedy_path(S, W, 20, tau, theta)
        assert np.all(np.diff(losses) <= 1e-12 * losses[0])
        for i in (0, 1, 5, 20):
            direct = information_loss(S, W, J[:i], tau, theta)[2]
            assert losses[i] == pytest.approx(direct, rel=1e-8, abs=1e-10)
        np.testing.assert_array_equal(J, greedy_select(S, W, 20, tau, theta))
        assert np.unique(J).size == 20 and J.max() < H


def test_greedy_equals_naive_greedy():
    """Rank-one updates pick what re-solving the loss for every candidate picks."""
    S, W = _relu_cov(4, H=14, dead=1)
    tau = default_tau(S)
    for theta in (0.0, 1.0):
        J = list(greedy_select(S, W, 6, tau, theta))
        naive: list[int] = []
        for _ in range(6):
            cand = [j for j in range(14) if j not in naive]
            losses = [information_loss(S, W, naive + [j], tau, theta)[2] for j in cand]
            naive.append(cand[int(np.argmin(losses))])
        assert J == naive


def test_greedy_is_optimal_for_k1_and_close_to_exhaustive():
    S, W = _relu_cov(5, H=10, dead=0)
    tau = default_tau(S)
    best = min(information_loss(S, W, list(c), tau, 1.0)[2]
               for c in itertools.combinations(range(10), 3))
    greedy = information_loss(S, W, greedy_select(S, W, 3, tau, 1.0), tau, 1.0)[2]
    assert best <= greedy <= 1.5 * best
    one = min(range(10), key=lambda j: information_loss(S, W, [j], tau, 1.0)[2])
    assert greedy_select(S, W, 1, tau, 1.0)[0] == one


def test_tau_zero_past_the_rank_picks_distinct_units():
    S, W = _relu_cov(6, H=12, dead=4)  # rank 8
    J = greedy_select(S, W, 12, 0.0, 1.0)
    assert sorted(J) == list(range(12))
    assert set(J[:8]) == set(range(4, 12))  # the live units come first


def test_prune_options_leverage_kept_theta_inf():
    S, W = _relu_cov(7)
    H = S.shape[0]
    rng = np.random.default_rng(0)
    Win = rng.standard_normal((H, 8))
    lam = sp.lambda_for_width(S, 6)
    r1 = sm.prune("spectral_node", Win, W, keep=6, act_cov=S, tau="leverage")
    r2 = sm.prune("spectral_node", Win, W, keep=6, act_cov=S, tau=sp.leverage_tau(S, lam, 6))
    np.testing.assert_array_equal(r1.kept, r2.kept)
    np.testing.assert_allclose(r1.W_out, r2.W_out, rtol=1e-10)
    r3 = sm.prune("spectral_node", Win, W, keep=6, act_cov=S, tau="leverage", lam=2 * lam)
    assert r3.kept.shape == (1, 6)
    # a fixed kept set: the reconstruction W_out Σ_FJ(Σ_JJ + τ)⁻¹ only
    J = np.array([9, 3, 17, 5])
    r4 = sm.prune("spectral_node", Win, W, keep=4, act_cov=S, kept=J)
    Js = np.sort(J)
    tau = default_tau(S)
    A = S[:, Js] @ np.linalg.inv(S[np.ix_(Js, Js)] + tau * np.eye(4))
    np.testing.assert_allclose(r4.W_out[0], W @ A, rtol=1e-10)
    np.testing.assert_array_equal(r4.kept[0], Js)
    # output-aware only: the greedy minimises L^B alone
    r5 = sm.prune("spectral_node", Win, W, keep=6, act_cov=S, theta=np.inf)
    r6 = sm.prune("spectral_node", Win, W, keep=6, act_cov=S, theta=0.0)
    lb5 = information_loss(S, W, r5.kept[0], tau, np.inf)[1]
    lb6 = information_loss(S, W, r6.kept[0], tau, 0.0)[1]
    assert lb5 <= lb6


@pytest.mark.parametrize("options, match", [
    (dict(tau="uniform"), r"'tau' parameter of prune must be None, .* or 'leverage'"),
    (dict(tau=np.ones(3)), r"'tau' parameter of prune as an array must have shape \(30,\)"),
    (dict(tau=-1.0), r"'tau' parameter of prune must be None, a finite float .*>= 0"),
    (dict(theta=-1.0), r"'theta' parameter of prune must be a finite float >= 0.0 or inf"),
    (dict(kept=[1, 1, 2]), r"'kept' parameter of prune must be 3 distinct unit indices"),
    (dict(kept=[1, 2, 30]), r"'kept' .* \[0, 29\]"),
    (dict(tau="leverage", lam=-2.0),
     r"'lam' parameter of prune must be None or a finite float > 0"),
])
def test_prune_option_errors(options, match):
    S, W = _relu_cov(8)
    with pytest.raises(ValueError, match=match):
        sm.prune("spectral_node", np.ones((30, 8)), W, keep=3, act_cov=S, **options)


def test_leverage_needs_lambda_past_the_rank():
    S, W = _relu_cov(9)  # rank 27
    with pytest.raises(ValueError, match="pass 'lam'"):
        sm.prune("spectral_node", np.ones((30, 8)), W, keep=28, act_cov=S, tau="leverage")


def test_keeping_all_units_with_tau_to_zero_reproduces_the_layer():
    """The internal identity: J = F and τ → 0 give Â_J → the projector onto range(Σ), so the
    next layer's pre-activations are unchanged on the data: the mean squared change is
    Σ_i τ² μ_i/(μ_i + τ)² ‖W u_i‖² ≤ τ ‖W‖_F² / 4."""
    rng = np.random.default_rng(10)
    n, H = 300, 20
    X = rng.standard_normal((n, 6))
    Win = rng.standard_normal((H, 6))
    b = rng.standard_normal(H)
    b[:2] = -40.0  # dead units: Σ singular
    phi = np.maximum(X @ Win.T + b, 0.0)
    S = phi.T @ phi / n
    W = rng.standard_normal((3, H))
    for tau in (1e-10, 0.0):
        res = sm.prune("spectral_node", Win, W, keep=H, act_cov=S, tau=tau)
        np.testing.assert_array_equal(res.kept[0], np.arange(H))
        out = phi @ res.W_out[0].T
        msd = np.mean(np.sum((out - phi @ W.T) ** 2, axis=1))
        assert msd <= max(tau, 1e-24) * np.sum(W**2) / 4 + 1e-20
