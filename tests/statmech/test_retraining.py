"""Retraining after pruning (statmech.retrain_theory, retrain_pruned, retraining_init).

Node methods: the dense ODE of the kept units, exactly. Edge methods: the masked ODE from the
large-N cells, against pruned-then-retrained explicit students at N = 2000.
"""

from __future__ import annotations

import numpy as np
import pytest

import statmech as sm
from statmech import InvalidParameterError
from statmech.pruning.node_theory import all_subsets
from statmech.theory.masked import synthetic_coordinates

ALPHA = [0.0, 1.0, 4.0, 10.0]
MODEL = sm.SGDModel(eta=0.5, train_second_layer=True)


@pytest.fixture(scope="module")
def trained():
    """A partly specialised student: K = 4, M = 2, v* = 2 (ODE from a random start)."""
    op0 = sm.OrderParameters.random(4, 2, 500, seed=3, v_star=[2.0, 2.0])
    return sm.integrate(op0, alpha=[0.0, 150.0], model=MODEL).at(-1)


def test_deterministic_node_retraining_is_the_dense_ode_of_the_kept_units(trained):
    r = sm.retrain_theory(trained, "magnitude_node", 2, alpha=ALPHA, model=MODEL)
    kept = sm.prune_theory(trained, "magnitude_node", 2).kept
    ref = sm.integrate(kept, alpha=ALPHA, model=MODEL)
    np.testing.assert_allclose(r.eg, ref.eg, rtol=0, atol=1e-12)
    assert r.probabilities.tolist() == [1.0] and np.all(r.std_eg == 0)


def test_random_node_retraining_averages_every_kept_set(trained):
    r = sm.retrain_theory(trained, "random_node", 2, alpha=ALPHA, model=MODEL)
    Q, R = np.asarray(trained.Q), np.asarray(trained.R)
    egs = []
    for S in all_subsets(4, 2):
        op = sm.OrderParameters(Q[np.ix_(S, S)], R[S], trained.T, np.asarray(trained.v)[S],
                                trained.v_star)
        egs.append(sm.integrate(op, alpha=ALPHA, model=MODEL).eg)
    # one batched solve (step sizes from the worst member) against six solo ones: equal to well
    # within the ODE tolerance (rtol 1e-8)
    np.testing.assert_allclose(r.eg, np.mean(egs, axis=0), rtol=1e-6)
    np.testing.assert_allclose(r.std_eg, np.std(egs, axis=0), rtol=1e-5, atol=1e-12)
    assert r.exact and r.probabilities.size == 6


@pytest.mark.parametrize("method, keep, tol", [
    ("random_node", 2, 1e-12), ("dpp_node", 3, 1e-12), ("magnitude_node", 3, 1e-12),
    ("random_edge", 0.5, 1e-12), ("magnitude_edge", 0.5, 0.01), ("dpp_edge", 0.6, 0.01),
])
def test_retraining_starts_where_pruning_theory_ends(trained, method, keep, tol):
    """At α′ = 0 the expected ε_g is prune_theory's (edge methods other than random: up to the
    sampling error of the synthetic coordinates)."""
    r = sm.retrain_theory(trained, method, keep, alpha=[0.0, 1.0], model=MODEL)
    pt = sm.prune_theory(trained, method, keep)
    assert abs(r.eg[0] - pt.mean_eg) <= tol * pt.mean_eg
    assert r.eg[1] < r.eg[0]  # retraining helps


def test_large_n_edge_cells_aggregate_to_the_pruning_theory(trained):
    for name in ("magnitude_edge", "dpp_edge", "mbp_edge"):
        m = sm.PRUNING_METHODS[name]
        mop = m.retraining_start(trained, 0.5, m.variants[0], n_coordinates=200_000, seed=2)
        Qp, Rp = m.expected_order_parameters(np.asarray(trained.Q), np.asarray(trained.R), 0.5,
                                             variant=m.variants[0])
        assert np.abs(mop.Q - Qp).max() < 0.005 * np.abs(Qp).max(), name
        assert np.abs(mop.R - Rp).max() < 0.005 * np.abs(Rp).max(), name


def test_bad_input(trained):
    with pytest.raises(InvalidParameterError, match="'op' parameter of retrain_theory"):
        sm.retrain_theory(trained.covariance, "random_edge", 0.5, alpha=1.0, eta=0.5)
    with pytest.raises(InvalidParameterError, match="needs the learning rate"):
        sm.retrain_theory(trained, "random_edge", 0.5, alpha=1.0)
    with pytest.raises(InvalidParameterError, match="'reweight' parameter"):
        sm.retrain_theory(trained, "random_edge", 0.5, alpha=1.0, eta=0.5,
                          reweight="activations")
    with pytest.raises(InvalidParameterError, match="'result' parameter of retraining_init"):
        sm.retraining_init("not a result")


N, E = 2000, 16
EDGE_CASES = [("random_edge", "exact"), ("magnitude_edge", "per_unit"), ("dpp_edge", "default")]


@pytest.fixture(scope="module")
def retrained(trained):
    """For each edge method: E students with Gaussian coordinates of the trained state at
    N = 2000 (own teacher each), pruned explicitly to half their inputs, retrained by masked
    SGD; and the same students' theory from their exact cells (retrain_pruned)."""
    rng = np.random.default_rng(11)
    K, M = trained.K, trained.M
    coords = [synthetic_coordinates(trained, N, seed=int(s)) for s in rng.integers(2**31, size=E)]
    out = {}
    for method, variant in EDGE_CASES:
        inits, theory = [], []
        for e, Z in enumerate(coords):
            W, Ws = Z[:, :K].T, Z[:, K:].T
            res = sm.prune_student(method, W, trained.v, keep=N // 2, variant=variant, seed=e)
            inits.append(sm.retraining_init(res))
            theory.append(sm.retrain_pruned(res, Ws, v_star=trained.v_star, alpha=ALPHA,
                                            model=MODEL).eg)
        init = sm.StudentInit(weights=np.concatenate([i.weights for i in inits]),
                              v=np.concatenate([i.v for i in inits]),
                              mask=np.concatenate([i.mask for i in inits]))
        teacher = np.stack([Z[:, K:].T for Z in coords])
        ens = sm.simulate(N, K, M, alpha=ALPHA, model=MODEL, ensemble=E, seed=5, teacher=teacher,
                          v_star=trained.v_star, init=init, progress=False)
        large_n = sm.retrain_theory(trained, method, 0.5, variant=variant, alpha=ALPHA,
                                    model=MODEL)
        out[method] = (ens.eg[:, 1:], np.array(theory)[:, 1:], large_n.eg[1:])
    return out


def test_large_n_retraining_agrees_with_retrained_students(retrained):
    """Family-wise over 3 methods × 3 times: the students' mean ε_g(α′) within 3 standard
    errors of the large-N retraining theory."""
    z = []
    for mc, _, theory in retrained.values():
        z.append((mc.mean(0) - theory) / (mc.std(0, ddof=1) / np.sqrt(E)))
    z = np.concatenate(z)
    assert np.all(np.abs(z) < 3.0), z


def test_retraining_from_each_students_own_cells_agrees_with_its_sgd(retrained):
    """Paired (member by member) comparison of masked SGD with the masked ODE from the
    student's exact cells, family-wise 3 standard errors; negative control: the pruning theory
    without retraining (α′ = 0 value) is far off."""
    z = []
    for mc, own, _ in retrained.values():
        d = mc - own
        z.append(d.mean(0) / (d.std(0, ddof=1) / np.sqrt(E)))
        assert np.abs(mc[:, -1] - mc[:, 0]).mean() > 0.0
    z = np.concatenate(z)
    assert np.all(np.abs(z) < 3.0), z


def test_retrain_from_a_prune_theory_or_a_pruning_result(trained):
    th = sm.prune_theory(trained, "random_node", 2)
    r = sm.retrain(th, alpha=ALPHA, model=MODEL)
    np.testing.assert_array_equal(r.eg, sm.retrain_theory(trained, "random_node", 2,
                                                          alpha=ALPHA, model=MODEL).eg)
    assert abs(r.eg[0] - th.mean_eg) < 1e-12
    Z = synthetic_coordinates(trained, 500, seed=1)
    res = sm.prune_student("random_edge", Z[:, :4].T, trained.v, keep=250, n_masks=3, seed=2)
    a = sm.retrain(res, W_star=Z[:, 4:].T, v_star=trained.v_star, alpha=ALPHA, model=MODEL)
    b = sm.retrain_pruned(res, Z[:, 4:].T, v_star=trained.v_star, alpha=ALPHA, model=MODEL)
    np.testing.assert_array_equal(a.eg, b.eg)
    assert a.probabilities.size == 3
    with pytest.raises(InvalidParameterError, match="'W_star' parameter of retrain"):
        sm.retrain(res, alpha=ALPHA, model=MODEL)
    with pytest.raises(InvalidParameterError, match="'pruned' parameter of retrain"):
        sm.retrain(trained, alpha=ALPHA, model=MODEL)


@pytest.mark.parametrize("method", ["random_edge", "magnitude_edge", "dpp_edge"])
def test_sparse_init_masks_gaussian_weights_with_an_edge_method(method):
    init = sm.sparse_init(method, 300, 3, 0.2, ensemble=4, seed=5)
    assert init.weights.shape == init.mask.shape == (4, 3, 300)
    assert np.all(init.mask.sum(-1) == 60) and np.all(init.weights[~init.mask] == 0)
    if method == "magnitude_edge":  # the kept weights are the largest of each unit
        kept = np.where(init.mask, np.abs(init.weights), np.inf).min(-1)
        assert np.all(kept > 0.5)
    again = sm.sparse_init(method, 300, 3, 0.2, ensemble=4, seed=5)
    np.testing.assert_array_equal(again.mask, init.mask)
    with pytest.raises(InvalidParameterError, match="'method' parameter of sparse_init"):
        sm.sparse_init("random_node", 300, 3, 0.2)


def test_method_options_reach_the_retraining_start(trained):
    """MBP's compression parameter d: retrain_theory(options=...) and retrain(prune_theory(...,
    d=...)) start where that pruning theory ends (up to the synthetic coordinates), and the
    option changes the result (negative control)."""
    th = sm.prune_theory(trained, "mbp_edge", 0.5, d=0.3)
    a = sm.retrain_theory(trained, "mbp_edge", 0.5, alpha=ALPHA, model=MODEL, options={"d": 0.3})
    b = sm.retrain(th, alpha=ALPHA, model=MODEL)
    np.testing.assert_array_equal(a.eg, b.eg)
    assert abs(a.eg[0] - th.mean_eg) < 0.01 * th.mean_eg
    plain = sm.retrain_theory(trained, "mbp_edge", 0.5, alpha=ALPHA, model=MODEL)
    assert abs(plain.eg[0] - a.eg[0]) > 0.02 * a.eg[0]
    with pytest.raises(InvalidParameterError, match="Unknown options"):
        sm.retrain_theory(trained, "mbp_edge", 0.5, alpha=ALPHA, model=MODEL,
                          options={"dd": 1.0})
