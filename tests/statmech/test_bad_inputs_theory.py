"""Bad inputs to the theory, pruning and companion APIs (validation as one mechanism).

Each case must raise :class:`statmech.InvalidParameterError` (a ValueError and a TypeError) whose
message names the parameter, before any work: never return, never a library traceback, never a
silent coercion (2.7 is not an int, True is not an N, -1 is not a seed).
"""

from __future__ import annotations

import numpy as np
import pytest

import statmech as sm
from statmech.companion import mbp, pruning_gaps, sketching, spectral

OP = sm.OrderParameters.random(3, 2, 500, seed=0)
OP1 = sm.OrderParameters(Q=np.eye(2), R=np.eye(2), T=np.eye(2))
RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 40))
V = np.ones(3)
COV = np.eye(4) + 0.1

# (label, callable, parameter name that the message must contain)
CASES = [
    # OrderParameters
    ("Q nan", lambda: sm.OrderParameters(Q=[[np.nan]], R=[[1.0]], T=[[1.0]]), "Q"),
    ("Q not square", lambda: sm.OrderParameters(Q=np.ones((2, 3)), R=np.ones((2, 1)),
                                                T=[[1.0]]), "Q"),
    ("Q asymmetric", lambda: sm.OrderParameters(Q=[[1, 0.5], [0, 1]], R=np.ones((2, 1)),
                                                T=[[1.0]]), "Q"),
    ("Q string", lambda: sm.OrderParameters(Q="eye", R=[[1.0]], T=[[1.0]]), "Q"),
    ("R shape", lambda: sm.OrderParameters(Q=np.eye(2), R=np.ones((3, 1)), T=[[1.0]]), "R"),
    ("T inf", lambda: sm.OrderParameters(Q=np.eye(1), R=[[0.0]], T=[[np.inf]]), "T"),
    ("v shape", lambda: sm.OrderParameters(Q=np.eye(2), R=np.ones((2, 1)), T=[[2.0]],
                                           v=[1.0, 2.0, 3.0]), "v"),
    ("v_star shape", lambda: sm.OrderParameters(Q=np.eye(2), R=np.zeros((2, 1)), T=[[1.0]],
                                                v_star=[1.0, 1.0]), "v_star"),
    ("Q not PSD", lambda: sm.OrderParameters(Q=[[1, 2], [2, 1]], R=np.zeros((2, 1)),
                                             T=[[1.0]]), "Q"),
    ("replace unknown", lambda: OP.replace(S=1), "S"),
    ("random K float", lambda: sm.OrderParameters.random(2.7, 2, 100), "K"),
    ("random K bool", lambda: sm.OrderParameters.random(True, 2, 100), "K"),
    ("random M 0", lambda: sm.OrderParameters.random(2, 0, 100), "M"),
    ("random N -5", lambda: sm.OrderParameters.random(2, 2, -5), "N"),
    ("random N 500.7", lambda: sm.OrderParameters.random(2, 2, 500.7), "N"),
    ("random seed -1", lambda: sm.OrderParameters.random(2, 2, 10, seed=-1), "seed"),
    ("random seed str", lambda: sm.OrderParameters.random(2, 2, 10, seed="a"), "seed"),
    ("random size float", lambda: sm.OrderParameters.random(2, 2, 10, size=2.5), "size"),
    ("random size neg", lambda: sm.OrderParameters.random(2, 2, 10, size=(-1,)), "size"),
    ("random init_scale 0", lambda: sm.OrderParameters.random(2, 2, 10, init_scale=0), "init"),
    ("random teacher_scale nan",
     lambda: sm.OrderParameters.random(2, 2, 10, teacher_scale=np.nan), "teacher_scale"),
    ("random init_scale bool",
     lambda: sm.OrderParameters.random(2, 2, 10, init_scale=True), "init_scale"),
    # generalisation error
    ("eg op", lambda: sm.generalization_error({"Q": 1}), "op"),
    ("eg activation", lambda: sm.generalization_error(OP, "tanh"), "activation"),
    ("eg activation pair", lambda: sm.generalization_error(OP, ("erf", "sigmoid")),
     "activation"),
    ("eg activation int", lambda: sm.generalization_error(OP, 3), "activation"),
    ("test_loss noise", lambda: sm.test_loss(OP, -0.1), "noise"),
    ("test_loss noise str", lambda: sm.test_loss(OP, "0.1"), "noise"),
    ("get_activation", lambda: sm.get_activation("softplus"), "activation"),
    # fixed points
    ("plateau K 1", lambda: sm.symmetric_plateau(1, eta=0.5), "K"),
    ("plateau K float", lambda: sm.symmetric_plateau(2.0, eta=0.5), "K"),
    ("plateau eta 0", lambda: sm.symmetric_plateau(2, eta=0.0), "eta"),
    ("plateau eta inf", lambda: sm.plateau_height(2, eta=np.inf), "eta"),
    ("plateau noise", lambda: sm.symmetric_plateau(2, eta=0.5, noise=-1), "noise"),
    ("plateau batch bool", lambda: sm.symmetric_plateau(2, eta=0.5, batch_size=True),
     "batch_size"),
    ("plateau tol", lambda: sm.symmetric_plateau(2, eta=0.5, tol=-1.0), "tol"),
    ("plateau activation", lambda: sm.plateau_height(2, eta=0.5, activation="tanh"),
     "activation"),
    ("eta_c K 0", lambda: sm.critical_learning_rate(0), "K"),
    ("eta_c batch 2.5", lambda: sm.critical_learning_rate(2, batch_size=2.5), "batch_size"),
    ("eta_opt K", lambda: sm.optimal_learning_rate(1.5), "K"),
    ("escape trajectory", lambda: sm.escape_time(np.ones(3)), "trajectory"),
    # pruning: explicit
    ("prune method", lambda: sm.prune("foo", W, V, keep=10), "method"),
    ("prune method int", lambda: sm.prune(3, W, V, keep=10), "method"),
    ("prune keep 0", lambda: sm.prune("random_edge", W, V, keep=0), "keep"),
    ("prune keep bool", lambda: sm.prune("random_edge", W, V, keep=True), "keep"),
    ("prune keep > D", lambda: sm.prune("random_edge", W, V, keep=41), "keep"),
    ("prune keep frac > 1", lambda: sm.prune("random_node", W, V, keep=1.5), "keep"),
    ("prune keep nan", lambda: sm.prune("random_node", W, V, keep=np.nan), "keep"),
    ("prune keep str", lambda: sm.prune("random_node", W, V, keep="2"), "keep"),
    ("prune variant", lambda: sm.prune("random_edge", W, V, keep=5, variant="foo"), "variant"),
    ("prune n_masks 0", lambda: sm.prune("random_edge", W, V, keep=5, n_masks=0), "n_masks"),
    ("prune n_masks float", lambda: sm.prune("random_edge", W, V, keep=5, n_masks=2.0),
     "n_masks"),
    ("prune seed -1", lambda: sm.prune("random_edge", W, V, keep=5, seed=-1), "seed"),
    ("prune seed float", lambda: sm.prune("random_edge", W, V, keep=5, seed=1.5), "seed"),
    ("prune W nan", lambda: sm.prune("random_edge", np.full((2, 3), np.nan), [1, 1], keep=1),
     "W"),
    ("prune W 1-D", lambda: sm.prune("random_edge", np.ones(3), [1, 1, 1], keep=1), "W"),
    ("prune W_out shape", lambda: sm.prune("random_edge", W, np.ones(4), keep=5), "W_out"),
    ("prune bias shape", lambda: sm.prune("random_node", W, V, keep=2, bias=np.ones(2)), "bias"),
    ("prune input_cov shape",
     lambda: sm.prune("dpp_edge", W, V, keep=5, input_cov=np.eye(3)), "input_cov"),
    ("prune reweight", lambda: sm.prune("random_node", W, V, keep=2, reweight="yes"),
     "reweight"),
    ("prune reweight edge",
     lambda: sm.prune("random_edge", W, V, keep=5, reweight="activations"), "reweight"),
    ("prune misspelt option",
     lambda: sm.prune("dpp_node", W, V, keep=2, kernal="rbf"), "kernal"),
    ("prune option on wrong method",
     lambda: sm.prune("random_edge", W, V, keep=5, kernel="rbf"), "kernel"),
    ("prune kernel", lambda: sm.prune("dpp_node", W, V, keep=2, kernel="poly"), "kernel"),
    ("prune beta bool", lambda: sm.prune("dpp_node", W, V, keep=2, kernel="rbf", beta=True),
     "beta"),
    ("prune jitter neg", lambda: sm.prune("dpp_node", W, V, keep=2, jitter=-1.0), "jitter"),
    ("prune tau", lambda: sm.prune("spectral_node", W, V, keep=2, tau="flat"), "tau"),
    ("prune theta", lambda: sm.prune("spectral_node", W, V, keep=2, theta=-1.0), "theta"),
    ("prune mbp d", lambda: sm.prune("mbp_edge", W, V, keep=5, d=-2.0), "d"),
    ("prune mbp keep_diagonal", lambda: sm.prune("mbp_edge", W, V, keep=5, keep_diagonal=1),
     "keep_diagonal"),
    # pruning: theory
    ("theory op", lambda: sm.prune_theory(np.eye(3), "random_node", 1), "op"),
    ("theory batched op",
     lambda: sm.prune_theory(sm.OrderParameters.random(2, 2, 10, size=2, seed=0),
                             "random_node", 1), "op"),
    ("theory method", lambda: sm.prune_theory(OP, "foo_edge", 0.5), "method"),
    ("theory keep > K", lambda: sm.prune_theory(OP, "random_node", 4), "keep"),
    ("theory keep int without N", lambda: sm.prune_theory(OP, "random_edge", 100), "N"),
    ("theory N float", lambda: sm.prune_theory(OP, "random_edge", 100, N=500.7), "N"),
    ("theory N bool", lambda: sm.prune_theory(OP, "random_edge", 1, N=True), "N"),
    ("theory N neg", lambda: sm.prune_theory(OP, "random_edge", 100, N=-5), "N"),
    ("pruned_error N float", lambda: sm.pruned_error(OP, "dpp_edge", 100, N=500.7), "N"),
    ("pruned_error N bool", lambda: sm.pruned_error(OP, "dpp_edge", 1, N=True), "N"),
    ("pruned_error N neg", lambda: sm.pruned_error(OP, "dpp_edge", 100, N=-5), "N"),
    ("pruned_error keep neg", lambda: sm.pruned_error(OP, "random_edge", -0.5), "keep"),
    ("pruned_error misspelt option",
     lambda: sm.pruned_error(OP, "dpp_node", 2, kernal="rbf"), "kernal"),
    ("theory seed -1", lambda: sm.prune_theory(OP, "random_node", 2, seed=-1), "seed"),
    ("theory n_samples 0", lambda: sm.prune_theory(OP, "random_node", 2, n_samples=0),
     "n_samples"),
    ("theory weights nan",
     lambda: sm.prune_theory(OP, "random_edge", 0.5, weights=np.full((3, 10), np.nan)),
     "weights"),
    ("theory weights K", lambda: sm.prune_theory(OP, "random_edge", 0.5, weights=np.ones((2, 10)),
                                                 teacher_weights=np.ones((2, 10))), "weights"),
    ("theory reweight edge",
     lambda: sm.prune_theory(OP, "random_edge", 0.5, reweight="activations"), "reweight"),
    ("theory activation", lambda: sm.prune_theory(OP, "random_node", 2, activation="tanh"),
     "activation"),
    ("matched_edges k > K", lambda: sm.matched_edges(3, 2, 100), "k"),
    ("matched_edges N float", lambda: sm.matched_edges(1, 2, 100.5), "N"),
    ("matched_edges round_up", lambda: sm.matched_edges(1, 2, 100, round_up="yes"), "round_up"),
    ("match_parameters C 0", lambda: sm.match_parameters(1, 2, 10, C=0), "C"),
    ("match_parameters bias", lambda: sm.match_parameters(1, 2, 10, bias=1), "bias"),
    ("weights_from_op N", lambda: sm.weights_from_order_parameters(OP, 4), "N"),
    ("weights_from_op seed", lambda: sm.weights_from_order_parameters(OP, 100, seed=-3), "seed"),
    ("weights_from_op op", lambda: sm.weights_from_order_parameters("op", 100), "op"),
    # companion papers
    ("mbp d_for_fraction", lambda: mbp.d_for_fraction(1.5), "c"),
    ("mbp keep_probability d", lambda: mbp.keep_probability(W, -1.0), "d"),
    ("mbp kept_fraction", lambda: mbp.kept_fraction(np.nan), "d"),
    ("sketch_size j", lambda: sketching.sketch_size(0, 10), "j"),
    ("spectral dof lam", lambda: spectral.degrees_of_freedom(COV, -1.0), "lam"),
    ("spectral lambda_for_width", lambda: spectral.lambda_for_width(COV, 0.0), "width"),
    ("spectral leverage lam", lambda: spectral.leverage_scores(COV, -1.0), "lam"),
    ("prune rbf without act_cov", lambda: sm.prune("dpp_node", W, V, keep=2, kernel="rbf"),
     "act_cov"),
    ("gaps prune_random r", lambda: pruning_gaps.prune_random([W], 1.0), "r"),
    ("gaps layer_gap method", lambda: pruning_gaps.layer_gap("foo", 0.5), "method"),
    ("gaps p_no_match eps", lambda: pruning_gaps.p_no_match(-1.0, 0.5, 3), "eps"),
    ("gaps matching_width delta", lambda: pruning_gaps.matching_width(10, 0.1, 0.5, 1.5),
     "delta"),
]


@pytest.mark.parametrize("label,call,param", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_parameter(label, call, param) -> None:
    with pytest.raises(sm.InvalidParameterError) as info:
        call()
    assert param in str(info.value), str(info.value)


def test_the_table_is_large_and_labels_unique() -> None:
    labels = [c[0] for c in CASES]
    assert len(labels) == len(set(labels))
    assert len(CASES) >= 100


def test_invalid_parameter_error_is_value_and_type_error() -> None:
    err = sm.InvalidParameterError.build("f", "x", "an int >= 1", 2.5)
    assert isinstance(err, ValueError) and isinstance(err, TypeError)
    assert (err.func, err.param, err.allowed, err.value) == ("f", "x", "an int >= 1", "2.5")
    assert str(err) == "The 'x' parameter of f must be an int >= 1. Got 2.5 instead."


def test_good_inputs_still_work() -> None:
    """Negative control: the same calls with valid values return."""
    assert sm.pruned_error(OP, "dpp_edge", 100, N=500) > 0
    assert sm.prune_student("dpp_node", W, V, keep=2, kernel="rbf", beta=1.0, seed=0).n_masks == 1
    assert sm.OrderParameters.random(2, 2, 10, seed=np.int64(3), size=(2,)).batch_shape == (2,)
    assert sm.matched_edges(np.int64(1), 2, 100) == pytest.approx(49.5)
