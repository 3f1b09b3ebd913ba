"""Companion paper A's bound on torch MLPs (``empirical.bounds``;
``docs/companion_papers.md`` §1.5–1.7): margins, MBP of every layer, the required margin against
the true pruning error, the parameter term, the baselines (true (2,1) norm), the choice of d, and
iterative magnitude pruning."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from empirical import bounds as B  # noqa: E402
from empirical.data import load_digits  # noqa: E402
from empirical.fit import train_classifier  # noqa: E402
from empirical.models import MLP  # noqa: E402
from statmech.companion import kept_fraction  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """On a few shared cores torch's and OpenBLAS's threads fight (a 128 × 128 SVD went from
    2 ms to 300 ms): run this module single-threaded."""
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="module")
def trained(single_thread, digits):
    net = MLP([64, 128, 128, 10], activation="relu", seed=0)
    hist = train_classifier(net, digits, epochs=30, batch_size=128, seed=0, device="cpu",
                            progress=False)
    assert hist["train_error"][-1] == 0.0
    return net


def test_margins_and_margin_loss_by_hand(trained, digits):
    X, y = digits.X_train[:50], digits.y_train[:50]
    with torch.no_grad():
        out = trained(torch.as_tensor(X)).double().numpy()
    expected = np.array([out[i, y[i]] - np.max(np.delete(out[i], y[i])) for i in range(50)])
    m = B.margins(trained, X, y)
    np.testing.assert_allclose(m, expected, rtol=1e-12)
    # the code's strict rule: no point has a margin below the minimum margin
    assert B.margin_loss(trained, X, y, float(m.min())) == 0.0
    assert B.margin_loss(trained, X, y, float(m.min()) + 1e-6) == pytest.approx(1 / 50)
    assert B.margin_loss(trained, X, y, float(m.max()) + 1) == 1.0


def test_mbp_prune_mlp_masks_weights_only(trained):
    pruned = B.mbp_prune_mlp(trained, 1.0, seed=3)
    total = kept = 0
    for a, b in zip(B._linears(trained), B._linears(pruned), strict=True):
        Wa, Wb = a.weight.detach(), b.weight.detach()
        assert torch.all((Wb == 0) | (Wb == Wa))
        assert torch.equal(a.bias, b.bias)
        total += Wa.numel()
        kept += int((Wb != 0).sum())
    # trained weights are close enough to Gaussian for κ(d) to predict the density (§1.8)
    assert kept / total == pytest.approx(kept_fraction(1.0), abs=0.06)
    # common random numbers: a larger d prunes a subset-complement of a smaller d's kept set
    p2 = B.mbp_prune_mlp(trained, 2.0, seed=3)
    for a, b in zip(B._linears(pruned), B._linears(p2), strict=True):
        assert torch.all((b.weight == 0) | (a.weight != 0))
    # the original is untouched
    assert all(int((lin.weight == 0).sum()) == 0 for lin in B._linears(trained))


def test_required_margin_bounds_the_true_pruning_error(trained, digits):
    X, y = digits.X_train, digits.y_train
    for d in (0.1, 1.0, 2.0, 10.0):
        gb = B.generalization_bound(trained, X, y, d, seed=1, X_test=digits.X_test,
                                    y_test=digits.y_test)
        pruned = B.mbp_prune_mlp(trained, d, seed=1)
        true_err = B.pruning_error(trained, pruned, X, y)
        assert gb["pruning_error"] == pytest.approx(true_err)
        assert gb["gamma_req"] == pytest.approx(B.required_margin(trained, d, X, seed=1))
        assert gb["gamma_req"] >= true_err > 0
        assert gb["bound"] >= gb["pruned_test_error"]
        assert gb["sqrt_q_over_m"] == pytest.approx(math.sqrt(B.parameter_term(trained, d)
                                                              / len(y)))
        for name in ("neyshabur2015", "bartlett2017", "neyshabur2017"):
            assert np.isfinite(gb[name]) and gb[name] > 0
            assert gb[name] == pytest.approx(math.sqrt(gb[name + "_capacity"] / len(y)))
        assert gb["density"] == pytest.approx(kept_fraction(d), abs=0.06)


def test_parameter_term_and_dimension_factor_by_hand(trained):
    d = 2.0
    k = kept_fraction(d)
    lg = math.log
    expected = k * (64 * 128 * lg(128) ** 2 + 128 * 128 * lg(128) ** 2 + 128 * 10 * lg(128) ** 2)
    assert B.parameter_term(trained, d) == pytest.approx(expected, rel=1e-12)
    m = 1348
    t = math.sqrt(math.log(100 * m) / 256)
    assert B.dimension_factor(256, 10, m) == pytest.approx(t * math.sqrt(10), rel=1e-9)
    assert B.dimension_factor(10, 256, m) == 1.0
    assert B.dimension_factor(256, 256, m) == 1.0
    assert B.dimension_factor(300, 299, m) == 1.0  # t √n_out > 1 is capped


def test_dimension_factor_with_the_codes_bisection_tolerance():
    """xtol=0.01 on [0, 1] is the authors' bisection (scripts/companion_mbp.py uses it); the
    default is the exact root."""
    from scipy.optimize import bisect

    m = 48000
    t_code = bisect(lambda t: 1 - m * math.exp(-t * t * 784) - 0.99, 0, 1, xtol=0.01)
    t_exact = math.sqrt(math.log(100 * m) / 784)
    assert B.dimension_factor(784, 10, m, xtol=0.01) == t_code * math.sqrt(10)
    assert B.dimension_factor(784, 10, m) == pytest.approx(t_exact * math.sqrt(10), rel=1e-9)
    assert abs(t_code - t_exact) <= 0.01 and abs(t_code - t_exact) > 1e-4
    assert B.dimension_factor(784, 784, m, xtol=0.01) == 1.0


def test_required_margin_terms_scale_with_a_given_max_input_norm(trained, digits):
    layers = B._Layers(trained, 100, 2.0)
    Wp = B._weights(B.mbp_prune_mlp(trained, 1.0, seed=0))
    base = layers.terms(Wp)
    other = layers.terms(Wp, max_input_norm=5.0)
    assert other["gamma_req"] == pytest.approx(2.5 * base["gamma_req"], rel=1e-12)
    assert other["max_input_norm"] == 5.0 and base["max_input_norm"] == 2.0


def test_norm_21_is_not_frobenius_and_baselines_by_hand():
    W = np.array([[3.0, 4.0], [0.0, 5.0], [1.0, 0.0]])
    assert B.norm_21(W) == pytest.approx(5 + 5 + 1)
    fro = np.linalg.norm(W)
    # negative control: the authors' lpq_norm(W, 1, 2) is the Frobenius norm, not (2,1)
    code = np.power(np.sum(np.power(np.linalg.norm(np.abs(W), axis=0), 2.0)), 0.5)
    assert code == pytest.approx(fro)
    assert abs(B.norm_21(W) - fro) > 3
    net = MLP([2, 3, 2], bias=False, seed=0)
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(W, dtype=torch.float32))
        net[2].weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]))
    W2 = net[2].weight.detach().double().numpy()
    s1, s2 = np.linalg.norm(W, 2), np.linalg.norm(W2, 2)
    f1, f2 = np.linalg.norm(W), np.linalg.norm(W2)
    g = 0.5
    caps = B.baseline_capacities(net, g)
    assert caps["neyshabur2015"] == pytest.approx(f1**2 * f2**2 / g**2, rel=1e-6)
    bart = s1**2 * s2**2 * (B.norm_21(W) ** 2 / s1**2 + B.norm_21(W2) ** 2 / s2**2) / g**2
    assert caps["bartlett2017"] == pytest.approx(bart, rel=1e-6)
    ney = s1**2 * s2**2 * (2 * f1**2 / s1**2 + 3 * f2**2 / s2**2) / g**2
    assert caps["neyshabur2017"] == pytest.approx(ney, rel=1e-6)


def test_choose_d_hits_the_minimum_margin(trained, digits):
    X, y = digits.X_train, digits.y_train
    out = B.choose_d(trained, X, y, seed=0, lo=1e-7, hi=10.0)
    assert out["bracketed"]
    assert out["min_margin"] == pytest.approx(B.margins(trained, X, y).min())
    assert out["gamma_req"] == pytest.approx(out["min_margin"], rel=0.1)
    gb = B.generalization_bound(trained, X, y, out["d"], seed=0)
    assert gb["margin_loss"] <= 2 / len(y)
    # with the default range the bound is not margin-free (§1.5 "known weaknesses")
    default = B.choose_d(trained, X, y, seed=0)
    assert not default["bracketed"] and default["d"] == 1e-3
    assert default["gamma_req"] > default["min_margin"]


def test_iterative_magnitude_pruning_rewinds_and_shrinks(single_thread, digits):
    res = B.iterative_magnitude_pruning(lambda: MLP([64, 32, 10], seed=1), digits, rounds=2,
                                        fraction=0.5, epochs=5, seed=0, lr=3e-3,
                                        device="cpu")
    assert res["round"] == [0, 1, 2]
    np.testing.assert_allclose(res["density"], [1.0, 0.5, 0.25], atol=2e-3)
    assert all(0 <= e < 0.3 for e in res["test_error"])
    init = B._weights(res["init"])
    for r in (1, 2):
        masks = res["masks"][r]
        for w0, wr, mk in zip(init, res["rewound"][r], masks, strict=True):
            mk = mk.numpy()
            np.testing.assert_array_equal(wr[mk], w0[mk])
            assert np.all(wr[~mk] == 0)
        # masks are nested: pruned weights stay pruned
        for a, b in zip(res["masks"][r - 1], masks, strict=True):
            assert torch.all(a | ~b)
    # the final network carries its mask
    assert all(hasattr(lin, "weight_mask") for lin in B._linears(res["model"]))


@pytest.mark.parametrize("call, match", [
    (lambda net, X, y: B.mbp_prune_mlp(net, -1.0), r"'d' parameter of mbp_prune_mlp .* >= 0"),
    (lambda net, X, y: B.required_margin(net, float("inf"), X), r"'d' parameter"),
    (lambda net, X, y: B.dimension_factor(10, 5, 0), r"'m' parameter .* int >= 1"),
    (lambda net, X, y: B.dimension_factor(10, 5, 3, xtol=0.0), r"'xtol' parameter .* > 0"),
    (lambda net, X, y: B.choose_d(net, X, y, lo=2.0, hi=1.0), r"0 < lo < hi"),
    (lambda net, X, y: B.margin_loss(net, X, y, float("nan")), r"'gamma' parameter"),
    (lambda net, X, y: B.margins(net, X, y[:-1]), r"'y' parameter of margins .* shape"),
    (lambda net, X, y: B.baseline_capacities(net, 0.0), r"'gamma' .* > 0"),
    (lambda net, X, y: B.iterative_magnitude_pruning(lambda: net, None, fraction=1.5),
     r"'fraction' parameter .* \(0, 1\)"),
    (lambda net, X, y: B.magnitude_prune_step(net, [], 0.0), r"'fraction'"),
])
def test_bad_parameters_are_clear_errors(call, match):
    net = MLP([4, 3, 2], seed=0)
    X = np.zeros((5, 4), dtype=np.float32)
    y = np.zeros(5, dtype=np.int64)
    with pytest.raises(ValueError, match=match):
        call(net, X, y)


def test_digits_unit_interval():
    from empirical.bounds import digits_unit_interval

    d = digits_unit_interval(seed=1)
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1 and d.X_test.max() <= 1
    assert len(d.y_test) == round(0.3 * 1797) and d.meta["scale"] == "[0, 1]"
