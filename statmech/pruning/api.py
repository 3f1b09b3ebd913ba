"""Public entry points: explicit pruning (:func:`prune`, :func:`prune_student`), theory
(:func:`pruned_error`, :func:`prune_theory`), parameter matching and unit ordering."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import (
    ArrayLike,
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Seed,
    _fmt,
    check,
    check_positive_int,
    validate_params,
)
from ..simulation.backend import get_backend
from ..theory.generalization import eg_from_order_parameters as eg_of
from ..theory.generalization import resolve_activations
from ..theory.order_parameters import OrderParameters, joint_covariance
from .backend_ops import prune_on_backend, result_on_backend
from .base import Layer, PruningResult, get_method, parse_keep
from .edge_reweight import reweight_edges
from .node_method import REWEIGHT_CHOICES, NodeContext, NodeMethod
from .theory_tools import full_I2

__all__ = ["prune", "prune_student", "pruned_error", "prune_theory", "PruneTheory",
           "matched_edges", "match_parameters", "order_units_by_teacher", "student_layer"]


def _check_reweight(reweight: Any, func: str) -> str | None:
    if not (reweight is None or isinstance(reweight, str)) or reweight not in REWEIGHT_CHOICES:
        raise InvalidParameterError(
            f"The 'reweight' parameter of {func} must be None, 'activations' or "
                         f"'preactivations'. Got {_fmt(reweight)} instead.")
    return reweight


@validate_params({"n_masks": [Integer(1)], "seed": [Seed()],
                  "backend": [None, InstanceOf(str, "a backend name")]})
def prune(method: str, W: Any, W_out: Any, *, keep: Any, variant: str | None = None,
          n_masks: int = 1, seed: Any = None, reweight: str | None = None, bias: Any = None,
          act_cov: Any = None, pre_cov: Any = None, input_cov: Any = None, act_mean: Any = None,
          bias_out: Any = None, backend: str | None = None, device: Any = None,
          **options: Any) -> PruningResult:
    """Prune one layer explicitly with a registered method (:data:`PRUNING_METHODS`).

    Parameters
    ----------
    method : str
        ``"random_edge"``, ``"magnitude_edge"``, ``"dpp_edge"``, ``"random_node"``,
        ``"magnitude_node"``, ``"dpp_node"`` or ``"spectral_node"``.
    W : array (H, D)
        Incoming weights (one row per unit).
    W_out : array (C, H) or (H,)
        Outgoing weights of the units (v for a committee machine).
    keep : int or float
        Node methods: units kept (int in [1, H]) or a fraction in (0, 1]. Edge methods: edges kept
        per unit (int in [1, D]) or a fraction of D. Fractions are rounded up; bools are rejected.
    variant : str, optional
        The method's variant (``PRUNING_METHODS[method].variants``; default the first).
    n_masks : int
        Independent masks drawn (deterministic methods repeat theirs).
    seed : int, Generator or SeedSequence, optional
    reweight : {None, "activations", "preactivations"}
        Node methods: fold removed units' outgoing weights onto the kept ones by least squares on
        the activations (``act_cov`` needed) or pre-activations. Edge methods:
        ``"preactivations"`` refits each unit's kept incoming weights to its removed inputs'
        contribution (``input_cov`` needed; :func:`statmech.pruning.edge_reweight.reweight_edges`).
    bias, act_cov, pre_cov, input_cov, act_mean, bias_out : arrays, optional
        Layer biases and data statistics (:class:`statmech.pruning.base.Layer`).
    backend : {None, "numpy", "torch", "cupy"}, optional
        Return the pruned arrays on this backend (``device`` as for :func:`statmech.get_backend`).
        Random- and magnitude-edge masks are then drawn on the device; the other methods select
        on the host (``statmech.pruning.backend_ops``).
    **options
        Method options: ``kernel``, ``beta``, ``jitter`` (dpp_node); ``tau``, ``theta``
        (spectral_node).

    Returns
    -------
    PruningResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = prune("random_edge", rng.standard_normal((3, 100)), np.ones(3), keep=20, n_masks=4)
    >>> res.mask.shape, int(res.mask[0].sum(1)[0])
    ((4, 3, 100), 20)
    """
    func = "prune"
    m = get_method(method, func)
    layer = Layer.from_arrays(W, W_out, func, bias=bias, act_cov=act_cov, pre_cov=pre_cov,
                              input_cov=input_cov, act_mean=act_mean, bias_out=bias_out)
    variant = m.check_variant(variant, func)
    m.check_options(options, func)
    n_masks = check_positive_int(n_masks, "n_masks", func)
    reweight = _check_reweight(reweight, func)
    be = None if backend in (None, "numpy") else get_backend(backend, device)
    if m.kind == "node":
        k = parse_keep(keep, layer.H, "units kept", func)
        if be is not None:
            return prune_on_backend(m, layer, k, variant, n_masks, seed, be, reweight=reweight,
                                    func=func, **options)
        return m.prune(layer, k, variant, np.random.default_rng(seed), n_masks,
                       reweight=reweight, func=func, **options)
    if reweight == "activations":
        raise InvalidParameterError(
            "The 'reweight' parameter of prune must be None or 'preactivations' for "
                         "edge methods (the kept edges reproduce the unit's pre-activation).")
    if reweight is not None and layer.input_cov is None:
        raise ValueError("prune with an edge method and reweight='preactivations' needs "
                         "'input_cov' (the data's input covariance); for isotropic inputs edge "
                         "reweighting is a no-op (docs/pruning_theory.md §2.7).")
    e = parse_keep(keep, layer.D, "edges kept per unit", func)
    if be is not None and reweight is None:
        return prune_on_backend(m, layer, e, variant, n_masks, seed, be, **options)
    res = m.prune(layer, e, variant, np.random.default_rng(seed), n_masks, **options)
    if reweight is not None:
        res = dataclasses.replace(res, W=reweight_edges(layer.W, res.mask, layer.input_cov),
                                  info={**res.info, "reweight": reweight})
        if be is not None:
            res = result_on_backend(res, be)
    return res


def student_layer(W: Any, v: Any, activation: Any = "erf") -> dict[str, np.ndarray]:
    """Population statistics of a committee-machine layer under isotropic Gaussian inputs.

    Returns ``{"act_cov": I2 of the students' fields, "pre_cov": Q}`` with Q = W Wᵀ/N: what data
    would give for inputs x ~ N(0, I_N) (scale-free for the linear DPP kernel).
    """
    W = np.asarray(W, dtype=float)
    N = W.shape[1]
    K = W.shape[0]
    Q = W @ W.T / N
    student, _ = resolve_activations(activation, "student_layer")
    op = OrderParameters(Q=Q, R=np.zeros((K, 1)), T=np.ones((1, 1)), v=np.asarray(v, float))
    I2 = full_I2(op, student, student)[:K, :K]
    return {"act_cov": I2, "pre_cov": Q}


def prune_student(method: str, W: Any, v: Any, *, keep: Any, activation: Any = "erf",
                  **kwargs: Any) -> PruningResult:
    """:func:`prune` for a teacher–student layer: statistics from the Gaussian-input theory."""
    return prune(method, W, v, keep=keep, **student_layer(W, v, activation), **kwargs)


@dataclass(frozen=True)
class PruneTheory:
    """Theory of one method at one level (see :func:`prune_theory`).

    Attributes
    ----------
    Q, R : ndarray
        Expected pruned order parameters, K × K and K × M (node methods: removed units' rows and
        columns weighted by their inclusion probabilities).
    v : ndarray (K,)
        Expected outgoing weights E[v′] (zero weight on units never kept).
    mean_eg : float
        E[ε_g(Q′, R′, v′)] over masks (node methods: exact expectation; edge methods: the N → ∞
        value, where Q′ concentrates and the Jensen gap vanishes).
    eg_of_mean : float
        ε_g(E[Q′], E[R′], E[v′]); ``jensen_gap = mean_eg − eg_of_mean``.
    std_eg : float
        Spread of ε_g across masks (0 for deterministic methods and for edge methods at N → ∞).
    exact : bool
        False when the node expectation or spread came from sampled kept sets.
    kept : OrderParameters or None
        Node methods: the kept units' order parameters for the most probable kept set (for
        retraining; with the reweighted v).
    """

    method: str
    variant: str
    keep: float
    Q: np.ndarray
    R: np.ndarray
    v: np.ndarray
    mean_eg: float
    eg_of_mean: float
    std_eg: float
    exact: bool
    kept: OrderParameters | None = None
    info: dict = field(default_factory=dict)

    @property
    def jensen_gap(self) -> float:
        """E[ε_g(Q′)] − ε_g(E[Q′])."""
        return self.mean_eg - self.eg_of_mean


def _edge_fraction(keep: Any, N: int | None, func: str) -> tuple[float, int | None]:
    """(keep fraction c, edges per unit e or None): ints need N; fractions are rounded to whole
    edges when N is known."""
    if N is not None:
        e = parse_keep(keep, int(N), "edges kept per unit", func)
        return e / N, e
    if isinstance(keep, int | np.integer) and not isinstance(keep, bool | np.bool_):
        raise InvalidParameterError(
            f"The 'N' parameter of {func} is required when 'keep' is a number "
                         "of edges per unit (or pass a fraction in (0, 1]).")
    parse_keep(keep, 1, "edges kept per unit", func)  # validates a fraction in (0, 1]
    return float(keep), None


#: Declared constraints of :func:`prune_theory`'s keyword parameters (also :func:`pruned_error`).
THEORY_CONSTRAINTS: dict[str, list] = {
    "N": [None, Integer(1)],
    "weights": [None, ArrayLike(2)],
    "teacher_weights": [None, ArrayLike(2)],
    "seed": [Seed()],
    "n_samples": [Integer(1)],
}


@validate_params(THEORY_CONSTRAINTS)
def prune_theory(op: OrderParameters, method: str, keep: Any, *, variant: str | None = None,
                 N: int | None = None, weights: Any = None, teacher_weights: Any = None,
                 reweight: str | None = None, activation: Any = "erf", seed: Any = 0,
                 n_samples: int = 4000, **options: Any) -> PruneTheory:
    """Theory of pruning a student with order parameters ``op`` (``docs/pruning_theory.md`` §2.1
    for edge methods at large N, §3.1 for node methods).

    Edge methods: ε_g of the expected pruned order parameters under Gaussian weight coordinates of
    covariance [[Q, R], [Rᵀ, T]] (they concentrate as N → ∞), or of the actual coordinates when
    ``weights`` (K × N) and ``teacher_weights`` (M × N) are given: then ``mean_eg`` includes the
    finite-N Jensen correction of the mask fluctuations (``finite_n``; ``eg_of_mean`` is without
    it) and ``std_eg`` is the first-order spread of ε_g across masks. Node methods: the exact
    expectation over the kept set (``node_theory``), with Q, R and I2 from ``op``.

    Parameters
    ----------
    op : OrderParameters
        A single (unbatched) student–teacher state.
    method, variant, reweight, **options
        As for :func:`prune`.
    keep : int or float
        Units kept (node methods) or edges kept per unit (then ``N`` is needed unless a fraction
        in (0, 1] is given).
    N : int, optional
        Input dimension (edge counts → fractions).
    weights, teacher_weights : arrays, optional
        Actual student (K × N) and teacher (M × N) coordinates for the edge methods.
    activation : str or (str, str)
    seed : int
        For the sampled kept sets used when enumeration is too large.
    n_samples : int
        Number of sampled kept sets in that case.
    """
    func = "prune_theory"
    if not isinstance(op, OrderParameters) or op.batch_shape != ():
        raise InvalidParameterError(f"The 'op' parameter of {func} must be a single (unbatched) "
                         "OrderParameters.")
    m = get_method(method, func)
    variant = m.check_variant(variant, func)
    m.check_options(options, func)
    reweight = _check_reweight(reweight, func)
    student, teacher = resolve_activations(activation, func)
    K = op.K
    Q, R, T, v, vs = (np.asarray(a, dtype=float) for a in (op.Q, op.R, op.T, op.v, op.v_star))
    if m.kind == "node":
        k = parse_keep(keep, K, "units kept", func)
        I2 = full_I2(op, student, teacher)
        ctx = NodeContext(v[None, :], np.sqrt(np.diagonal(Q)), Q, I2[:K, :K])
        assert isinstance(m, NodeMethod)
        ex = m.expectation(ctx, I2, vs, k, variant, reweight, np.random.default_rng(seed),
                           n_samples=n_samples, func=func, **options)
        Qm = ex.pi2 * Q
        Rm = ex.pi1[:, None] * R
        eg_mean_ops = float(eg_of(Qm, Rm, T, ex.mean_v, vs, student, teacher))
        kept = None
        if ex.sets is not None:
            best = int(np.argmax(ex.probs))
            S = ex.sets[best]
            vk = m.outgoing(ctx, ex.sets[best:best + 1], reweight, func, **options)[0, 0]
            kept = OrderParameters(Q[np.ix_(S, S)], R[S], T, vk, vs)
        return PruneTheory(m.name, variant, k, Qm, Rm, ex.mean_v, ex.mean, eg_mean_ops, ex.std,
                           ex.exact, kept, {"pi1": ex.pi1, "pi2": ex.pi2})
    if reweight is not None:
        raise InvalidParameterError(
            f"The 'reweight' parameter of {func} applies to node methods only.")
    if weights is not None:
        W = np.asarray(weights, dtype=float)
        if W.shape[0] != K:
            raise InvalidParameterError(
                f"The 'weights' parameter of {func} must have shape (K={K}, N). "
                             f"Got {W.shape}.")
        Nw = W.shape[1]
        c, e = _edge_fraction(keep, Nw, func)
        Ws = None if teacher_weights is None else np.asarray(teacher_weights, dtype=float)
        Qp, Rp, Pinc = _edge_with_weights(m, W, Ws, e, variant, R, **options)
        eg = float(eg_of(Qp, Rp, T, v, vs, student, teacher))
        from .finite_n import jensen_correction, mask_spread
        gap = jensen_correction(W, Ws, Pinc, joint_covariance(Qp, Rp, T),
                                np.concatenate([-v, vs]), student, teacher,
                                fixed_count=variant != "bernoulli")
        spread = mask_spread(W, Ws, Pinc, Qp, Rp, T, v, vs, student, teacher,
                             fixed_count=variant != "bernoulli")
        return PruneTheory(m.name, variant, c, Qp, Rp, v.copy(), eg + gap, eg, spread, True,
                           None, {"edges": e, "jensen_correction": gap})
    c, _ = _edge_fraction(keep, N, func)
    Qp, Rp = m.expected_order_parameters(Q, R, c, variant=variant, **options)
    eg = float(eg_of(Qp, Rp, T, v, vs, student, teacher))
    return PruneTheory(m.name, variant, c, Qp, Rp, v.copy(), eg, eg, 0.0, True, None,
                       {"fraction": c})


def _edge_with_weights(m, W: np.ndarray, Ws: np.ndarray | None, e: int, variant: str,
                       R: np.ndarray, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Expected pruned (Q′, R′) for the actual coordinates, and the inclusion probabilities
    P (K, N) of the weights, from the method's ``inclusion_probabilities(W, e, variant,
    **options)`` (P and the pair probabilities P2 (K, K, N))."""
    K, N = W.shape
    P, P2 = m.inclusion_probabilities(W, e, variant, **options)
    P2 = np.array(P2, dtype=float)
    idx = np.arange(K)
    P2[idx, idx] = P
    if Ws is None:
        raise ValueError("prune_theory with 'weights' needs 'teacher_weights' too (for R′).")
    Qp = np.einsum("kli,ki,li->kl", P2, W, W) / N
    return Qp, (P * W) @ Ws.T / N, P


def pruned_error(op: OrderParameters, method: str, keep: Any, **kwargs: Any) -> float:
    """Expected noiseless ε_g after pruning, from theory (``prune_theory(...).mean_eg``).

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import OrderParameters
    >>> op = OrderParameters(Q=np.eye(2), R=np.eye(2), T=np.eye(2))
    >>> round(pruned_error(op, "random_node", 1), 4)   # one of two perfect students left
    0.1667
    """
    for name, value in kwargs.items():  # the shared keywords, checked in this function's name
        if name in THEORY_CONSTRAINTS:
            check(value, name, "pruned_error", THEORY_CONSTRAINTS[name])
    return prune_theory(op, method, keep, **kwargs).mean_eg


@validate_params({"round_up": [Boolean()]})
def matched_edges(k: int, K: int, N: int, *, round_up: bool = False) -> float | int:
    """Edges per unit e with the same parameter count as k of K units (teacher–student layer).

    Keeping k units keeps k(N + 1) parameters (first and second layer), keeping e edges per unit
    keeps K(e + 1): e = (k(N + 1) − K)/K (``docs/pruning_theory.md`` §5). ``round_up`` gives ⌈e⌉
    (83, 166, 250, 333, 417 for K = 6, N = 500).
    """
    func = "matched_edges"
    K = check_positive_int(K, "K", func)
    k = check_positive_int(k, "k", func)
    N = check_positive_int(N, "N", func)
    if k > K:
        raise InvalidParameterError(
            f"The 'k' parameter of {func} must be an int in [1, K={K}]. Got {k}.")
    e = (k * (N + 1) - K) / K
    return math.ceil(e - 1e-12) if round_up else e


@validate_params({"bias": [Boolean()], "bias_out": [Boolean()], "round_up": [Boolean()]})
def match_parameters(k: int, H: int, D: int, C: int = 1, *, bias: bool = False,
                     bias_out: bool = False, round_up: bool = False) -> float | int:
    """General node ↔ edge matcher: edges per unit with the parameter count of k of H units.

    A layer with units of D inputs (plus a bias if ``bias``) feeding C outputs: keeping k units
    leaves k(D + b + C) (+ C) parameters; keeping e edges per unit leaves H(e + b + C) (+ C).
    Hence e = (k(D + b + C) − H(b + C))/H; :func:`matched_edges` is the case b = 0, C = 1.
    """
    func = "match_parameters"
    for name, val in (("k", k), ("H", H), ("D", D), ("C", C)):
        check_positive_int(val, name, func)
    if k > H:
        raise InvalidParameterError(
            f"The 'k' parameter of {func} must be an int in [1, H={H}]. Got {k}.")
    b = 1 if bias else 0
    e = (k * (D + b + C) - H * (b + C)) / H
    return math.ceil(e - 1e-12) if round_up else e


def order_units_by_teacher(R: Any) -> np.ndarray:
    """A permutation of student units grouping them by the teacher unit they align with.

    Units are sorted by argmax_m |R_km| and, within a group, by decreasing |R_km|: apply it to
    the rows and columns of Q (and rows of R) for block-diagonal order-parameter heat maps.
    """
    R = np.abs(np.asarray(R, dtype=float))
    best = np.argmax(R, axis=1)
    strength = R[np.arange(R.shape[0]), best]
    return np.lexsort((-strength, best))
