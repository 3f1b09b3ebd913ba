"""Public entry points: explicit pruning (:func:`prune`, :func:`prune_student`), theory
(:func:`pruned_error`, :func:`prune_theory`), parameter matching and unit ordering.

:func:`prune` and :func:`prune_theory` validate what all methods share and hand over to the
method (``prune_layer`` and ``theory``, provided by its base class ``EdgeMethod`` or
``NodeMethod``): nothing here depends on a method's name or kind.
"""

from __future__ import annotations

import math
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
from ..theory.generalization import resolve_activations
from ..theory.order_parameters import OrderParameters
from .base import Layer, PruneTheory, PruningResult, get_method, matched_edges
from .edge_method import EdgeMethod
from .node_method import REWEIGHT_CHOICES
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
    method : str or PruningMethod
        A registered method (:data:`PRUNING_METHODS`, :func:`method_names`), by name or as the
        method object itself.
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
    return m.prune_layer(layer, keep, variant, n_masks=n_masks, seed=seed, reweight=reweight,
                         backend=be, func=func, **options)


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
    th = m.theory(op, keep, variant, reweight=reweight, student=student, teacher=teacher, N=N,
                  weights=weights, teacher_weights=teacher_weights, seed=seed,
                  n_samples=n_samples, func=func, **options)
    # what the theory was computed from, so that statmech.retrain can start from it
    th.info["source"] = {"op": op, "keep": keep, "N": N, "weights": weights,
                         "teacher_weights": teacher_weights, "reweight": reweight,
                         "options": dict(options)}
    return th


def _edge_with_weights(m: EdgeMethod, W: np.ndarray, Ws: np.ndarray | None, e: int,
                       variant: str, R: np.ndarray,
                       **options: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`EdgeMethod.expected_with_weights` under its former name (``R`` is not used);
    kept for ``tests/statmech/test_finite_n.py``."""
    return m.expected_with_weights(W, Ws, e, variant, **options)


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
