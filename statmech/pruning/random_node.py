"""Random node pruning: k units kept uniformly at random (π_i = k/H, π_ij = k(k−1)/(H(H−1))).

For the idealised specialised student (``docs/pruning_theory.md`` §4) the expected error is the
hypergeometric closed form E ε_g = (v*²/6) M [(1 − k/K)² + k (z/K)(1 − z/K)(K − k)/((K − 1) z²)].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import register
from .node_method import NodeContext, NodeMethod, uniform_sets


class RandomNode(NodeMethod):
    """k units uniformly at random."""

    name = "random_node"
    label = "random node"
    color = "#E69F00"
    marker = "s"
    in_gallery = True
    order = 40
    variants = ("default",)

    def exact_distribution(self, ctx: NodeContext, k: int, variant: str, **options: Any):
        return uniform_sets(ctx.H, k)

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, **options: Any) -> np.ndarray:
        return np.argpartition(rng.random((n, ctx.H)), k - 1, axis=1)[:, :k]

    def inclusion(self, ctx: NodeContext, k: int, variant: str, **options: Any):
        H = ctx.H
        pi2 = np.full((H, H), k * (k - 1) / (H * (H - 1)) if H > 1 else 0.0)
        np.fill_diagonal(pi2, k / H)  # P(i, i ∈ S) = P(i ∈ S)
        return np.full(H, k / H), pi2


RANDOM_NODE = register(RandomNode())
