"""The base class of the node-pruning methods, :class:`NodeMethod`, and its contract: selection
statistics, outgoing-weight rules, the explicit operator and the theory, written once on the same
matrices.

A :class:`NodeContext` holds what every node method may look at: the outgoing weights W_out
(C × H), the incoming row norms, the pre-activation covariance (the linear DPP kernel) and the
activation covariance (reweighting, RBF kernel, spectral pruning). For an explicit layer these come
from the weights and the data statistics; in theory from the order parameters (row norms ∝ √Q_kk,
pre-activation covariance Q, activation covariance I2). The explicit operator *samples* kept sets
from the method's distribution; the theory *enumerates* it (``node_theory``).

Outgoing-weight rules (``reweight``):

* ``None``: the kept units keep their outgoing weights;
* ``"activations"`` / ``"preactivations"``: removed units' outgoing weights are folded onto the
  kept units by least squares of their activations (or pre-activations, as the reference
  implementation did) on the kept ones: W_out′_S = W_out_S + W_out_R (A⁺B)ᵀ, A = cov_SS,
  B = cov_SR (Mariet & Sra's reweighting; ``docs/pruning_theory.md`` §3.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._validation import InvalidParameterError
from ..theory.generalization import eg_from_order_parameters as eg_of
from ..theory.order_parameters import OrderParameters
from .backend_ops import result_on_backend
from .base import Layer, PruneTheory, PruningMethod, PruningResult, node_result, parse_keep
from .node_theory import (
    ENUMERATION_LIMIT,
    NodeExpectation,
    all_subsets,
    expectation_from_inclusion,
    expectation_over_sets,
    n_subsets,
)
from .theory_tools import full_I2

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..theory.activations import Activation

REWEIGHT_CHOICES = (None, "activations", "preactivations")
#: Most kept sets whose retraining ODEs are integrated one by one (a batch); beyond, sampled sets.
RETRAIN_ENUMERATION_LIMIT = 2000


@dataclass(frozen=True)
class NodeContext:
    """Matrices a node method selects on (module docstring): ``W_out`` (C, H), ``row_norms``
    (H,), ``pre_cov`` (H, H) and ``act_cov`` (H, H) or None (:meth:`cov_for` asks for it)."""

    W_out: np.ndarray  # (C, H)
    row_norms: np.ndarray  # (H,)
    pre_cov: np.ndarray | None  # (H, H)
    act_cov: np.ndarray | None  # (H, H)

    @property
    def H(self) -> int:
        """Number of units."""
        return self.W_out.shape[1]

    @classmethod
    def from_layer(cls, layer: Layer) -> NodeContext:
        """The context of an explicit layer: pre-activation covariance ``layer.pre_cov``, or
        W Ĉ Wᵀ/D from the input covariance (W Wᵀ/D without one)."""
        pre = layer.pre_cov
        if pre is None:  # W Ĉ Wᵀ / D, or W Wᵀ / D for isotropic inputs
            Wc = layer.W if layer.input_cov is None else layer.W @ layer.input_cov
            pre = Wc @ layer.W.T / layer.D
        return cls(layer.W_out, np.linalg.norm(layer.W, axis=1), pre, layer.act_cov)

    def cov_for(self, which: str, func: str) -> np.ndarray:
        """``act_cov`` (``which="activations"``) or ``pre_cov``; an error naming ``func`` when
        the activation covariance is needed but missing."""
        cov = self.act_cov if which == "activations" else self.pre_cov
        if cov is None:
            raise InvalidParameterError(
                f"The 'act_cov' parameter of {func} is needed by this choice (the activation "
                "covariance of the layer's units; statmech.prune_student computes it for a "
                "teacher-student layer). Got None.", func=func, param="act_cov")
        return cov


def fold_outgoing(cov: np.ndarray, W_out: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """W_out′ (n, C, k) after least-squares folding of the removed units (module docstring)."""
    n, k = sets.shape
    H = W_out.shape[1]
    out = np.empty((n, W_out.shape[0], k))
    for r in range(n):
        S = sets[r]
        Rm = np.setdiff1d(np.arange(H), S)
        coef = np.linalg.lstsq(cov[np.ix_(S, S)], cov[np.ix_(S, Rm)], rcond=None)[0]  # (k, |R|)
        out[r] = W_out[:, S] + W_out[:, Rm] @ coef.T
    return out


class NodeMethod(PruningMethod, kind="node"):
    """Base class of the node methods: a distribution over the set S of k kept units.

    The explicit operator samples kept sets from it and the theory enumerates it (or uses its
    inclusion probabilities), on the same :class:`NodeContext` (module docstring). Contract of a
    subclass (checked when the class is defined, except what depends on the arrays:
    :class:`TypeError` naming the missing piece; ``tests/statmech/test_method_contract.py`` checks
    every registered method against all of it):

    1. Class attributes. Required, non-empty strings: ``name``, ``label``, ``color``,
       ``marker``. Optional: ``variants`` (default ``("default",)``), ``options`` (``{}``),
       ``in_gallery`` (False), ``order`` (100), ``reconstructs`` (False: set True when
       :meth:`outgoing` rebuilds the next layer by itself), as described by
       :class:`~statmech.pruning.base.PruningMethod`. ``kind`` is ``"node"``, from this class:
       do not set it.
    2. ``exact_distribution(ctx, k, variant, **options) -> (sets, probs)``, required: the whole
       distribution of the kept set for ``ctx`` (H units) and k in [1, H]. ``sets``, int (n, k):
       each row k distinct unit indices in [0, H), sorted ascending; ``probs``, float (n,) >= 0
       summing to 1 (zero-probability rows are allowed and dropped). Called only when
       ``distribution_size(H, k) <= ENUMERATION_LIMIT``.
    3. ``sample_sets(ctx, k, variant, rng, n, **options) -> sets``, required: int (n, k), n
       independent draws from that distribution (each row k distinct indices in [0, H), in any
       order: the caller sorts them), ``rng`` a :class:`numpy.random.Generator` (the only
       source of randomness).
    4. ``inclusion(ctx, k, variant, **options) -> (pi1, pi2) or None``, optional, default None:
       exact inclusion probabilities without enumeration, pi1[i] = P(i ∈ S), float (H,) in
       [0, 1] summing to k, and pi2[i, j] = P(i, j ∈ S), float (H, H), symmetric, diagonal pi1,
       each row summing to k·pi1[i]. Used by the theory (with ``reweight=None``) when the
       distribution is too large to enumerate; None: the theory samples kept sets.
    5. ``outgoing(ctx, sets, reweight, func, **options) -> W_out``, optional: the kept units'
       new outgoing weights, float (n, C, k), for sorted ``sets`` (n, k). Default: their
       columns of ``ctx.W_out`` (``reweight=None``) or the least-squares fold of the removed
       units (``"activations"`` / ``"preactivations"``, :func:`fold_outgoing`).
    6. ``distribution_size(H, k) -> int``, optional, default C(H, k): the number of sets
       :meth:`exact_distribution` returns (1 for a deterministic method).

    Given these, the expected pruned order parameters (:meth:`theory`) are E[Q′]_ij = π_ij Q_ij
    (symmetric positive semi-definite) and E[R′]_im = π_i R_im, with the exact E[ε_g] over the
    kept sets and its spread (:meth:`expectation`).

    Provided here, not overridden: :meth:`prune` (the explicit operator: sampled sets, new
    outgoing weights, a :class:`~statmech.pruning.base.PruningResult` whose ``W`` holds the k
    kept rows, ``kept`` the sorted kept sets), :meth:`prune_layer` (what :func:`statmech.prune`
    runs), :meth:`theory` (what :func:`statmech.prune_theory` runs) and :meth:`expectation`.

    Adding a method: one module defining the subclass and ending with ``MY_METHOD =
    register(MyMethod())`` (:func:`statmech.pruning.base.register`), imported in
    ``statmech/pruning/__init__.py``.
    """

    required_hooks: ClassVar[tuple[str, ...]] = ("exact_distribution", "sample_sets")

    # -- the distribution over kept sets -------------------------------------------------
    def exact_distribution(self, ctx: NodeContext, k: int, variant: str,
                           **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(sets (n, k), probabilities (n,)) of the kept set; may enumerate all C(H, k)
        (contract item 2)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, **options: Any) -> np.ndarray:
        """n kept sets (n, k) (contract item 3)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def inclusion(self, ctx: NodeContext, k: int, variant: str,
                  **options: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact (π_i, π_ij) without enumeration, if the method has them (else None; contract
        item 4)."""
        return None

    def outgoing(self, ctx: NodeContext, sets: np.ndarray, reweight: str | None, func: str,
                 **options: Any) -> np.ndarray:
        """New outgoing weights (n, C, k) of the kept units (contract item 5)."""
        if reweight is None:
            return np.swapaxes(ctx.W_out.T[sets], 1, 2)
        return fold_outgoing(ctx.cov_for(reweight, func), ctx.W_out, sets)

    def matched_keep(self, k: int, K: int, N: int) -> int:
        """The keep that matches k of K units in parameters: k units."""
        return int(k)

    # -- explicit operator -----------------------------------------------------------------
    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, reweight: str | None = None, func: str = "prune",
              **options: Any) -> PruningResult:
        """``n_masks`` kept sets of ``keep`` units drawn by :meth:`sample_sets`, their outgoing
        weights by :meth:`outgoing` (removed units' mean activations folded into ``bias_out``
        when the layer has ``act_mean``: :func:`~statmech.pruning.base.node_result`)."""
        ctx = NodeContext.from_layer(layer)
        sets = np.sort(self.sample_sets(ctx, keep, variant, rng, n_masks, **options), axis=1)
        W_out = self.outgoing(ctx, sets, reweight, func, **options)
        return node_result(self, variant, layer, sets, W_out=W_out,
                           info={"reweight": reweight})

    def prune_layer(self, layer: Layer, keep: Any, variant: str, *, n_masks: int = 1,
                    seed: Any = None, reweight: str | None = None, backend: Any = None,
                    func: str = "prune", **options: Any) -> PruningResult:
        """:meth:`prune` with ``keep`` as units (an int in [1, H] or a fraction of H) and
        ``backend`` (a Backend or None) holding the result (selected on the host); the
        arguments are validated by :func:`statmech.prune`."""
        k = parse_keep(keep, layer.H, "units kept", func)
        res = self.prune(layer, k, variant, np.random.default_rng(seed), n_masks,
                         reweight=reweight, func=func, **options)
        return res if backend is None else result_on_backend(res, backend)

    # -- theory ----------------------------------------------------------------------------
    def expectation(self, ctx: NodeContext, I2: np.ndarray, v_star: np.ndarray, k: int,
                    variant: str, reweight: str | None, rng: np.random.Generator,
                    n_samples: int = 4000, func: str = "pruned_error",
                    **options: Any) -> NodeExpectation:
        """E[ε_g] and its spread over kept sets (``node_theory`` docstring); C must be 1."""
        H = ctx.H
        v = ctx.W_out[0]

        def embed(sets: np.ndarray, W_out: np.ndarray) -> np.ndarray:
            vk = np.zeros((sets.shape[0], H))
            np.put_along_axis(vk, sets, W_out[:, 0, :], axis=1)
            return vk

        if self.distribution_size(H, k) <= ENUMERATION_LIMIT:
            sets, probs = self.exact_distribution(ctx, k, variant, **options)
            sel = probs > 0
            sets, probs = sets[sel], probs[sel]
            vk = embed(sets, self.outgoing(ctx, sets, reweight, func, **options))
            return expectation_over_sets(I2, H, vk, v_star, sets, probs)
        sampled = np.sort(self.sample_sets(ctx, k, variant, rng, n_samples, **options), 1)
        inc = self.inclusion(ctx, k, variant, **options) if reweight is None else None
        if inc is not None:  # exact mean from inclusion probabilities, sampled spread
            return expectation_from_inclusion(I2, H, v, v_star, inc[0], inc[1], sampled)
        vk = embed(sampled, self.outgoing(ctx, sampled, reweight, func, **options))
        res = expectation_over_sets(I2, H, vk, v_star, sampled,
                                    np.full(sampled.shape[0], 1.0 / sampled.shape[0]))
        return NodeExpectation(res.mean, res.std, False, res.pi1, res.pi2, res.mean_v)

    def retraining_start(self, op: OrderParameters, keep: Any, variant: str, *,
                         reweight: str | None, student: Activation, teacher: Activation,
                         seed: Any = 0, n_samples: int = 4000, func: str = "retrain_theory",
                         **options: Any) -> tuple[OrderParameters, np.ndarray, bool]:
        """Where retraining starts: the kept units' order parameters for every kept set
        (batched, with their outgoing weights), the sets' probabilities and whether they are
        exact (enumerated, at most :data:`RETRAIN_ENUMERATION_LIMIT` sets) or ``n_samples``
        sampled sets of equal weight. Node pruning leaves the kept units' (Q, R) unchanged, so
        retraining is the dense ODE of the k kept units from there."""
        K = op.K
        Q, R, T, v, vs = (np.asarray(a, dtype=float) for a in (op.Q, op.R, op.T, op.v, op.v_star))
        k = parse_keep(keep, K, "units kept", func)
        I2 = full_I2(op, student, teacher)
        ctx = NodeContext(v[None, :], np.sqrt(np.diagonal(Q)), Q, I2[:K, :K])
        if self.distribution_size(K, k) <= RETRAIN_ENUMERATION_LIMIT:
            sets, probs = self.exact_distribution(ctx, k, variant, **options)
            sel = probs > 0
            sets, probs, exact = sets[sel], probs[sel] / probs[sel].sum(), True
        else:
            rng = np.random.default_rng(seed)
            sets = np.sort(self.sample_sets(ctx, k, variant, rng, n_samples, **options), axis=1)
            probs, exact = np.full(sets.shape[0], 1.0 / sets.shape[0]), False
        W_out = self.outgoing(ctx, sets, reweight, func, **options)
        ops = OrderParameters(Q[sets[:, :, None], sets[:, None, :]], R[sets], T, W_out[:, 0, :],
                              vs)
        return ops, probs, exact

    def distribution_size(self, H: int, k: int) -> int:
        """Number of kept sets with positive probability to enumerate (C(H, k) by default;
        contract item 6)."""
        return n_subsets(H, k)

    def theory(self, op: OrderParameters, keep: Any, variant: str, *, reweight: str | None,
               student: Activation, teacher: Activation, N: int | None = None,
               weights: Any = None, teacher_weights: Any = None, seed: Any = 0,
               n_samples: int = 4000, func: str = "prune_theory",
               **options: Any) -> PruneTheory:
        """The node theory of :func:`statmech.prune_theory` (its docstring): the exact
        expectation over the kept set (:meth:`expectation`) with Q, R and I2 from ``op``;
        ``N``, ``weights`` and ``teacher_weights`` are not needed (node pruning leaves the kept
        units' order parameters unchanged at any N)."""
        K = op.K
        Q, R, T, v, vs = (np.asarray(a, dtype=float) for a in (op.Q, op.R, op.T, op.v, op.v_star))
        k = parse_keep(keep, K, "units kept", func)
        I2 = full_I2(op, student, teacher)
        ctx = NodeContext(v[None, :], np.sqrt(np.diagonal(Q)), Q, I2[:K, :K])
        ex = self.expectation(ctx, I2, vs, k, variant, reweight, np.random.default_rng(seed),
                              n_samples=n_samples, func=func, **options)
        Qm = ex.pi2 * Q
        Rm = ex.pi1[:, None] * R
        eg_mean_ops = float(eg_of(Qm, Rm, T, ex.mean_v, vs, student, teacher))
        kept = None
        if ex.sets is not None:
            best = int(np.argmax(ex.probs))
            S = ex.sets[best]
            vk = self.outgoing(ctx, ex.sets[best:best + 1], reweight, func, **options)[0, 0]
            kept = OrderParameters(Q[np.ix_(S, S)], R[S], T, vk, vs)
        return PruneTheory(self.name, variant, k, Qm, Rm, ex.mean_v, ex.mean, eg_mean_ops,
                           ex.std, ex.exact, kept, {"pi1": ex.pi1, "pi2": ex.pi2})


def uniform_sets(H: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All k-subsets with equal probability."""
    sets = all_subsets(H, k)
    return sets, np.full(sets.shape[0], 1.0 / sets.shape[0])


def deterministic(set_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A single kept set with probability one."""
    return np.sort(np.asarray(set_, dtype=int))[None, :], np.ones(1)
