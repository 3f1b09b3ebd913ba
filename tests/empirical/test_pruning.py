"""empirical.pruning: statmech's methods applied to torch MLPs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.nn.utils import prune as tprune  # noqa: E402

from empirical.models import MLP  # noqa: E402
from empirical.pruning import count_parameters, prune_mlp  # noqa: E402

RNG = np.random.default_rng(0)
MIX = RNG.standard_normal((12, 12)) / 3  # correlated inputs, one distribution
X = RNG.standard_normal((400, 12)) @ MIX
X_HELD = RNG.standard_normal((200, 12)) @ MIX


def _net(seed=0):
    torch.manual_seed(seed)
    return MLP([12, 16, 3], activation="sigmoid").double()


@pytest.mark.parametrize("method", ["random_edge", "magnitude_edge", "dpp_edge"])
def test_edge_masks_keep_exact_counts_and_remove_cleanly(method):
    net = _net()
    pruned, res = prune_mlp(net, method, keep=5, X=X, seed=1)
    lin = pruned[0]
    assert hasattr(lin, "weight_orig") and hasattr(lin, "weight_mask")
    assert torch.all(lin.weight_mask.sum(1) == 5)
    assert count_parameters(pruned) == count_parameters(net) - (12 - 5) * 16 == res.n_params[0] + 0
    x = torch.as_tensor(X_HELD)
    before = pruned(x)
    tprune.remove(lin, "weight")
    assert not hasattr(lin, "weight_orig") and isinstance(lin.weight, torch.nn.Parameter)
    torch.testing.assert_close(pruned(x), before)
    assert net[0].weight.abs().min() > 0  # the original is untouched


def test_removing_units_with_zero_outgoing_weight_leaves_the_function_unchanged():
    net = _net()
    with torch.no_grad():
        net[2].weight[:, [1, 4, 9]] = 0.0
    for fold in ("mean", "bias", "none"):
        pruned, res = prune_mlp(net, "magnitude_node", keep=13, variant="v", X=X, fold=fold)
        assert sorted(set(range(16)) - set(res.kept[0].tolist())) == [1, 4, 9]
        x = torch.as_tensor(X_HELD)
        torch.testing.assert_close(pruned(x), net(x), rtol=1e-12, atol=1e-12)
        assert pruned[0].out_features == 13 and pruned[2].in_features == 13
        assert count_parameters(pruned) == count_parameters(net) - 3 * (12 + 1 + 3)


def test_mean_fold_and_reweighting_lower_the_error_on_held_out_data():
    net = _net(3)
    x = torch.as_tensor(X_HELD)
    ref = net(x).detach()

    def err(**kw):
        pruned, _ = prune_mlp(net, "random_node", keep=6, X=X, seed=5, **kw)
        return float(((pruned(x).detach() - ref) ** 2).mean())

    none, mean, rw = err(fold="none"), err(fold="mean"), err(reweight="activations")
    rw0 = err(reweight="activations", fold="none")  # no intercept, as the reference
    assert mean < none
    assert rw < mean and rw0 < none


@pytest.mark.parametrize("method", ["random_node", "dpp_node", "spectral_node"])
def test_node_methods_shrink_the_layers(method):
    net = _net()
    pruned, res = prune_mlp(net, method, keep=0.5, X=X, seed=2)
    assert pruned[0].weight.shape == (8, 12) and pruned[2].weight.shape == (3, 8)
    assert pruned(torch.as_tensor(X_HELD)).shape == (200, 3)


def test_bad_requests():
    net = _net()
    with pytest.raises(ValueError, match="'fold' parameter"):
        prune_mlp(net, "random_node", keep=2, X=X, fold="sigma")
    with pytest.raises(ValueError, match="'layer' parameter"):
        prune_mlp(net, "random_node", keep=2, X=X, layer=1)
    with pytest.raises(ValueError, match="needs the data X"):
        prune_mlp(net, "random_node", keep=2)
    with pytest.raises(ValueError, match="'method' parameter"):
        prune_mlp(net, "lottery", keep=2, X=X)
    with pytest.raises(ValueError, match="'keep'"):
        prune_mlp(net, "random_edge", keep=13, X=X)


@pytest.mark.parametrize("method", ["random_edge", "magnitude_edge", "dpp_edge", "random_node",
                                    "magnitude_node", "dpp_node", "spectral_node"])
def test_measured_pruned_loss_of_torch_students_agrees_with_theory(method):
    """A teacher–student pair (N = 300, K = 6, M = 2, v* = 4; weights by Haar reconstruction),
    pruned 40 times; the ½·MSE on fresh samples against the noiseless teacher, averaged over
    masks, against statmech's theory (finite-N for edge methods, exact for node methods)."""
    import statmech as sm
    from empirical.models import CommitteeMachine
    from empirical.pruning import measure_loss, prune_committee

    N, K, M = 300, 6, 2
    R = np.zeros((K, M))
    R[np.arange(K), np.arange(K) // 3] = 0.9
    Q = R @ R.T + 0.15 * np.eye(K)
    op = sm.OrderParameters(Q=Q, R=R, T=np.eye(M), v=np.full(K, 4 / 3), v_star=np.full(M, 4.0))
    W, Ws = sm.weights_from_order_parameters(op, N, seed=1)
    student = CommitteeMachine(N, K, W=W, v=op.v)
    teacher = CommitteeMachine(N, M, W=Ws, v=op.v_star, train_second_layer=False)
    op_n = sm.OrderParameters.from_weights(W, Ws, op.v, op.v_star)
    keep = 2 if method.endswith("node") else sm.matched_edges(2, K, N, round_up=True)
    pruned, _ = prune_committee(student, method, keep=keep, n_masks=40, seed=3)
    losses = measure_loss(pruned, teacher, n_samples=4000, seed=4)
    th = sm.prune_theory(op_n, method, keep, weights=None if method.endswith("node") else W,
                         teacher_weights=None if method.endswith("node") else Ws)
    se = losses.std(ddof=1) / np.sqrt(losses.size)
    z = (losses.mean() - th.mean_eg) / se
    from scipy import stats

    # Bonferroni over the 7 methods, family-wise 0.27 %
    assert abs(z) < stats.norm.isf(0.0027 / 7 / 2), (z, losses.mean(), th.mean_eg, se)


def test_edge_reweighting_lowers_the_preactivation_error_on_held_out_data():
    net = _net(4)
    x = torch.as_tensor(X_HELD)
    ref = net[0](x).detach()
    errs = []
    for rw in (None, "preactivations"):
        pruned, res = prune_mlp(net, "random_edge", keep=4, X=X, seed=3, reweight=rw)
        assert torch.all(pruned[0].weight_mask.sum(1) == 4)
        errs.append(float(((pruned[0](x).detach() - ref) ** 2).mean()))
        tprune.remove(pruned[0], "weight")  # still an ordinary module afterwards
    assert errs[1] < errs[0], errs
