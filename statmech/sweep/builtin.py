"""Built-in sweep computations (theory and simulation). Each returns a long-format table.

=================  ===================================================================
``integrate``      ε_g(α) from the ODEs, from Gaussian initial weights at size ``init_N``
``fixed_points``   plateau height, escape time (ODE from a random start) and η_c at (K, η)
``simulate``       ε_g(α) of an ensemble (full-N or reduced chain) and the ODE from each
                   member's own initial state (``source`` = simulation / ode)
``pruned_error``   the pruning theory of an ODE-trained student: E[ε_g], ε_g(E[Q′, R′]),
                   the Jensen gap and the spread, every method and matched level
``prune``          trained students (simulation) pruned by every method: theory, finite-N
                   theory and Monte Carlo (:func:`statmech.pruning.validation.validation_table`)
``pruned_state``   a trained student's Q and R before and after pruning (expected), every
                   method at one level, as (method, matrix, i, j, value) rows
=================  ===================================================================
"""

from __future__ import annotations

import numpy as np

from .._validation import Boolean, InstanceOf, Integer, InvalidParameterError, Options, Real
from ..companion import pruning_at_init, pruning_gaps
from ..pruning import PRUNING_METHODS, method_names, prune_theory
from ..simulation.api import SIMULATION_METHODS, simulate
from ..theory.activations import ACTIVATIONS
from ..theory.fixed_points import (
    _escape_trajectory,
    critical_learning_rate,
    escape_time,
    plateau_height,
)
from ..theory.model import MODEL_DEFAULTS, MODEL_FIELDS, SGDModel
from ..theory.ode import integrate
from ..theory.order_parameters import OrderParameters
from .registry import ListOf, register_computation

#: The seven methods of the seed paper and the gallery, from the registry (a list: sweep
#: configurations hold lists).
ALL_METHODS = list(method_names(gallery=True))


# Declared constraints of the sweep parameters (statmech._validation), checked for every point
# of a sweep before the first runs.
_POS_INT = [Integer(1)]
_POS_REAL = [Real(0.0, closed="neither")]
_NONNEG_REAL = [Real(0.0)]
_REPLICATE = [Integer(0)]
_METHODS = [ListOf((Options(sorted(PRUNING_METHODS)),), 1)]
_LEVELS = [None, ListOf((Integer(1),), 1)]
_ACTIVATION = [Options(sorted(ACTIVATIONS)), ListOf((Options(sorted(ACTIVATIONS)),), 2, 2)]


def _levels_at_most_K(config: dict, func: str) -> None:
    """Cross check: pruning levels (units kept) lie in [1, K]."""
    K = config["K"]
    levels = config["levels"] if "levels" in config else [config["level"]]
    name = "levels" if "levels" in config else "level"
    for k in levels or ():
        if k > K:
            raise InvalidParameterError.build(func, name, f"at most K = {K}", k)


def _alpha_grid(alpha_max: float, n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.geomspace(min(0.01, alpha_max / 10), alpha_max, n - 1)])


def _activation(value):
    return tuple(value) if isinstance(value, list) else value


def _model(config: dict, **fixed) -> SGDModel:
    """The :class:`SGDModel` of a sweep point: its model settings (η, σ, trained v, activation,
    ... where the computation has them) plus ``fixed`` ones."""
    values = {k: config[k] for k in MODEL_FIELDS if k in config}
    if "activation" in values:
        values["activation"] = _activation(values["activation"])
    return SGDModel(**{**values, **fixed})


#: Model settings whose sweep default is the model's (SGDModel) default.
_SIGMA = MODEL_DEFAULTS["noise"]
_TRAIN_V = MODEL_DEFAULTS["train_second_layer"]


def _frame(**cols):
    import pandas as pd

    return pd.DataFrame(cols)


@register_computation("integrate", defaults={
    "K": 2, "M": None, "eta": 0.5, "alpha_max": 300.0, "n_alpha": 200, "noise": _SIGMA,
    "v_star": 1.0, "train_second_layer": _TRAIN_V, "init_N": 1000,
    "activation": MODEL_DEFAULTS["activation"],
    "replicate": 0}, constraints={
    "K": _POS_INT, "M": [Integer(1), None], "eta": _POS_REAL, "alpha_max": _POS_REAL,
    "n_alpha": [Integer(2)], "noise": _NONNEG_REAL, "v_star": [Real()],
    "train_second_layer": [Boolean()], "init_N": _POS_INT, "activation": _ACTIVATION,
    "replicate": _REPLICATE})
def integrate_point(config: dict, seed: int):
    """ε_g(α) from the ODEs, started from the order parameters of Gaussian weights."""
    K = int(config["K"])
    M = K if config["M"] is None else int(config["M"])
    op0 = OrderParameters.random(K, M, int(config["init_N"]), seed=seed)
    op0 = OrderParameters(op0.Q, op0.R, op0.T, v=np.ones(K), v_star=np.full(M, config["v_star"]))
    alpha = _alpha_grid(float(config["alpha_max"]), int(config["n_alpha"]))
    traj = integrate(op0, model=_model(config), alpha=alpha, on_divergence="mask")
    return _frame(alpha=traj.alpha, eg=np.asarray(traj.eg).reshape(-1),
                  status=str(np.asarray(traj.status).reshape(-1)[0]))


@register_computation("fixed_points", defaults={
    "K": 2, "eta": 0.5, "init_N": 1000, "alpha_max": 1e4, "replicate": 0}, constraints={
    "K": _POS_INT, "eta": _POS_REAL, "init_N": _POS_INT, "alpha_max": _POS_REAL,
    "replicate": _REPLICATE})
def fixed_points_point(config: dict, seed: int):
    """Plateau height, escape time (ODE from a random start at size init_N) and η_c.

    The ODE is ``integrate(..., on_divergence="mask")`` on 600 outputs up to ``alpha_max``
    until the escape time is determined, then a stiff solver finishes it
    (:func:`statmech.theory.fixed_points._escape_trajectory`): the escape time is ``integrate``'s
    exactly; ``diverged`` and ``eg_final`` (ε_g at ``alpha_max``) agree with it to the ODE
    tolerance.
    """
    K, eta = int(config["K"]), float(config["eta"])
    eta_c = critical_learning_rate(K)
    try:
        plateau = float(plateau_height(K, eta=eta))
    except ValueError:
        plateau = float("nan")
    op0 = OrderParameters.random(K, K, int(config["init_N"]), seed=seed)
    op0 = OrderParameters(op0.Q, op0.R, op0.T, v=np.ones(K), v_star=np.ones(K))
    alpha = _alpha_grid(float(config["alpha_max"]), 600)
    traj = _escape_trajectory(op0, eta=eta, alpha=alpha, threshold=0.5 * plateau)
    diverged = str(np.asarray(traj.status).reshape(-1)[0]) != "ok"
    esc = float("nan")
    if not diverged and np.isfinite(plateau):
        esc = float(np.asarray(escape_time(traj, plateau=plateau)).reshape(-1)[0])
    return _frame(plateau_height=[plateau], escape_time=[esc], eta_c=[eta_c],
                  diverged=[diverged], eg_final=[float(np.asarray(traj.eg).reshape(-1)[-1])])


@register_computation("simulate", defaults={
    "N": 500, "K": 2, "M": None, "eta": 0.5, "alpha_max": 300.0, "n_alpha": 120,
    "ensemble": 16, "method": "full", "noise": _SIGMA, "v_star": 1.0,
    "train_second_layer": _TRAIN_V, "replicate": 0}, constraints={
    "N": _POS_INT, "K": _POS_INT, "M": [Integer(1), None], "eta": _POS_REAL,
    "alpha_max": _POS_REAL, "n_alpha": [Integer(2)], "ensemble": _POS_INT,
    "method": [Options(SIMULATION_METHODS)], "noise": _NONNEG_REAL, "v_star": [Real()],
    "train_second_layer": [Boolean()], "replicate": _REPLICATE})
def simulate_point(config: dict, seed: int):
    """An ensemble's ε_g(α) and the ODE from each member's initial order parameters."""
    import pandas as pd

    K = int(config["K"])
    M = K if config["M"] is None else int(config["M"])
    N = int(config["N"])
    alpha = np.unique(np.round(_alpha_grid(float(config["alpha_max"]),
                                           int(config["n_alpha"])) * N) / N)
    model = _model(config)
    ens = simulate(N, K, M, model=model, alpha=alpha, ensemble=int(config["ensemble"]),
                   method=config["method"], seed=seed % (2**63), v_star=float(config["v_star"]),
                   on_divergence="mask", progress=False)
    traj = integrate(ens.order_parameters(0), model=model, alpha=ens.alpha, on_divergence="mask")
    E, n = ens.eg.shape
    member = np.repeat(np.arange(E), n)
    a = np.tile(ens.alpha, E)
    sim = pd.DataFrame({"source": "simulation", "member": member, "alpha": a,
                        "eg": ens.eg.reshape(-1)})
    ode = pd.DataFrame({"source": "ode", "member": member, "alpha": a,
                        "eg": np.asarray(traj.eg).reshape(-1)})
    return pd.concat([sim, ode], ignore_index=True)


@register_computation("pruned_error", defaults={
    "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 1600.0, "noise": _SIGMA,
    "levels": None, "methods": ALL_METHODS, "N": 500, "replicate": 0}, constraints={
    "K": _POS_INT, "M": _POS_INT, "v_star": [Real()], "eta": _POS_REAL, "alpha": _POS_REAL,
    "noise": _NONNEG_REAL, "levels": _LEVELS, "methods": _METHODS, "N": _POS_INT,
    "replicate": _REPLICATE}, cross_check=_levels_at_most_K)
def pruned_error_point(config: dict, seed: int):
    """Pruning theory of an ODE-trained (large-N) student, every method and level."""
    import pandas as pd

    K, M, N = int(config["K"]), int(config["M"]), int(config["N"])
    op = _final_op(K, M, config, seed)
    levels = config["levels"] or list(range(1, K))
    rows = []
    eg0 = float(_eg(op))
    for method in config["methods"]:
        for k in levels:
            keep = PRUNING_METHODS[method].matched_keep(k, K, N)
            th = prune_theory(op, method, keep, N=N)
            rows.append({"method": method, "level": k, "keep": keep,
                         "params_kept_frac": k / K, "mean_eg": th.mean_eg,
                         "eg_of_mean": th.eg_of_mean, "jensen_gap": th.jensen_gap,
                         "std_eg": th.std_eg, "eg_unpruned": eg0})
    return pd.DataFrame(rows)


def _eg(op: OrderParameters) -> float:
    from ..theory.generalization import generalization_error

    return float(generalization_error(op))


def _final_op(K: int, M: int, config: dict, seed: int) -> OrderParameters:
    op0 = OrderParameters.random(K, M, 500, seed=seed)
    rng = np.random.default_rng(seed)
    op0 = OrderParameters(op0.Q, op0.R, op0.T, v=rng.standard_normal(K),
                          v_star=np.full(M, float(config["v_star"])))
    traj = integrate(op0, model=_model(config, train_second_layer=True),
                     alpha=[0.0, float(config["alpha"])])
    return traj.at(-1)


@register_computation("prune", defaults={
    "N": 500, "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 1600.0, "noise": _SIGMA,
    "students": 4, "n_masks": 20, "levels": None, "methods": ALL_METHODS,
    "simulation_method": "reduced", "renormalise": False, "variants": {}, "replicate": 0},
    constraints={
    "N": _POS_INT, "K": _POS_INT, "M": _POS_INT, "v_star": [Real()], "eta": _POS_REAL,
    "alpha": _POS_REAL, "noise": _NONNEG_REAL, "students": _POS_INT, "n_masks": _POS_INT,
    "levels": _LEVELS, "methods": _METHODS, "simulation_method": [Options(SIMULATION_METHODS)],
    "renormalise": [Boolean()], "variants": [InstanceOf(dict, "a table (dict)")],
    "replicate": _REPLICATE}, cross_check=_levels_at_most_K)
def prune_point(config: dict, seed: int):
    """Trained students pruned by every method: theory, finite-N theory and Monte Carlo."""
    from ..pruning.validation import ValidationConfig, validation_table

    K = int(config["K"])
    cfg = ValidationConfig(
        N=int(config["N"]), K=K, M=int(config["M"]), v_star=float(config["v_star"]),
        eta=float(config["eta"]), alpha=float(config["alpha"]), noise=float(config["noise"]),
        students=int(config["students"]), n_masks=int(config["n_masks"]),
        levels=tuple(config["levels"] or range(1, K)), methods=tuple(config["methods"]),
        simulation_method=config["simulation_method"],
        renormalise=bool(config["renormalise"]), variants=dict(config["variants"]),
        seed=seed % (2**63))
    return validation_table(cfg, progress=False)


@register_computation("pruned_state", defaults={
    "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 1600.0, "noise": _SIGMA, "level": 3,
    "N": 500, "methods": ALL_METHODS, "replicate": 0}, constraints={
    "K": _POS_INT, "M": _POS_INT, "v_star": [Real()], "eta": _POS_REAL, "alpha": _POS_REAL,
    "noise": _NONNEG_REAL, "level": _POS_INT, "N": _POS_INT, "methods": _METHODS,
    "replicate": _REPLICATE}, cross_check=_levels_at_most_K)
def pruned_state_point(config: dict, seed: int):
    """Q and R of an ODE-trained student before and (expected) after pruning."""
    import pandas as pd

    K, M, N = int(config["K"]), int(config["M"]), int(config["N"])
    op = _final_op(K, M, config, seed)
    k = int(config["level"])
    rows = []

    def add(method, Q, R, v):
        for name, mat in (("Q", Q), ("R", R), ("v", np.asarray(v)[:, None])):
            for (i, j), val in np.ndenumerate(np.asarray(mat)):
                rows.append({"method": method, "matrix": name, "i": i, "j": j,
                             "value": float(val)})

    add("unpruned", op.Q, op.R, op.v)
    for method in config["methods"]:
        keep = PRUNING_METHODS[method].matched_keep(k, K, N)
        th = prune_theory(op, method, keep, N=N)
        add(method, th.Q, th.R, th.v)
    return pd.DataFrame(rows)


# --- companion papers: their point functions live in statmech.companion (a lower layer, which
# knows nothing of sweeps); they are registered here, beside the built-ins.
register_computation("pruning_at_init", defaults=pruning_at_init.SWEEP_DEFAULTS,
                     constraints=pruning_at_init.SWEEP_CONSTRAINTS)(
    pruning_at_init.pruning_at_init_point)
register_computation("pruning_gap", defaults=pruning_gaps.GAP_SWEEP_DEFAULTS,
                     constraints=pruning_gaps.GAP_SWEEP_CONSTRAINTS)(
    pruning_gaps.pruning_gap_point)
