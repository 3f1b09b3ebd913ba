"""Magnitude node pruning: keep the k units with the largest score.

Variants: ``"norm"`` (default) |v_k|·‖w_k‖ (‖W_out[:, k]‖ for several outputs); ``"v"``: |v_k|
alone; ``"signed"``: the signed v_k, reproducing the reference implementation's bug (units with
v < 0 are pruned first; ``docs/seed_paper.md`` §4.3) — for reproduction only. Deterministic; ties
are broken by unit index. In theory ‖w_k‖ ∝ √Q_kk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import register
from .node_method import NodeContext, NodeMethod, deterministic


class MagnitudeNode(NodeMethod):
    """The k units with the largest |v|·||w|| (or |v|, or signed v)."""

    name = "magnitude_node"
    label = "magnitude node"
    color = "#999933"
    marker = "X"
    in_gallery = True
    order = 50
    variants = ("norm", "v", "signed")

    @staticmethod
    def scores(ctx: NodeContext, variant: str) -> np.ndarray:
        out = np.linalg.norm(ctx.W_out, axis=0)
        if variant == "signed":
            if ctx.W_out.shape[0] != 1:
                raise ValueError("The 'signed' variant of magnitude_node needs one output.")
            return ctx.W_out[0].copy()
        return out * ctx.row_norms if variant == "norm" else out

    def chosen(self, ctx: NodeContext, k: int, variant: str) -> np.ndarray:
        return np.sort(np.argsort(-self.scores(ctx, variant), kind="stable")[:k])

    def exact_distribution(self, ctx: NodeContext, k: int, variant: str, **options: Any):
        return deterministic(self.chosen(ctx, k, variant))

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, **options: Any) -> np.ndarray:
        return np.broadcast_to(self.chosen(ctx, k, variant), (n, k)).copy()

    def distribution_size(self, H: int, k: int) -> int:
        return 1


MAGNITUDE_NODE = register(MagnitudeNode())
