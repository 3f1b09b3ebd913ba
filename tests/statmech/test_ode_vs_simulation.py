"""The ODE against a plain online-SGD simulation of explicit networks (N = 2000).

Each of E members has its own teacher and student; the ODE is integrated as one batch started
from each member's own measured initial order parameters, and the per-member differences
d_e(α) = ε_g^sim − ε_g^ODE are tested for zero mean at α ∈ {1, 2, 5, 10, 20}. The finite-N bias
is O(1/N) ≈ 5e-4 relative, far below the spread between members (O(1/√N)), so the test is a
t-test on the E differences with a family-wise false-alarm rate of P(|Z| > 3) = 0.27 % split
over the five times (Bonferroni).
"""

import numpy as np
import pytest
from scipy.stats import t as student_t

import statmech as sm

N, K, M, E = 2000, 3, 2, 10
ETA, ETA_V, SIGMA = 0.5, 0.5, 0.2
ALPHAS = np.array([1.0, 2.0, 5.0, 10.0, 20.0])


def _simulate(seed):
    """Plain online SGD (one fresh Gaussian sample per step), E networks side by side.

    w_k += (η/√N) v_k g'(λ_k) Δ x,  v_k += (η_v/N) g(λ_k) Δ  with Δ = y − ŷ, y noisy.
    """
    rng = np.random.default_rng(seed)
    Ws = rng.standard_normal((E, M, N))
    W = rng.standard_normal((E, K, N))
    v = np.ones((E, K))
    vs = np.ones((E, M))
    act = sm.get_activation("erf")
    ops = [sm.OrderParameters.from_weights(W, Ws, v, vs)]
    steps = np.rint(ALPHAS * N).astype(int)
    sq = np.sqrt(N)
    done, chunk = 0, 200
    for target in steps:
        while done < target:
            n = min(chunk, target - done)
            X = rng.standard_normal((n, E, N))
            noise = SIGMA * rng.standard_normal((n, E))
            for s in range(n):
                x = X[s]
                lam = np.einsum("ekn,en->ek", W, x) / sq
                rho = np.einsum("emn,en->em", Ws, x) / sq
                gl = act.g(lam)
                delta = (act.g(rho) * vs).sum(1) + noise[s] - (gl * v).sum(1)
                coef = (ETA / sq) * v * act.dg(lam) * delta[:, None]
                v = v + (ETA_V / N) * gl * delta[:, None]
                W += coef[:, :, None] * x[:, None, :]
            done += n
        ops.append(sm.OrderParameters.from_weights(W, Ws, v, vs))
    return ops


@pytest.fixture(scope="module")
def simulation():
    return _simulate(seed=11)


def _differences(ops, **ode_kwargs):
    op0 = ops[0]
    traj = sm.integrate(op0, eta=ETA, eta_v=ETA_V, train_second_layer=True, noise=SIGMA,
                        alpha=ALPHAS, **ode_kwargs)
    eg_sim = np.stack([sm.generalization_error(op) for op in ops[1:]], axis=1)  # (E, n_alpha)
    return eg_sim - traj.eg


def _t_statistics(d):
    return d.mean(0) / (d.std(0, ddof=1) / np.sqrt(d.shape[0]))


THRESHOLD = student_t.isf(0.0027 / len(ALPHAS) / 2, df=E - 1)


@pytest.mark.slow
def test_ode_matches_online_sgd(simulation):
    d = _differences(simulation)
    t = _t_statistics(d)
    assert np.all(np.abs(t) < THRESHOLD), (t, d.mean(0))
    # the agreement is also small in absolute terms: O(1/√N) per member
    assert np.abs(d).max() < 0.05


@pytest.mark.slow
def test_negative_control_gradient_flow_is_rejected(simulation):
    """Dropping the η² (SGD-noise) terms — the gradient-flow ODE — must fail the same test."""
    d = _differences(simulation, batch_size=10**9)
    t = _t_statistics(d)
    assert np.any(np.abs(t) > THRESHOLD), t
