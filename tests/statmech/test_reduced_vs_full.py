"""The exact reduced chain against the full-N engine, in distribution, with negative controls.

The control is a plausible shortcut: a chain that sets the batch Gram matrix to
the identity (|x|²/N ≡ 1), right as N → ∞ but wrong at finite N. Both tests must reject it at the
same family-wise threshold at which they accept the exact chain (N = 10, where the difference is
largest).

1. One step from a fixed state, 10⁵ independent draws per engine: z-tests on the mean and on the
   variance (standard error from the fourth central moment) of ΔQ_00, ΔQ_01, ΔR_00, ΔR_01. This
   is the eigh path (explicit normals through ``step_with``), which also serves B > 1.
2. Many steps from a common initial state, 2000 members per engine: two-sample Kolmogorov–Smirnov
   tests on ε_g, mean Q_kk, Q_01, mean R_kk and mean R_kl (k ≠ l) at α = 1, 2, 4. With B = 1,
   ``simulate(method="reduced")`` runs the carried-factor path. Two controls: ``UnitNormChain``
   (``exact_norm = False``, which runs on the eigh path, where G is explicit) and its analogue on
   the factor path, ``UnitNormFactorChain`` (the coordinate of x outside the frame sized so that
   |x|² ≡ N).

Family-wise false-alarm rate 0.27 % (Bonferroni), fixed seeds.
"""

import numpy as np
import pytest
from scipy import stats

import statmech as sm
import statmech.simulation.api as simulation
from statmech.simulation.backend import get_backend
from statmech.simulation.reduced_chain import ReducedEngine
from statmech.simulation.sgd_engine import EngineSettings
from statmech.simulation.sgd_full import FullEngine

FAMILY = 0.0027
N, K, M = 10, 2, 2


class UnitNormChain(ReducedEngine):
    """Negative control: |x|²/N ≡ 1 and x_b·x_b'/N ≡ 0 (the N → ∞ shortcut)."""

    exact_norm = False


class EighChain(ReducedEngine):
    """The exact chain on its eigh path also for B = 1 (as for B > 1)."""

    factor_path = False


class UnitNormFactorChain(ReducedEngine):
    """Negative control on the factor path: r² = N − |a|² − Σ_{i<K+j} b_i² (clipped at 0), so
    that |x|² ≡ N."""

    def _new_norm2(self, tail, chi2, used):
        return np.maximum(self.model.N - used, 0.0)


# ---------------------------------------------------------------------------------------------
# 1. one-step moments


def _moment_z(x, y):
    n = x.size

    def var_se(u):
        c = u - u.mean()
        return np.sqrt(np.mean((c * c - c.var()) ** 2) / n)

    z_mean = (x.mean() - y.mean()) / np.sqrt(x.var() / n + y.var() / n)
    z_var = (x.var() - y.var()) / np.hypot(var_se(x), var_se(y))
    return z_mean, z_var


@pytest.fixture(scope="module")
def one_step():
    n = 100_000
    model = EngineSettings(N=N, K=K, M=M, eta=3.0, eta_v=0.0, noise=0.0, weight_decay=0.0,
                     batch_size=1, train_second_layer=False, student="erf", teacher="erf",
                     dtype="float64")
    op = sm.OrderParameters.random(K, M, N, seed=5)
    W, Ws = sm.weights_from_order_parameters(op, N, seed=6)
    be = get_backend("numpy")
    rng = np.random.default_rng(0)
    ones_k, ones_m = np.ones((n, K)), np.ones((n, M))
    full = FullEngine(be, model, [None] * n, np.broadcast_to(W, (n, K, N)),
                      np.broadcast_to(Ws, (n, M, N)), ones_k, ones_m)
    full.step_with(rng.standard_normal((n, 1, N)))
    out = {"full": full.order_parameters()}
    for name, exact in (("reduced", True), ("unit_norm", False)):
        eng = ReducedEngine(be, model, [None] * n, np.broadcast_to(op.Q, (n, K, K)),
                            np.broadcast_to(op.R, (n, K, M)), np.broadcast_to(op.T, (n, M, M)),
                            ones_k, ones_m)
        a = rng.standard_normal((n, 1, M))
        b = rng.standard_normal((n, 1, K))
        chi2 = rng.chisquare(N - M - K, n)
        G = (np.sum(a * a, axis=(1, 2)) + np.sum(b * b, axis=(1, 2)) + chi2) / N
        eng.step_with(a, b, G[:, None, None] if exact else None)
        out[name] = eng.order_parameters()

    def increments(o):
        Q, R = o[0], o[1]
        return {"dQ00": Q[:, 0, 0] - op.Q[0, 0], "dQ01": Q[:, 0, 1] - op.Q[0, 1],
                "dR00": R[:, 0, 0] - op.R[0, 0], "dR01": R[:, 0, 1] - op.R[0, 1]}

    return {k: increments(v) for k, v in out.items()}


def _one_step_z(one_step, chain):
    return np.array([_moment_z(one_step["full"][k], one_step[chain][k])
                     for k in one_step["full"]]).ravel()


ONE_STEP_THRESHOLD = stats.norm.isf(FAMILY / 8 / 2)  # 4 statistics x (mean, variance)


def test_one_step_moments_match_full_n(one_step):
    z = _one_step_z(one_step, "reduced")
    assert np.all(np.abs(z) < ONE_STEP_THRESHOLD), z


def test_one_step_negative_control_is_rejected(one_step):
    z = _one_step_z(one_step, "unit_norm")
    assert np.any(np.abs(z) > ONE_STEP_THRESHOLD), z


# ---------------------------------------------------------------------------------------------
# 2. two-sample tests after many steps

ALPHAS = (1.0, 2.0, 4.0)
E = 2000


def _run(method, seed, chain=None, monkeypatch=None):
    if chain is not None:
        monkeypatch.setattr(simulation, "ReducedEngine", chain)
    op0 = sm.OrderParameters.random(K, M, N, seed=11)  # one common initial state
    return sm.simulate(N, K, M, eta=2.0, alpha=(0.0,) + ALPHAS, ensemble=E, method=method,
                       seed=seed, init=op0)


def _summaries(ens, j):
    Q, R = ens.Q[:, j], ens.R[:, j]
    return {
        "eg": ens.eg[:, j],
        "Q_kk": np.diagonal(Q, axis1=-2, axis2=-1).mean(-1),
        "Q_01": Q[:, 0, 1],
        "R_kk": np.diagonal(R, axis1=-2, axis2=-1).mean(-1),
        "R_kl": 0.5 * (R[:, 0, 1] + R[:, 1, 0]),
    }


def _pvalues(a, b):
    p = []
    for j in range(1, len(ALPHAS) + 1):
        sa, sb = _summaries(a, j), _summaries(b, j)
        p += [stats.ks_2samp(sa[k], sb[k]).pvalue for k in sa]
    return np.array(p)


@pytest.fixture(scope="module")
def full_ensemble():
    return _run("full", seed=1)


def test_reduced_chain_matches_full_n_in_distribution(full_ensemble):
    p = _pvalues(full_ensemble, _run("reduced", seed=2))
    assert np.all(p > FAMILY / p.size), p


def test_eigh_path_matches_full_n_in_distribution(full_ensemble, monkeypatch):
    p = _pvalues(full_ensemble, _run("reduced", seed=4, chain=EighChain, monkeypatch=monkeypatch))
    assert np.all(p > FAMILY / p.size), p


def test_unit_norm_chain_is_rejected(full_ensemble, monkeypatch):
    p = _pvalues(full_ensemble, _run("reduced", seed=3, chain=UnitNormChain,
                                     monkeypatch=monkeypatch))
    assert np.any(p < FAMILY / p.size), p


def test_unit_norm_factor_chain_is_rejected(full_ensemble, monkeypatch):
    p = _pvalues(full_ensemble, _run("reduced", seed=3, chain=UnitNormFactorChain,
                                     monkeypatch=monkeypatch))
    assert np.any(p < FAMILY / p.size), p
