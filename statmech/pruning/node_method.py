"""The common part of the node-pruning methods: selection statistics, outgoing-weight rules, the
explicit operator and the theory, written once on the same matrices.

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
from typing import Any

import numpy as np

from .._validation import InvalidParameterError
from .base import Layer, PruningMethod, PruningResult, node_result
from .node_theory import (
    ENUMERATION_LIMIT,
    NodeExpectation,
    all_subsets,
    expectation_from_inclusion,
    expectation_over_sets,
    n_subsets,
)

REWEIGHT_CHOICES = (None, "activations", "preactivations")


@dataclass(frozen=True)
class NodeContext:
    """Matrices a node method selects on (module docstring)."""

    W_out: np.ndarray  # (C, H)
    row_norms: np.ndarray  # (H,)
    pre_cov: np.ndarray | None  # (H, H)
    act_cov: np.ndarray | None  # (H, H)

    @property
    def H(self) -> int:
        return self.W_out.shape[1]

    @classmethod
    def from_layer(cls, layer: Layer) -> NodeContext:
        pre = layer.pre_cov
        if pre is None:  # W Ĉ Wᵀ / D, or W Wᵀ / D for isotropic inputs
            Wc = layer.W if layer.input_cov is None else layer.W @ layer.input_cov
            pre = Wc @ layer.W.T / layer.D
        return cls(layer.W_out, np.linalg.norm(layer.W, axis=1), pre, layer.act_cov)

    def cov_for(self, which: str, func: str) -> np.ndarray:
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


class NodeMethod(PruningMethod):
    """Base class of node methods: subclasses define the kept-set distribution."""

    kind = "node"

    # -- the distribution over kept sets -------------------------------------------------
    def exact_distribution(self, ctx: NodeContext, k: int, variant: str,
                           **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(sets (n, k), probabilities (n,)) of the kept set; may enumerate all C(H, k)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, **options: Any) -> np.ndarray:
        """n kept sets (n, k), sorted rows."""
        raise NotImplementedError  # pragma: no cover - abstract

    def inclusion(self, ctx: NodeContext, k: int, variant: str,
                  **options: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact (π_i, π_ij) without enumeration, if the method has them (else None)."""
        return None

    def outgoing(self, ctx: NodeContext, sets: np.ndarray, reweight: str | None, func: str,
                 **options: Any) -> np.ndarray:
        """New outgoing weights (n, C, k) of the kept units."""
        if reweight is None:
            return np.swapaxes(ctx.W_out.T[sets], 1, 2)
        return fold_outgoing(ctx.cov_for(reweight, func), ctx.W_out, sets)

    # -- explicit operator -----------------------------------------------------------------
    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, reweight: str | None = None, func: str = "prune",
              **options: Any) -> PruningResult:
        ctx = NodeContext.from_layer(layer)
        sets = np.sort(self.sample_sets(ctx, keep, variant, rng, n_masks, **options), axis=1)
        W_out = self.outgoing(ctx, sets, reweight, func, **options)
        return node_result(self, variant, layer, sets, W_out=W_out,
                           info={"reweight": reweight})

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

    def distribution_size(self, H: int, k: int) -> int:
        """Number of kept sets with positive probability to enumerate (C(H, k) by default)."""
        return n_subsets(H, k)


def uniform_sets(H: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All k-subsets with equal probability."""
    sets = all_subsets(H, k)
    return sets, np.full(sets.shape[0], 1.0 / sets.shape[0])


def deterministic(set_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A single kept set with probability one."""
    return np.sort(np.asarray(set_, dtype=int))[None, :], np.ones(1)
