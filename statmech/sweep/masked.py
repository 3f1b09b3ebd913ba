"""Sweep computations of masked students: retraining after pruning and sparse training.

=====================  ================================================================
``retrained_error``    the pruning theory of an ODE-trained student (as ``pruned_error``)
                       followed by retraining for α′ (``statmech.retrain_theory``): ε_g
                       right after pruning and after each α′, every method and matched level
``sparse_training``    a student trained from initialisation with fixed random or magnitude
                       masks keeping a fraction of its inputs, or a dense student with the
                       same number of first-layer weights (fewer units): ε_g(α) from the
                       masked ODE (``docs/masked_theory.md``)
=====================  ================================================================
"""

from __future__ import annotations

import numpy as np

from .._validation import Integer, InvalidParameterError, Options, Real
from ..pruning import PRUNING_METHODS, method_names, retrain_theory
from ..theory.masked import MaskedOrderParameters
from ..theory.model import MODEL_DEFAULTS, SGDModel
from ..theory.ode import integrate
from ..theory.order_parameters import OrderParameters
from .builtin import _LEVELS, _METHODS, _POS_INT, _POS_REAL, _REPLICATE, _final_op, _frame
from .builtin import _levels_at_most_K as _levels_check
from .registry import ListOf, register_computation

#: Student structures of ``sparse_training``: dense (fewer units) or masked at initialisation.
STRUCTURES = ("dense", "random_edge", "magnitude_edge")


@register_computation("retrained_error", defaults={
    "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 1600.0,
    "noise": MODEL_DEFAULTS["noise"], "N": 500, "levels": None,
    "methods": list(method_names(gallery=True)), "alpha_retrain": [1.0, 10.0, 100.0],
    "n_coordinates": 100_000, "replicate": 0}, constraints={
    "K": _POS_INT, "M": _POS_INT, "v_star": [Real()], "eta": _POS_REAL, "alpha": _POS_REAL,
    "noise": [Real(0.0)], "N": _POS_INT, "levels": _LEVELS, "methods": _METHODS,
    "alpha_retrain": [ListOf((Real(0.0, closed="neither"),), 1)],
    "n_coordinates": [Integer(1000)], "replicate": _REPLICATE}, cross_check=_levels_check)
def retrained_error_point(config: dict, seed: int):
    """Pruning theory then retraining theory of an ODE-trained student (module docstring).

    The student is ``pruned_error``'s (the ODE from Gaussian initial weights, trained v, to
    ``alpha``); it is pruned to each level (units kept; edge methods keep the matched number
    of weights) and retrained with the training settings (η, σ, trained v) for each α′ of
    ``alpha_retrain``. One row per (method, level, α′), α′ = 0 included; ``eg_unpruned`` is
    the unpruned student trained on for the same α′.
    """
    K, M, N = int(config["K"]), int(config["M"]), int(config["N"])
    op = _final_op(K, M, config, seed)
    model = SGDModel(eta=float(config["eta"]), noise=float(config["noise"]),
                     train_second_layer=True)
    alpha = np.concatenate([[0.0], np.sort(np.asarray(config["alpha_retrain"], dtype=float))])
    # the unpruned student trained on for the same α′: the baseline of each retraining time
    unpruned = dict(zip(alpha, np.asarray(integrate(op, alpha=alpha, model=model).eg),
                        strict=True))
    import pandas as pd

    rows = []
    for method in config["methods"]:
        m = PRUNING_METHODS[method]
        for k in config["levels"] or list(range(1, K)):
            keep = m.matched_keep(k, K, N)
            r = retrain_theory(op, method, keep, N=N, alpha=alpha, model=model,
                               n_coordinates=int(config["n_coordinates"]),
                               seed=seed % (2**63))
            rows += [{"method": method, "level": k, "keep": keep, "alpha_retrain": float(a),
                      "eg": float(eg), "std_eg": float(sd), "eg_unpruned": unpruned[a]}
                     for a, eg, sd in zip(r.alpha, r.eg, r.std_eg, strict=True)]
    return pd.DataFrame(rows)


def _units_at_most_K(config: dict, func: str) -> None:
    """Cross check: the dense student's units (the sparse students' share) are at most K."""
    if config["units"] > config["K"]:
        raise InvalidParameterError.build(func, "units", f"at most K = {config['K']}",
                                          config["units"])


@register_computation("sparse_training", defaults={
    "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "noise": MODEL_DEFAULTS["noise"],
    "alpha_max": 1600.0, "n_alpha": 60, "init_N": 1000, "units": 2, "structure": "dense",
    "n_coordinates": 100_000, "replicate": 0}, constraints={
    "K": _POS_INT, "M": _POS_INT, "v_star": [Real()], "eta": _POS_REAL, "noise": [Real(0.0)],
    "alpha_max": _POS_REAL, "n_alpha": [Integer(2)], "init_N": _POS_INT, "units": _POS_INT,
    "structure": [Options(STRUCTURES)], "n_coordinates": [Integer(1000)],
    "replicate": _REPLICATE}, cross_check=_units_at_most_K)
def sparse_training_point(config: dict, seed: int):
    """ε_g(α) of a student trained from initialisation with ``units``·N first-layer weights.

    ``structure="dense"``: ``units`` fully connected units. Otherwise K units each keeping the
    fraction units/K of its inputs, masked at initialisation by random edge or magnitude edge
    pruning of the Gaussian initial weights (large-N cells, ``docs/masked_theory.md`` §3) and
    held fixed. Initial weights Gaussian at size ``init_N`` (the same draw for every structure:
    the dense student is its first ``units`` units), v ~ N(0, 1), trained v, output noise σ.
    """
    K, M, k = int(config["K"]), int(config["M"]), int(config["units"])
    rng = np.random.default_rng(seed)
    op0 = OrderParameters.random(K, M, int(config["init_N"]), seed=seed)
    op0 = OrderParameters(op0.Q, op0.R, op0.T, v=rng.standard_normal(K),
                          v_star=np.full(M, float(config["v_star"])))
    model = SGDModel(eta=float(config["eta"]), noise=float(config["noise"]),
                     train_second_layer=True)
    alpha_max = float(config["alpha_max"])
    alpha = np.concatenate([[0.0], np.geomspace(alpha_max / 1e4, alpha_max,
                                                int(config["n_alpha"]) - 1)])
    structure = config["structure"]
    start: OrderParameters | MaskedOrderParameters
    if structure == "dense":
        Q, R, v = np.asarray(op0.Q), np.asarray(op0.R), np.asarray(op0.v)
        start = OrderParameters(Q[:k, :k], R[:k], op0.T, v[:k], op0.v_star)
    else:
        m = PRUNING_METHODS[structure]
        start = m.large_n_cells(op0, k / K, m.variants[0], int(config["n_coordinates"]),
                                seed % (2**63))
    traj = integrate(start, alpha=alpha, model=model, on_divergence="mask")
    return _frame(alpha=traj.alpha, eg=np.asarray(traj.eg).reshape(-1),
                  status=str(np.asarray(traj.status).reshape(-1)[0]))
