"""The pruning-method contract (the numbered lists in the docstrings of ``EdgeMethod`` and
``NodeMethod``): every registered method satisfies it on a small random student, a method defined
only here works through the public functions once registered, and classes that break the
contract are refused when they are defined.

Monte Carlo comparisons (kept-edge and kept-unit frequencies against the claimed inclusion
probabilities) use exact two-sided binomial tests with a family-wise false-alarm rate of 0.27 %
(Bonferroni over the entries of each comparison); an entry claimed certain (probability 0 or 1)
must be matched by every draw.
"""

import numpy as np
import pytest
from scipy import stats

import statmech as sm
from statmech._validation import Integer, InvalidParameterError
from statmech.pruning import PRUNING_METHODS, EdgeMethod, NodeMethod, method_names, register
from statmech.pruning.api import student_layer
from statmech.pruning.base import Layer, PruningMethod, edge_result
from statmech.pruning.node_method import NodeContext, deterministic
from statmech.theory.activations import get_activation
from statmech.theory.generalization import eg_from_order_parameters

FAMILY = 0.0027
K, M, N = 5, 2, 24
E_KEEP = 8  # edges kept per unit
K_KEEP = 3  # units kept
N_MC = 4000  # masks / kept sets drawn for the frequency tests
ERF = get_activation("erf", "activation", "test")

EDGE_CASES = [(n, v) for n in method_names(kind="edge") for v in PRUNING_METHODS[n].variants]
NODE_CASES = [(n, v) for n in method_names(kind="node") for v in PRUNING_METHODS[n].variants]


def _student(seed=0):
    """Student (K × N) and teacher (M × N) coordinates with overlaps, v, and their order
    parameters."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, N)) * rng.uniform(0.5, 1.5, (K, 1))
    Ws = rng.standard_normal((M, N))
    W[:, : N // 3] += 0.5 * Ws[:1, : N // 3]
    v = rng.uniform(0.5, 1.5, K)
    op = sm.OrderParameters(W @ W.T / N, W @ Ws.T / N, Ws @ Ws.T / N, v=v, v_star=np.ones(M))
    return W, Ws, v, op


def _assert_frequencies(counts, p, n):
    """Exact two-sided binomial tests of ``counts`` out of ``n`` against probabilities ``p``."""
    counts = np.asarray(counts, dtype=float).ravel()
    p = np.clip(np.asarray(p, dtype=float).ravel(), 0.0, 1.0)
    assert counts.shape == p.shape
    pval = np.minimum(1.0, 2.0 * np.minimum(stats.binom.cdf(counts, n, p),
                                            stats.binom.sf(counts - 1, n, p)))
    worst = int(np.argmin(pval))
    assert pval.min() > FAMILY / counts.size, (
        f"entry {worst}: {counts[worst]:.0f} of {n} draws, claimed probability {p[worst]:.4g}")


def _assert_psd(A, what):
    np.testing.assert_allclose(A, A.T, rtol=1e-12, atol=1e-12, err_msg=f"{what} not symmetric")
    scale = max(1.0, float(np.abs(A).max()))
    assert np.linalg.eigvalsh(0.5 * (A + A.T)).min() >= -1e-10 * scale, f"{what} not PSD"


# ------------------------------------------------------------------------------------------
# the contract, as checks that any method (registered or not) can be put through


def check_edge_method(m, variant, W, Ws, v, op, e=E_KEEP, seed=0):
    """EdgeMethod contract items 1-5 on one student (module docstring)."""
    assert isinstance(m, EdgeMethod) and not isinstance(m, NodeMethod) and m.kind == "edge"
    for attr in ("name", "label", "color", "marker"):
        assert isinstance(getattr(m, attr), str) and getattr(m, attr)
    Kw, Nw = W.shape
    # item 2: prune (through statmech.prune, which hands over to prune_layer)
    res = sm.prune(m, W, v, keep=e, variant=variant, n_masks=N_MC, seed=seed)
    mask = res.mask
    assert mask.dtype == bool and mask.shape == (N_MC, Kw, Nw)
    assert res.kind == "edge" and res.method == m.name and res.variant == variant
    assert res.kept is None and res.keep == e
    np.testing.assert_array_equal(res.W, np.where(mask, W, 0.0))
    np.testing.assert_array_equal(res.W_out, np.broadcast_to(v, (N_MC, 1, Kw)))
    np.testing.assert_array_equal(res.n_params, mask.sum((1, 2)) + Kw)
    if m.fixed_count(variant):
        assert np.all(mask.sum((1, 2)) == e * Kw)
    # item 3: inclusion probabilities, against the masks that prune draws
    P, P2 = m.inclusion_probabilities(W, e, variant)
    assert P.shape == (Kw, Nw) and P2.shape == (Kw, Kw, Nw)
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P2, np.swapaxes(P2, 0, 1), rtol=0, atol=1e-15)
    off = ~np.eye(Kw, dtype=bool)
    assert np.all(P2[off] <= np.minimum(P[:, None], P[None, :])[off] + 1e-12)
    if m.fixed_count(variant):
        assert P.sum() == pytest.approx(e * Kw, rel=1e-9)
    _assert_frequencies(mask.sum(0), P, N_MC)
    iu, ju = np.triu_indices(Kw, 1)
    both = (mask[:, iu] & mask[:, ju]).sum(0)
    _assert_frequencies(both, P2[iu, ju], N_MC)
    # item 4: the large-N expected pruned order parameters
    Q, R = op.Q, op.R
    for c in (0.3, 0.7):
        Qp, Rp = m.expected_order_parameters(Q, R, c, variant=variant)
        assert Qp.shape == Q.shape and Rp.shape == R.shape
        _assert_psd(Qp, f"E[Q′] of {m.name} at c = {c}")
    Q1, R1 = m.expected_order_parameters(Q, R, 1.0, variant=variant)
    np.testing.assert_allclose(Q1, Q, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(R1, R, rtol=1e-6, atol=1e-12)
    th = sm.prune_theory(op, m, 0.3, variant=variant)
    Qp, Rp = m.expected_order_parameters(Q, R, 0.3, variant=variant)
    np.testing.assert_array_equal(th.Q, Qp)
    np.testing.assert_array_equal(th.R, Rp)
    assert th.mean_eg == th.eg_of_mean == sm.pruned_error(op, m, 0.3, variant=variant)
    # the finite-N theory from the same inclusion probabilities
    thw = sm.prune_theory(op, m, e, variant=variant, weights=W, teacher_weights=Ws)
    _assert_psd(thw.Q, f"finite-N E[Q′] of {m.name}")
    P2d = P2.copy()
    P2d[np.arange(Kw), np.arange(Kw)] = P
    np.testing.assert_allclose(thw.Q, np.einsum("kli,ki,li->kl", P2d, W, W) / Nw, rtol=1e-12)
    np.testing.assert_allclose(thw.R, (P * W) @ Ws.T / Nw, rtol=1e-12)
    assert thw.std_eg >= 0 and np.isfinite(thw.mean_eg)
    return res, th, thw


def _set_probabilities(sets, probs, H):
    """(π_i, π_ij) of an explicit distribution of kept sets."""
    ind = np.zeros((sets.shape[0], H))
    np.put_along_axis(ind, sets, 1.0, axis=1)
    return probs @ ind, np.einsum("s,si,sj->ij", probs, ind, ind)


def check_node_method(m, variant, W, v, op, k=K_KEEP, seed=0):
    """NodeMethod contract items 1-6 on one student (module docstring)."""
    assert isinstance(m, NodeMethod) and not isinstance(m, EdgeMethod) and m.kind == "node"
    for attr in ("name", "label", "color", "marker"):
        assert isinstance(getattr(m, attr), str) and getattr(m, attr)
    H = W.shape[0]
    stats_ = student_layer(W, v)
    ctx = NodeContext.from_layer(Layer.from_arrays(W, v, **stats_))
    # item 2: the exact distribution
    sets, probs = m.exact_distribution(ctx, k, variant)
    assert sets.ndim == 2 and sets.shape[1] == k and np.issubdtype(sets.dtype, np.integer)
    assert sets.shape[0] == probs.shape[0] == m.distribution_size(H, k)
    assert np.all(np.diff(sets, axis=1) > 0) and sets.min() >= 0 and sets.max() < H
    assert np.all(probs >= 0) and probs.sum() == pytest.approx(1.0, rel=1e-12)
    pi1, pi2 = _set_probabilities(sets, probs, H)
    # item 3: samples from it
    drawn = np.sort(m.sample_sets(ctx, k, variant, np.random.default_rng(seed), N_MC), axis=1)
    assert drawn.shape == (N_MC, k) and np.issubdtype(drawn.dtype, np.integer)
    assert np.all(np.diff(drawn, axis=1) > 0) and drawn.min() >= 0 and drawn.max() < H
    index = {tuple(s): i for i, s in enumerate(sets)}
    assert all(tuple(s) in index for s in drawn)
    counts = np.bincount([index[tuple(s)] for s in drawn], minlength=sets.shape[0])
    _assert_frequencies(counts, probs, N_MC)
    # item 4: inclusion probabilities, when the method has them
    inc = m.inclusion(ctx, k, variant)
    if inc is not None:
        np.testing.assert_allclose(inc[0], pi1, atol=1e-10)
        np.testing.assert_allclose(inc[1], pi2, atol=1e-10)
    assert pi1.sum() == pytest.approx(k)
    np.testing.assert_allclose(pi2.sum(1), k * pi1, atol=1e-12)
    # item 5 / the explicit operator (provided by the base)
    res = sm.prune_student(m, W, v, keep=k, variant=variant, n_masks=7, seed=seed)
    assert res.kind == "node" and res.method == m.name and res.keep == k
    assert res.kept.shape == (7, k) and np.all(np.diff(res.kept, axis=1) > 0)
    np.testing.assert_array_equal(res.W, W[res.kept])
    assert res.W_out.shape == (7, 1, k) and res.mask.shape == (7, H, W.shape[1])
    np.testing.assert_array_equal(res.mask, np.broadcast_to(_rows(res.kept, H)[:, :, None],
                                                            res.mask.shape))
    np.testing.assert_array_equal(res.n_params, k * W.shape[1] + k)
    if not m.reconstructs:
        np.testing.assert_array_equal(res.W_out[:, 0], v[res.kept])
    # the theory: expected pruned order parameters π_ij Q_ij, π_i R_im
    th = sm.prune_theory(op, m, k, variant=variant)
    tpi1, tpi2 = th.info["pi1"], th.info["pi2"]
    assert np.all((tpi1 >= -1e-12) & (tpi1 <= 1 + 1e-12)) and tpi1.sum() == pytest.approx(k)
    np.testing.assert_allclose(np.diagonal(tpi2), tpi1, atol=1e-12)
    np.testing.assert_allclose(th.Q, tpi2 * op.Q, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(th.R, tpi1[:, None] * op.R, rtol=1e-12, atol=1e-15)
    _assert_psd(th.Q, f"E[Q′] of {m.name}")
    assert th.exact and th.std_eg >= 0
    assert th.mean_eg == sm.pruned_error(op, m, k, variant=variant)
    return res, th


def _rows(kept, H):
    rows = np.zeros((kept.shape[0], H), dtype=bool)
    np.put_along_axis(rows, kept, True, axis=1)
    return rows


# ------------------------------------------------------------------------------------------
# (a) every registered method


def test_every_registered_method_subclasses_exactly_one_base():
    assert set(method_names(kind="edge")) | set(method_names(kind="node")) == set(PRUNING_METHODS)
    for name, m in PRUNING_METHODS.items():
        assert isinstance(m, EdgeMethod) != isinstance(m, NodeMethod), name
        base = EdgeMethod if isinstance(m, EdgeMethod) else NodeMethod
        assert m.kind == base.kind and "kind" not in vars(type(m)), name
        for hook in base.required_hooks:
            assert getattr(type(m), hook) is not getattr(base, hook), (name, hook)


@pytest.mark.parametrize("method, variant", EDGE_CASES)
def test_edge_method_satisfies_the_contract(method, variant):
    W, Ws, v, op = _student()
    check_edge_method(PRUNING_METHODS[method], variant, W, Ws, v, op)


@pytest.mark.parametrize("method, variant", NODE_CASES)
def test_node_method_satisfies_the_contract(method, variant):
    W, _, v, op = _student()
    check_node_method(PRUNING_METHODS[method], variant, W, v, op)


# ------------------------------------------------------------------------------------------
# (b) methods defined here, registered for one test


class WindowEdge(EdgeMethod):
    """Keep a window of e consecutive inputs (from ``offset``, cyclically), the same for every
    unit. For i.i.d. Gaussian coordinates E[Q′] = cQ and E[R′] = cR (all units share the kept
    inputs, so off-diagonal entries scale by c, not c²)."""

    name = "window_edge_test"
    label = "window edge (test)"
    color = "#123456"
    marker = "*"
    options = {"offset": [Integer(0)]}

    @staticmethod
    def window(D, e, offset=0):
        keep = np.zeros(D, dtype=bool)
        keep[(offset + np.arange(e)) % D] = True
        return keep

    def prune(self, layer, keep, variant, rng, n_masks, offset=0):
        row = self.window(layer.D, keep, offset)
        mask = np.broadcast_to(row, (n_masks, layer.H, layer.D)).copy()
        return edge_result(self, variant, layer, mask, keep)

    def inclusion_probabilities(self, W, e, variant, offset=0):
        P = np.broadcast_to(self.window(W.shape[1], e, offset), W.shape).astype(float)
        return P, P[:, None, :] * P[None, :, :]

    def expected_order_parameters(self, Q, R, c, variant=None, offset=0):
        return c * np.asarray(Q, dtype=float), c * np.asarray(R, dtype=float)


class LeadingNodes(NodeMethod):
    """Keep the k units of lowest index (deterministic)."""

    name = "leading_nodes_test"
    label = "leading nodes (test)"
    color = "#654321"
    marker = "8"

    def exact_distribution(self, ctx, k, variant):
        return deterministic(np.arange(k))

    def sample_sets(self, ctx, k, variant, rng, n):
        return np.broadcast_to(np.arange(k), (n, k)).copy()

    def distribution_size(self, H, k):
        return 1


@pytest.fixture
def registered():
    """``registered(method)`` adds a method to the registry until the end of the test."""
    added = []

    def add(method):
        added.append(register(method).name)
        return method

    yield add
    for name in added:
        PRUNING_METHODS.pop(name, None)


def test_a_new_edge_method_is_one_class(registered):
    m = registered(WindowEdge())
    assert m.kind == "edge" and "window_edge_test" in sm.method_names()
    assert "window_edge_test" in sm.method_names(kind="edge")
    assert "window_edge_test" not in sm.method_names(kind="node") + sm.method_names(gallery=True)
    assert sm.method_names()[-1] == "window_edge_test"  # order 100: after the built-in methods
    W, Ws, v, op = _student(1)
    check_edge_method(m, "default", W, Ws, v, op)
    res = sm.prune("window_edge_test", W, v, keep=5, offset=N - 2, n_masks=2)
    np.testing.assert_array_equal(res.mask[1, 3], WindowEdge.window(N, 5, N - 2))
    assert res.mask[0, 0, [N - 2, N - 1, 0, 1, 2]].all() and res.mask[0].sum() == 5 * K
    with pytest.raises(InvalidParameterError, match="offset"):
        sm.prune("window_edge_test", W, v, keep=5, offset=-1)
    with pytest.raises(InvalidParameterError, match="ofset"):
        sm.prune("window_edge_test", W, v, keep=5, ofset=1)
    # the theory: c Q at large N, the actual window's coordinates at finite N (no spread)
    th = sm.prune_theory(op, "window_edge_test", 0.25)
    np.testing.assert_allclose(th.Q, 0.25 * op.Q)
    eg = float(eg_from_order_parameters(0.25 * op.Q, 0.25 * op.R, op.T, op.v, op.v_star, ERF,
                                        ERF))
    assert sm.pruned_error(op, "window_edge_test", 0.25) == pytest.approx(eg, rel=1e-12)
    thw = sm.prune_theory(op, "window_edge_test", 6, weights=W, teacher_weights=Ws, offset=3)
    Wk = W[:, 3:9]
    np.testing.assert_allclose(thw.Q, Wk @ Wk.T / N, rtol=1e-12)
    np.testing.assert_allclose(thw.R, Wk @ Ws[:, 3:9].T / N, rtol=1e-12)
    assert thw.std_eg == 0.0 and thw.info["jensen_correction"] == 0.0
    pytest.importorskip("torch")
    tres = sm.prune("window_edge_test", W, v, keep=5, n_masks=2, backend="torch")
    np.testing.assert_array_equal(tres.mask.cpu().numpy(), np.broadcast_to(
        WindowEdge.window(N, 5), (2, K, N)))


def test_a_new_node_method_is_one_class(registered):
    m = registered(LeadingNodes())
    assert m.kind == "node" and "leading_nodes_test" in sm.method_names(kind="node")
    W, _, v, op = _student(2)
    check_node_method(m, "default", W, v, op, k=2)
    res = sm.prune("leading_nodes_test", W, v, keep=0.4, n_masks=3)
    np.testing.assert_array_equal(res.kept, [[0, 1]] * 3)
    kept = sm.OrderParameters(op.Q[:2, :2], op.R[:2], op.T, op.v[:2], op.v_star)
    assert sm.pruned_error(op, "leading_nodes_test", 2) == pytest.approx(
        float(sm.generalization_error(kept)), rel=1e-12)
    th = sm.prune_theory(op, "leading_nodes_test", 2, reweight="activations")  # the base's fold
    assert np.isfinite(th.mean_eg) and not np.allclose(th.v[:2], op.v[:2])
    np.testing.assert_array_equal(th.v[2:], 0.0)


def test_registering_the_test_methods_is_undone():
    assert "window_edge_test" not in PRUNING_METHODS
    assert "leading_nodes_test" not in PRUNING_METHODS


# ------------------------------------------------------------------------------------------
# (c) negative controls: broken methods are refused, and the checks above can fail


def _edge_body(**overrides):
    """The class body of a complete edge method, with entries replaced or removed (None)."""
    body = {"name": "broken_test", "label": "broken", "color": "k", "marker": "x",
            "prune": WindowEdge.prune,
            "inclusion_probabilities": WindowEdge.inclusion_probabilities,
            "expected_order_parameters": WindowEdge.expected_order_parameters,
            "window": WindowEdge.__dict__["window"]}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_the_complete_body_defines_a_method():
    cls = type("Complete", (EdgeMethod,), _edge_body())
    assert cls().kind == "edge"


@pytest.mark.parametrize("missing", ["name", "label", "color", "marker"])
def test_a_missing_class_attribute_is_refused(missing):
    with pytest.raises(TypeError, match=f"class attribute\\(s\\) {missing} "):
        type("Broken", (EdgeMethod,), _edge_body(**{missing: None}))
    with pytest.raises(TypeError, match=missing):
        type("Broken", (EdgeMethod,), _edge_body(**{missing: ""}))


@pytest.mark.parametrize("missing", EdgeMethod.required_hooks)
def test_a_missing_edge_hook_is_refused(missing):
    with pytest.raises(TypeError, match=rf"must implement {missing}\(\) \(EdgeMethod contract"):
        type("Broken", (EdgeMethod,), _edge_body(**{missing: None}))


@pytest.mark.parametrize("missing", NodeMethod.required_hooks)
def test_a_missing_node_hook_is_refused(missing):
    body = {"name": "broken_test", "label": "broken", "color": "k", "marker": "x",
            "exact_distribution": LeadingNodes.exact_distribution,
            "sample_sets": LeadingNodes.sample_sets}
    del body[missing]
    with pytest.raises(TypeError, match=rf"must implement {missing}\(\) \(NodeMethod contract"):
        type("Broken", (NodeMethod,), body)


def test_kind_comes_from_the_base_class():
    with pytest.raises(TypeError, match="sets 'kind'.*EdgeMethod"):
        type("Broken", (EdgeMethod,), _edge_body(kind="node"))
    with pytest.raises(TypeError, match="exactly one of EdgeMethod and NodeMethod.*neither"):
        type("Broken", (PruningMethod,), _edge_body())
    with pytest.raises(TypeError, match="exactly one of EdgeMethod and NodeMethod.*EdgeMethod and "
                                        "NodeMethod"):
        type("Broken", (EdgeMethod, NodeMethod), _edge_body())
    with pytest.raises(TypeError, match="declare a kind"):
        class Third(PruningMethod, kind="layer"):
            pass


@pytest.mark.parametrize("attr, value", [("variants", ()), ("variants", ["default"]),
                                         ("variants", ("a", "a")), ("options", {"d": None}),
                                         ("in_gallery", 1), ("order", True)])
def test_malformed_optional_attributes_are_refused(attr, value):
    with pytest.raises(TypeError, match=attr):
        type("Broken", (EdgeMethod,), _edge_body(**{attr: value}))


def test_abstract_classes_cannot_be_instantiated():
    for cls in (PruningMethod, EdgeMethod, NodeMethod):
        with pytest.raises(TypeError, match="abstract"):
            cls()

    class Intermediate(EdgeMethod, abstract=True):  # no name yet: not checked
        def expected_order_parameters(self, Q, R, c, variant=None):
            return Q, R

    with pytest.raises(TypeError, match="abstract"):
        Intermediate()
    body = _edge_body()
    del body["expected_order_parameters"]
    assert type("Concrete", (Intermediate,), body)().name == "broken_test"


def test_register_refuses_non_methods_and_name_clashes():
    with pytest.raises(TypeError, match="register needs an instance"):
        register(WindowEdge)
    clash = type("Clash", (EdgeMethod,), _edge_body(name="random_edge"))
    before = PRUNING_METHODS["random_edge"]
    with pytest.raises(ValueError, match="'random_edge' is registered already"):
        register(clash())
    assert PRUNING_METHODS["random_edge"] is before
    try:
        assert register(type(before)()) is PRUNING_METHODS["random_edge"]  # the same class again
    finally:
        PRUNING_METHODS["random_edge"] = before


class WrongProbabilities(WindowEdge):
    """Claims uniform inclusion probabilities e/N while its masks are one fixed window."""

    name = "wrong_probabilities_test"

    def inclusion_probabilities(self, W, e, variant, offset=0):
        c = e / W.shape[1]
        return np.full(W.shape, c), np.full((W.shape[0],) + W.shape, c * c)


class NotPSD(WindowEdge):
    """Claims an indefinite E[Q′]."""

    name = "not_psd_test"

    def expected_order_parameters(self, Q, R, c, variant=None, offset=0):
        return c * Q - np.diag(np.diagonal(Q)), c * R


class WrongSets(LeadingNodes):
    """Samples sets that its exact distribution gives probability zero."""

    name = "wrong_sets_test"

    def sample_sets(self, ctx, k, variant, rng, n):
        return np.broadcast_to(np.arange(1, k + 1), (n, k)).copy()


@pytest.mark.parametrize("cls, match", [(WrongProbabilities, "claimed probability"),
                                        (NotPSD, "not PSD")])
def test_the_edge_checks_catch_a_broken_method(cls, match):
    W, Ws, v, op = _student()
    with pytest.raises(AssertionError, match=match):
        check_edge_method(cls(), "default", W, Ws, v, op)


def test_the_node_checks_catch_a_broken_method():
    W, _, v, op = _student()
    with pytest.raises(AssertionError):
        check_node_method(WrongSets(), "default", W, v, op)


def test_the_frequency_test_rejects_a_wrong_probability():
    rng = np.random.default_rng(3)
    draws = rng.random((N_MC, 10)) < 0.3
    _assert_frequencies(draws.sum(0), np.full(10, 0.3), N_MC)
    with pytest.raises(AssertionError):
        _assert_frequencies(draws.sum(0), np.full(10, 0.33), N_MC)
