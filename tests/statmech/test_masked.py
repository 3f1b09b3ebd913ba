"""Masked students: cell order parameters, the masked ODE and masked online SGD.

The masked ODE (docs/masked_theory.md) is checked against (i) the dense ODE in the one-cell case,
(ii) its own generic (I3) evaluation, (iii) explicit masked online SGD at N = 2000 started from
the same weights and masks, with the dense ODE from the same (Q, R) as a negative control.
"""

from __future__ import annotations

import numpy as np
import pytest

import statmech as sm
from statmech import InvalidParameterError
from statmech.theory.activations import get_activation
from statmech.theory.masked import MaskedOrderParameters, cell_patterns, synthetic_coordinates
from statmech.theory.masked_ode import MaskedRHS
from statmech.theory.rhs import _coefficients

KW = dict(eta=0.7, noise=0.2, train_second_layer=True, eta_v=0.4, weight_decay=0.05,
          batch_size=2)


def _random_masked(K=3, M=2, N=4000, keep=0.6, seed=0, E=None):
    rng = np.random.default_rng(seed)
    lead = () if E is None else (E,)
    W, Ws = rng.standard_normal(lead + (K, N)), rng.standard_normal(lead + (M, N))
    mask = rng.random(lead + (K, N)) < keep
    v = rng.normal(0.5, 0.3, lead + (K,))
    return W, Ws, mask, v


@pytest.mark.parametrize("activation", ["erf", "relu", "linear", ("erf", "relu")])
def test_one_cell_is_the_dense_ode(activation):
    op = sm.OrderParameters.random(3, 2, 400, seed=1, v=[0.5, 1.0, -0.3], v_star=[1.0, 2.0])
    kw = dict(KW, activation=activation)
    if activation == "linear":
        kw.update(eta=0.2, eta_v=0.1)
    alpha = [0.0, 0.5, 2.0, 6.0]
    dense = sm.integrate(op, alpha=alpha, **kw)
    cell = sm.integrate(MaskedOrderParameters.dense(op), alpha=alpha, **kw)
    for name in ("Q", "R", "v", "eg"):
        np.testing.assert_allclose(getattr(cell, name), getattr(dense, name), rtol=0,
                                   atol=1e-10)


def _rhs(mop, erf=True, **kw):
    e = get_activation("erf")
    c = _coefficients(np.array([0.7]), np.array([0.4]), np.array([0.04]), np.array([0.05]),
                      np.array([2]), True)
    f = MaskedRHS(mop.cells, mop.p[None], mop.Q_cells[None], mop.R_cells[None],
                  mop.T_cells[None], np.asarray(mop.v)[None], np.asarray(mop.v_star)[None], c,
                  True, e, e, np.array([1e9]))
    f.erf = erf
    return f.derivatives(*f.cell_state(f.y0))


def test_erf_closed_form_equals_the_generic_i3_evaluation():
    W, Ws, mask, v = _random_masked()
    mop = MaskedOrderParameters.from_weights(W, Ws, mask, v=v, v_star=[1.0, 2.0])
    fast, generic = _rhs(mop, erf=True), _rhs(mop, erf=False)
    for a, b in zip(fast, generic, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # negative control: the cells do not move like the dense state restricted to them
    dQ, dR, _ = sm.ode_rhs(mop.order_parameters(), **KW)
    assert np.abs(fast[0][0].sum(0) - dQ).max() > 1e-3


def test_masked_weights_stay_in_their_cells():
    """Derivatives vanish outside s × s (Q^s) and on rows outside s (R^s)."""
    W, Ws, mask, v = _random_masked(K=4, M=1, keep=0.5)
    mop = MaskedOrderParameters.from_weights(W, Ws, mask, v=v)
    dQ, dR, _ = _rhs(mop)
    cells = mop.cells
    assert np.all(dQ[0][~(cells[:, :, None] & cells[:, None, :])] == 0)
    assert np.all(dR[0][~cells] == 0)


def test_from_weights_aggregates_and_cells():
    W, Ws, mask, v = _random_masked(K=3, N=3000, E=2)
    mop = MaskedOrderParameters.from_weights(W, Ws, mask, v=v)
    ref = sm.OrderParameters.from_weights(np.where(mask, W, 0.0), Ws, v=v)
    np.testing.assert_allclose(mop.Q, ref.Q, atol=1e-12)
    np.testing.assert_allclose(mop.R, ref.R, atol=1e-12)
    np.testing.assert_allclose(mop.T, ref.T, atol=1e-12)
    np.testing.assert_allclose(mop.keep_fraction, mask.mean(-1), atol=1e-12)
    assert mop.n_cells == 8 and mop.batch_shape == (2,)
    assert repr(mop) == "MaskedOrderParameters(K=3, M=2, cells=8, batch_shape=(2,))"
    one = mop[1]
    assert one.batch_shape == () and one.order_parameters().K == 3
    # each cell against a direct sum over its coordinates
    for e in range(2):
        for s, cell in enumerate(mop.cells):
            idx = np.all(mask[e].T == cell, axis=1)
            Wc = np.where(mask[e], W[e], 0.0)[:, idx]
            np.testing.assert_allclose(mop.Q_cells[e, s], Wc @ Wc.T / 3000, atol=1e-12)
            np.testing.assert_allclose(mop.R_cells[e, s], Wc @ Ws[e][:, idx].T / 3000,
                                       atol=1e-12)
            assert mop.p[e, s] == idx.mean()


def test_random_edge_closed_form_is_the_large_n_limit():
    """Against random masks at N = 2·10⁵: every cell entry within 5 of its standard errors."""
    K, M, N, c = 3, 2, 200_000, 0.4
    rng = np.random.default_rng(7)
    op = sm.OrderParameters.random(K, M, 50, seed=2)
    Z = synthetic_coordinates(op, N, seed=3)
    mask = rng.random((K, N)) < c
    emp = MaskedOrderParameters.from_weights(Z[:, :K].T, Z[:, K:].T, mask)
    exact = MaskedOrderParameters.random_edge(
        sm.OrderParameters.from_weights(Z[:, :K].T, Z[:, K:].T), c)
    assert np.array_equal(emp.cells, exact.cells)
    codes = (mask.astype(int) << np.arange(K)[:, None]).sum(0)
    worst = 0.0
    for s in range(2**K):
        ind = (codes == s).astype(float)
        terms = np.einsum("ia,ib,i->iab", Z, Z, ind)  # per-coordinate contributions
        se = terms.std(0) / np.sqrt(N) + 1e-15
        cov_e = np.block([[emp.Q_cells[s], emp.R_cells[s]], [emp.R_cells[s].T, emp.T_cells[s]]])
        cov_x = np.block([[exact.Q_cells[s], exact.R_cells[s]],
                          [exact.R_cells[s].T, exact.T_cells[s]]])
        inside = np.ones((K + M, K + M), bool)
        inside[:K, :K] = np.outer(exact.cells[s], exact.cells[s])
        inside[:K, K:] = exact.cells[s][:, None]
        inside[K:, :K] = exact.cells[s][None, :]
        worst = max(worst, float(np.max(np.abs(cov_e - cov_x)[inside] / se[inside])))
    assert worst < 5.0, worst
    # negative control: keep fraction 0.5 instead of 0.4 is far off
    wrong = MaskedOrderParameters.random_edge(
        sm.OrderParameters.from_weights(Z[:, :K].T, Z[:, K:].T), 0.5)
    assert np.abs(wrong.p - emp.p).max() > 20 * np.sqrt(0.1 / N)


def test_from_coordinates_with_constant_probabilities_is_random_edge():
    op = sm.OrderParameters.random(3, 1, 100, seed=4)
    Z = synthetic_coordinates(op, 5000, seed=1)
    emp = sm.OrderParameters(Z[:, :3].T @ Z[:, :3] / 5000, Z[:, :3].T @ Z[:, 3:] / 5000,
                             Z[:, 3:].T @ Z[:, 3:] / 5000)
    a = MaskedOrderParameters.from_coordinates(Z, np.full((5000, 3), 0.3), chunk=777)
    b = MaskedOrderParameters.random_edge(emp, 0.3)
    for name in ("p", "Q_cells", "R_cells", "T_cells"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-13)
    assert cell_patterns(2).tolist() == [[False, False], [True, False], [False, True],
                                         [True, True]]


@pytest.mark.parametrize("change, param", [
    (dict(p=np.array([0.5, 0.6])), "'p'"),
    (dict(Q_cells=np.array([np.eye(2), np.eye(2)])), "'Q_cells' must vanish"),
    (dict(cells=np.array([[True, True], [True, True]])), "distinct"),
    (dict(cells=np.array([[1, 1], [0, 0]])), "'cells' must be a boolean"),
    (dict(R_cells=np.full((2, 2, 1), 0.9)), "vanish on the rows"),
    (dict(T_cells=np.array([[[0.01]], [[0.0]]])), "positive"),
])
def test_bad_cell_order_parameters_are_refused(change, param):
    fields = dict(cells=np.array([[True, True], [False, False]]), p=np.array([0.5, 0.5]),
                  Q_cells=np.array([0.5 * np.eye(2), np.zeros((2, 2))]),
                  R_cells=np.array([np.full((2, 1), 0.1), np.zeros((2, 1))]),
                  T_cells=np.array([[[0.5]], [[0.5]]]))
    MaskedOrderParameters(**fields)  # the valid baseline
    fields.update(change)
    with pytest.raises(InvalidParameterError, match=param):
        MaskedOrderParameters(**fields)


def test_bad_masks_in_simulate_are_refused():
    with pytest.raises(InvalidParameterError, match="'method' parameter of simulate"):
        sm.simulate(40, 2, eta=0.5, alpha=1.0, method="reduced",
                    init=sm.StudentInit(mask=np.ones((2, 40), bool)))
    with pytest.raises(InvalidParameterError, match="mask has shape"):
        sm.simulate(40, 2, eta=0.5, alpha=1.0, init=sm.StudentInit(mask=np.ones((2, 41), bool)))
    with pytest.raises(InvalidParameterError, match="'mask' parameter of StudentInit"):
        sm.StudentInit(mask=np.ones((2, 40)))


def test_masked_sgd_keeps_pruned_weights_at_zero():
    N, K = 300, 2
    rng = np.random.default_rng(0)
    mask = rng.random((K, N)) < 0.3
    ens = sm.simulate(N, K, eta=0.5, alpha=[0.0, 2.0], ensemble=2, seed=1, progress=False,
                      init=sm.StudentInit(mask=mask))
    W = ens.weights()["W"]
    assert np.all(W[:, ~mask] == 0) and np.all(W[:, mask] != 0)


CASES = {  # (model keywords, output times, v_star, initial v)
    "fixed v, noise": (dict(eta=0.8, noise=0.3), [2.0, 8.0, 20.0], [1.0, 1.0], 1.0),
    "trained v, noise": (dict(eta=0.8, noise=0.2, train_second_layer=True), [1.0, 5.0, 15.0],
                         [1.0, 2.0], 0.5),
}


@pytest.fixture(scope="module")
def masked_runs():
    """Masked SGD at N = 2000 (16 members, random masks keeping 50 %) and the masked ODE and
    the dense ODE started from each member's own weights and masks."""
    N, K, M, E = 2000, 3, 2, 16
    out = {}
    for i, (name, (kw, alpha, v_star, v0)) in enumerate(CASES.items()):
        W0, Ws, mask, _ = _random_masked(K, M, N, keep=0.5, seed=10 + i, E=E)
        alpha = [0.0] + alpha
        ens = sm.simulate(N, K, M, alpha=alpha, ensemble=E, seed=20 + i, teacher=Ws,
                          v_star=v_star, init=sm.StudentInit(weights=W0, mask=mask, v=v0),
                          progress=False, **kw)
        mop = MaskedOrderParameters.from_weights(W0, Ws, mask, v=np.full((E, K), v0),
                                                 v_star=np.broadcast_to(v_star, (E, M)))
        out[name] = (ens.eg[:, 1:], sm.integrate(mop, alpha=alpha, **kw).eg[:, 1:],
                     sm.integrate(mop.order_parameters(), alpha=alpha, **kw).eg[:, 1:])
    return out


def _z(mc, theory):
    d = mc - theory  # paired: the same initial state per member
    return d.mean(0) / (d.std(0, ddof=1) / np.sqrt(d.shape[0]))


def test_masked_ode_agrees_with_masked_sgd(masked_runs):
    """Family-wise: all 6 (case, α) comparisons within 3 standard errors of the paired
    difference (ε_g of SGD minus the masked ODE, member by member)."""
    z = np.concatenate([_z(mc, ode) for mc, ode, _ in masked_runs.values()])
    assert np.all(np.abs(z) < 3.0), z


def test_dense_ode_from_the_same_start_is_rejected(masked_runs):
    """Negative control: ignoring the masks after α = 0 misses the SGD by many errors."""
    for mc, _, dense in masked_runs.values():
        assert np.abs(_z(mc, dense)).max() > 10.0


def test_bad_input_to_the_constructors_is_refused():
    op = sm.OrderParameters.random(2, 1, 50, seed=0)
    W, Ws = np.ones((2, 10)), np.ones((1, 10))
    with pytest.raises(InvalidParameterError, match="'mask' parameter of "
                       "MaskedOrderParameters.from_weights"):
        MaskedOrderParameters.from_weights(W, Ws, np.ones((2, 10)))
    with pytest.raises(InvalidParameterError, match="must have shapes"):
        MaskedOrderParameters.from_weights(W, Ws, np.ones((2, 11), bool))
    with pytest.raises(InvalidParameterError, match="'keep' parameter of "
                       "MaskedOrderParameters.random_edge"):
        MaskedOrderParameters.random_edge(op, 0.0)
    with pytest.raises(InvalidParameterError, match="P in \\[0, 1\\]"):
        MaskedOrderParameters.from_coordinates(np.ones((5, 3)), np.full((5, 2), 1.5))
    with pytest.raises(InvalidParameterError, match="'n' parameter of synthetic_coordinates"):
        synthetic_coordinates(op, 2)
    with pytest.raises(InvalidParameterError, match="'op' parameter of synthetic_coordinates"):
        synthetic_coordinates(op.covariance, 100)


def test_sparse_training_refuses_more_units_than_k():
    from statmech.sweep import get_computation

    with pytest.raises(InvalidParameterError, match="'units'.*at most K = 6"):
        get_computation("sparse_training").check_config({"units": 7})
