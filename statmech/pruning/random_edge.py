"""Random edge pruning: exactly e kept incoming edges per unit, uniform (default); variant
``"bernoulli"`` keeps each weight independently with probability c = e/D (the reference
implementation's choice, ``docs/seed_paper.md`` §4.4).

Theory (``docs/pruning_theory.md`` §2.2): masks are independent across units and E[m_ik] = c, so
E[Q′_kk] = c Q_kk, E[Q′_kl] = c² Q_kl (k ≠ l), E[R′_km] = c R_km; T and v unchanged. The pruned
order parameters concentrate on these values as N → ∞ for either variant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..theory.masked import MaskedOrderParameters
from ..theory.order_parameters import OrderParameters
from .base import Layer, PruningResult, edge_result, register
from .edge_method import EdgeMethod


class RandomEdge(EdgeMethod):
    """e uniformly random incoming edges per unit (or Bernoulli(c) per weight)."""

    name = "random_edge"
    label = "random edge"
    color = "#D55E00"
    marker = "o"
    in_gallery = True
    order = 10
    variants = ("exact", "bernoulli")

    def fixed_count(self, variant: str) -> bool:
        """Exactly e edges per unit, except for the ``"bernoulli"`` variant."""
        return variant != "bernoulli"

    def inclusion_probabilities(self, W: np.ndarray, e: int, variant: str,
                                **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """P (K, N) = e/N for every weight and P2 (K, K, N) = (e/N)² (distinct units are
        independent; the diagonal is set to P by the caller)."""
        K, N = W.shape
        c = e / N
        return np.full((K, N), c), np.full((K, K, N), c * c)

    def backend_mask(self, variant: str, W: Any, keep: int, n_masks: int, backend: Any,
                     seed: Any) -> Any:
        """Masks drawn on the backend (:mod:`statmech.pruning.backend_ops`)."""
        from .backend_ops import random_edge_mask_on_backend

        return random_edge_mask_on_backend(variant, W, keep, n_masks, backend, seed)

    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:
        """Uniform e-subsets per unit (the e smallest of i.i.d. uniforms), or Bernoulli(e/D)."""
        H, D = layer.H, layer.D
        if variant == "bernoulli":
            mask = rng.random((n_masks, H, D)) < keep / D
        else:  # the e smallest of i.i.d. uniforms: a uniform e-subset per unit
            u = rng.random((n_masks, H, D))
            idx = np.argpartition(u, keep - 1, axis=-1)[..., :keep]
            mask = np.zeros((n_masks, H, D), dtype=bool)
            np.put_along_axis(mask, idx, True, axis=-1)
        return edge_result(self, variant, layer, mask, keep)

    def large_n_cells(self, op: OrderParameters, c: float, variant: str, n: int, seed: Any,
                      **options: Any) -> MaskedOrderParameters:
        """The closed form p_s = c^|s| (1 − c)^(K−|s|), Q^s = p_s Q on s × s, ...
        (:meth:`statmech.MaskedOrderParameters.random_edge`); ``n`` and ``seed`` unused."""
        return MaskedOrderParameters.random_edge(op, c)

    def expected_order_parameters(self, Q: np.ndarray, R: np.ndarray, c: float,
                                  variant: str | None = None,
                                  **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(E[Q′], E[R′]) for keep fraction c, either variant (module docstring)."""
        Qp = c * c * Q
        idx = np.arange(Q.shape[-1])
        Qp[..., idx, idx] = c * Q[..., idx, idx]
        return Qp, c * R


RANDOM_EDGE = register(RandomEdge())
