"""Retraining after pruning, in theory: the masked ODE from where pruning leaves the student.

Edge methods keep every unit but fix each unit's mask; retraining by online SGD with the masks
held is the masked ODE (:mod:`statmech.theory.masked_ode`) started from the pruned student's
cell order parameters: at N → ∞ from the method's large-N inclusion probabilities on Gaussian
coordinates (:meth:`~statmech.pruning.edge_method.EdgeMethod.retraining_start`), or from given
coordinates. Node methods remove units; the kept units' order parameters are unchanged, so
retraining is the dense ODE of the k kept units, exact for every kept set, and the expected
ε_g(α′) is the probability-weighted mean over the kept sets
(:meth:`~statmech.pruning.node_method.NodeMethod.retraining_start`). ``docs/masked_theory.md``
§3–4.

:func:`retrain_theory` takes the arguments of :func:`statmech.prune_theory` plus the retraining
time α′ and the model; :func:`retrain_pruned` starts from explicitly pruned students (a
:class:`~statmech.pruning.base.PruningResult`) and :func:`retraining_init` turns those into the
:class:`~statmech.StudentInit` with which :func:`statmech.simulate` retrains the same students.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import Integer, InvalidParameterError, Real, Seed, check
from ..simulation.settings import StudentInit
from ..theory.generalization import resolve_activations
from ..theory.masked import MaskedOrderParameters
from ..theory.model import SGDModel, resolve_model
from ..theory.ode import integrate
from ..theory.order_parameters import OrderParameters
from ..theory.trajectory import Trajectory
from .base import Layer, PruneTheory, PruningResult, get_method, parse_keep
from .edge_method import EdgeMethod
from .node_method import REWEIGHT_CHOICES

__all__ = ["RetrainTheory", "retrain", "retrain_theory", "retrain_pruned", "retraining_init",
           "sparse_init"]


@dataclass(frozen=True, eq=False)
class RetrainTheory:
    """ε_g(α′) of pruned students retrained by online SGD (see :func:`retrain_theory`).

    Attributes
    ----------
    method, variant : str
    keep : float or int
        As given to :func:`retrain_theory` (fraction or count).
    alpha : ndarray (n,)
        Retraining times α′ (α′ = 0 is right after pruning).
    eg : ndarray (n,)
        Expected ε_g(α′) over the pruned students (node methods: over the kept sets; edge
        methods at N → ∞: the one deterministic cell state).
    std_eg : ndarray (n,)
        Spread of ε_g(α′) over the starts (kept sets or pruned students; 0 for one start).
    probabilities : ndarray (n_starts,)
        Weight of each start.
    trajectory : Trajectory
        The ODE solutions, batched over the starts.
    start : MaskedOrderParameters or OrderParameters
        Where retraining starts (batched over the starts for node methods and explicit masks).
    exact : bool
        False when node kept sets were sampled rather than enumerated.
    """

    method: str
    variant: str
    keep: Any
    alpha: np.ndarray
    eg: np.ndarray
    std_eg: np.ndarray
    probabilities: np.ndarray
    trajectory: Trajectory
    start: Any
    exact: bool = True
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"RetrainTheory(method={self.method!r}, variant={self.variant!r}, "
                f"keep={self.keep!r}, starts={self.probabilities.size}, "
                f"alpha=[{self.alpha[0]:g}..{self.alpha[-1]:g}] ({self.alpha.size}), "
                f"eg {self.eg[0]:.4g} -> {self.eg[-1]:.4g})")

    def to_frame(self):
        """Long table: one row per α′ with ``eg`` and ``std_eg``."""
        import pandas as pd

        return pd.DataFrame({"method": self.method, "variant": self.variant,
                             "alpha": self.alpha, "eg": self.eg, "std_eg": self.std_eg})


def _summarise(traj: Trajectory, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, spread) of ε_g(α′) over the starts of ``traj``, weighted by ``probs``."""
    eg = np.asarray(traj.eg).reshape(probs.size, -1)  # one row per start
    if np.any(np.asarray(traj.status) != "ok"):
        raise ValueError("Retraining diverged for some starts (the learning rate is too large "
                         "for the pruned student); reduce 'eta'.")
    mean = probs @ eg
    std = np.sqrt(np.maximum(probs @ (eg - mean) ** 2, 0.0))
    return mean, std


def retrain_theory(op: OrderParameters, method: str, keep: Any, *, alpha: Any,
                   model: SGDModel | None = None, variant: str | None = None,
                   N: int | None = None, weights: Any = None, teacher_weights: Any = None,
                   reweight: str | None = None, options: dict | None = None,
                   n_coordinates: int = 200_000, seed: Any = 0,
                   **model_options: Any) -> RetrainTheory:
    """Pruning theory followed by retraining: expected ε_g(α′) of a pruned, retrained student.

    A student with order parameters ``op`` is pruned by ``method`` (as in
    :func:`statmech.prune_theory`) and retrained by online SGD for α′ with the masks held fixed
    (edge methods) or on the kept units (node methods); ``docs/masked_theory.md`` §3–4.

    Parameters
    ----------
    op : OrderParameters
        The student before pruning (unbatched).
    method, keep, variant, N, weights, teacher_weights, reweight
        As for :func:`statmech.prune_theory`: ``keep`` is units kept (node methods) or the
        fraction (or, with ``N`` or ``weights``, the count) of each unit's inputs kept.
        ``weights`` (K, N) and ``teacher_weights`` (M, N) start edge retraining from the actual
        coordinates; otherwise from the large-N cells.
    options : dict, optional
        The method's options (``PRUNING_METHODS[method].options``, e.g. MBP's ``d``; the
        keywords of :func:`statmech.prune_theory`), default none.
    alpha : float or 1-D array
        Retraining times α′ (as :func:`statmech.integrate`'s ``alpha``).
    model : SGDModel, optional
        The retraining settings, or its fields as keywords (``eta=0.5, noise=0.1``); the
        activation also fixes the pruning theory's.
    n_coordinates : int
        Synthetic Gaussian coordinates of the large-N edge cells (other than random edge, whose
        cells are a closed form): their relative sampling error is ~1/√n_coordinates at most
        (second moments are matched exactly).
    seed : int
        Synthetic coordinates, or sampled kept sets when enumeration is too large.

    Returns
    -------
    RetrainTheory

    Examples
    --------
    >>> import statmech as sm
    >>> op = sm.OrderParameters.random(4, 2, 500, seed=0)
    >>> r = sm.retrain_theory(op, "random_edge", 0.5, alpha=[0.0, 10.0], eta=0.5)
    >>> bool(r.eg[1] < r.eg[0])
    True
    """
    func = "retrain_theory"
    if not isinstance(op, OrderParameters) or op.batch_shape != ():
        raise InvalidParameterError.build(func, "op", "a single (unbatched) OrderParameters", op)
    mdl = resolve_model(func, model, model_options)
    check(n_coordinates, "n_coordinates", func, [Integer(1000)])
    check(seed, "seed", func, [Seed()])
    m = get_method(method, func)
    variant = m.check_variant(variant, func)
    if options is not None and not isinstance(options, dict):
        raise InvalidParameterError.build(func, "options", "a dict of the method's options",
                                          options)
    options = dict(options or {})
    m.check_options(options, func)
    if reweight not in REWEIGHT_CHOICES:
        raise InvalidParameterError.build(func, "reweight", "None, 'activations' or "
                                          "'preactivations'", reweight)
    student, teacher = resolve_activations(mdl.activation, func)
    if isinstance(m, EdgeMethod):
        if reweight is not None:
            raise InvalidParameterError.build(func, "reweight", "None for edge methods",
                                              reweight)
        start: Any = m.retraining_start(op, keep, variant, N=N, weights=weights,
                                        teacher_weights=teacher_weights,
                                        n_coordinates=n_coordinates, seed=seed, func=func,
                                        **options)
        probs, exact = np.ones(1), True
    else:
        start, probs, exact = m.retraining_start(op, keep, variant, reweight=reweight,
                                                 student=student, teacher=teacher, seed=seed,
                                                 func=func, **options)
    traj = integrate(start, alpha=alpha, model=mdl, on_divergence="mask")
    mean, std = _summarise(traj, probs)
    return RetrainTheory(m.name, variant, keep, traj.alpha, mean, std, probs, traj, start,
                         exact, {"model": mdl})


def retrain_pruned(result: PruningResult, W_star: Any, *, alpha: Any, v_star: Any = None,
                   model: SGDModel | None = None, **model_options: Any) -> RetrainTheory:
    """Retraining theory of explicitly pruned students (every mask of ``result``).

    Each pruned copy starts from its exact cell order parameters (edge methods: its masked
    weights and mask, :meth:`statmech.MaskedOrderParameters.from_weights`; node methods: the
    kept units' order parameters); the dynamics is the large-N ODE. ``eg`` is the mean over the
    copies.

    Parameters
    ----------
    result : PruningResult
        From :func:`statmech.prune` / :func:`statmech.prune_student` on a student's first layer
        (C = 1 output).
    W_star : array (M, N)
        Teacher weights.
    alpha, model, **model_options
        As for :func:`retrain_theory`.
    v_star : array (M,), optional
        Teacher second layer (default ones).
    """
    func = "retrain_pruned"
    if not isinstance(result, PruningResult):
        raise InvalidParameterError.build(func, "result", "a PruningResult", result)
    mdl = resolve_model(func, model, model_options)
    op = result.order_parameters(W_star, v_star)
    start: Any = op
    if result.kept is None:  # edge methods (node results carry their kept sets)
        start = MaskedOrderParameters.from_weights(
            result.host("W").astype(float), np.asarray(W_star, dtype=float),
            result.host("mask").astype(bool), v=op.v, v_star=op.v_star)
    traj = integrate(start, alpha=alpha, model=mdl, on_divergence="mask")
    probs = np.full(result.n_masks, 1.0 / result.n_masks)
    mean, std = _summarise(traj, probs)
    return RetrainTheory(result.method, result.variant, result.keep, traj.alpha, mean, std,
                         probs, traj, start, True, {"model": mdl})


def retraining_init(result: PruningResult, index: Any = None) -> StudentInit:
    """The :class:`~statmech.StudentInit` that makes :func:`statmech.simulate` retrain the pruned
    students of ``result`` (one member per mask; ``index`` selects masks): their weights, their
    outgoing weights as v and, for edge methods, their masks held fixed. For node methods
    simulate the kept units (K = k)."""
    func = "retraining_init"
    if not isinstance(result, PruningResult):
        raise InvalidParameterError.build(func, "result", "a PruningResult", result)
    sel = slice(None) if index is None else index
    W = result.host("W").astype(float)[sel]
    v = result.host("W_out").astype(float)[sel][:, 0, :]
    mask = None
    if result.kept is None:
        mask = result.host("mask").astype(bool)[sel]
    return StudentInit(weights=W, v=v, mask=mask)


def retrain(pruned: PruneTheory | PruningResult, *, alpha: Any, model: SGDModel | None = None,
            W_star: Any = None, v_star: Any = None, **model_options: Any) -> RetrainTheory:
    """Retrain what pruning left, in one call: ε_g(α′) of the retrained students.

    Parameters
    ----------
    pruned : PruneTheory or PruningResult
        A :func:`statmech.prune_theory` result (retrained by :func:`retrain_theory` from the
        same student, method, level and options: large-N cells, or the given coordinates), or
        explicitly pruned students from :func:`statmech.prune` / :func:`statmech.prune_student`
        (:func:`retrain_pruned`: each copy from its own cells; needs ``W_star``).
    alpha, model, **model_options
        Retraining times α′ and settings, as for :func:`retrain_theory`.
    W_star, v_star : arrays, optional
        The teacher, for a PruningResult.

    Examples
    --------
    >>> import statmech as sm
    >>> op = sm.OrderParameters.random(4, 2, 500, seed=0)
    >>> th = sm.prune_theory(op, "random_node", 2)
    >>> r = sm.retrain(th, alpha=[0.0, 10.0], eta=0.5)
    >>> bool(abs(r.eg[0] - th.mean_eg) < 1e-12)
    True
    """
    func = "retrain"
    if isinstance(pruned, PruningResult):
        if W_star is None:
            raise InvalidParameterError.build(func, "W_star", "the teacher's weights (M, N) "
                                              "for a PruningResult", W_star)
        return retrain_pruned(pruned, W_star, alpha=alpha, v_star=v_star, model=model,
                              **model_options)
    if not isinstance(pruned, PruneTheory) or "source" not in pruned.info:
        raise InvalidParameterError.build(func, "pruned", "a PruneTheory from "
                                          "statmech.prune_theory or a PruningResult", pruned)
    src = pruned.info["source"]
    return retrain_theory(src["op"], pruned.method, src["keep"], alpha=alpha, model=model,
                          variant=pruned.variant, N=src["N"], weights=src["weights"],
                          teacher_weights=src["teacher_weights"], reweight=src["reweight"],
                          options=src.get("options"), **model_options)


def sparse_init(method: str, N: int, K: int, keep: Any, *, ensemble: int = 1, seed: Any = 0,
                variant: str | None = None, scale: float = 1.0, v: Any = 1.0) -> StudentInit:
    """Students pruned at initialisation, for :func:`statmech.simulate`: Gaussian initial
    weights (rows ~ N(0, scale² I_N), one draw per member) masked by an edge method (the
    large-N theory of such students: ``docs/masked_theory.md`` §3 and the ``sparse_training``
    sweep).

    Parameters
    ----------
    method : str
        An edge method (:func:`statmech.method_names` with ``kind="edge"``).
    N, K : int
        Input dimension and units.
    keep : int or float
        Inputs kept per unit (an int in [1, N] or a fraction in (0, 1]).
    ensemble : int
        Members E (each its own weights and masks).
    seed : int
        Seed of the initial weights and masks.
    variant : str, optional
        The method's variant.
    scale, v
        Standard deviation of the initial weights, and the initial second layer.

    Returns
    -------
    StudentInit
        ``weights`` (E, K, N) zero off the masks, ``mask`` (E, K, N), ``v``; pass it as
        ``simulate(N, K, ..., ensemble=E, init=...)``.
    """
    func = "sparse_init"
    for name, value in (("N", N), ("K", K), ("ensemble", ensemble)):
        check(value, name, func, [Integer(1)])
    check(scale, "scale", func, [Real(0.0, closed="neither")])
    check(seed, "seed", func, [Seed()])
    m = get_method(method, func)
    if not isinstance(m, EdgeMethod):
        raise InvalidParameterError.build(func, "method", "an edge method (units are kept "
                                          "whole by node methods: simulate fewer units)", method)
    variant = m.check_variant(variant, func)
    e = parse_keep(keep, N, "inputs kept per unit", func)
    rng = np.random.default_rng(seed)
    W = scale * rng.standard_normal((ensemble, K, N))
    masks = np.stack([m.prune(Layer(W[i], np.ones((1, K))), e, variant, rng, 1).mask[0]
                      for i in range(ensemble)])
    return StudentInit(weights=np.where(masks, W, 0.0), v=v, mask=masks)

