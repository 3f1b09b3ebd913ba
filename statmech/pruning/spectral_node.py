"""Spectral node pruning (Suzuki et al., arXiv 1808.08558; ``companion_papers.md`` §3).

With Σ the (uncentred) activation covariance (I2 in theory), the kept set J minimises the ridge
information loss L^A(J) + θ L^B(J) = Tr[M R_J], R_J = Σ − Σ_FJ (Σ_JJ + τ𝟙)⁻¹ Σ_JF and
M = 𝟙 + θ W_outᵀ W_out. Greedy forward selection with rank-one (Schur-complement) updates: with the
residual matrix Res = R_J, adding unit j lowers the loss by (Res_{:,j}ᵀ M Res_{:,j}) / (Res_jj + τ)
and updates Res ← Res − Res_{:,j} Res_{j,:} / (Res_jj + τ); O(H²(H + C)) per step. The kept units'
new outgoing weights are W_out Â_J with the reconstruction matrix Â_J = Σ_FJ (Σ_JJ + τ𝟙)⁻¹.

Defaults: τ = 10⁻³ Tr(Σ)/H (uniform ridge), θ = 1. As τ → 0 the reconstruction equals
least-squares reweighting on the activations (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import register
from .node_method import NodeContext, NodeMethod, deterministic


def default_tau(S: np.ndarray) -> float:
    """τ = 10⁻³ Tr(Σ)/H."""
    return 1e-3 * float(np.trace(S)) / S.shape[0]


def greedy_select(S: np.ndarray, W_out: np.ndarray, k: int, tau: float,
                  theta: float) -> np.ndarray:
    """Greedy minimisation of Tr[M R_J] (module docstring); returns J in selection order."""
    H = S.shape[0]
    Res = np.array(S, dtype=float)
    chosen: list[int] = []
    free = np.ones(H, dtype=bool)
    for _ in range(k):
        num = np.sum(Res * Res, axis=0)
        if theta:
            num = num + theta * np.sum((W_out @ Res) ** 2, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):  # chosen units: Res_jj + τ may be 0
            gain = np.where(free, num / (np.diagonal(Res) + tau), -np.inf)
        gain = np.where(np.isnan(gain), -np.inf, gain)
        j = int(np.argmax(gain))
        chosen.append(j)
        free[j] = False
        r = Res[:, j].copy()
        Res -= np.outer(r, r) / (r[j] + tau)
    return np.array(chosen)


class SpectralNode(NodeMethod):
    name = "spectral_node"
    variants = ("default",)
    description = "greedy ridge-information-loss selection with reconstruction (Suzuki et al.)"
    reconstructs = True

    @staticmethod
    def _params(ctx: NodeContext, tau: float | None, theta: float, func: str):
        S = ctx.cov_for("activations", func)
        tau = default_tau(S) if tau is None else tau
        if not (np.isfinite(tau) and tau >= 0):
            raise ValueError(f"The 'tau' parameter of {func} must be a finite float >= 0. "
                             f"Got {tau!r} instead.")
        if not (np.isfinite(theta) and theta >= 0):
            raise ValueError(f"The 'theta' parameter of {func} must be a finite float >= 0. "
                             f"Got {theta!r} instead.")
        return S, float(tau), float(theta)

    def chosen(self, ctx: NodeContext, k: int, tau: float | None = None, theta: float = 1.0,
               func: str = "prune") -> np.ndarray:
        S, tau, theta = self._params(ctx, tau, theta, func)
        return np.sort(greedy_select(S, ctx.W_out, k, tau, theta))

    def exact_distribution(self, ctx: NodeContext, k: int, variant: str, tau: float | None = None,
                           theta: float = 1.0, **options: Any):
        return deterministic(self.chosen(ctx, k, tau, theta))

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, tau: float | None = None, theta: float = 1.0,
                    **options: Any) -> np.ndarray:
        return np.broadcast_to(self.chosen(ctx, k, tau, theta), (n, k)).copy()

    def distribution_size(self, H: int, k: int) -> int:
        return 1

    def outgoing(self, ctx: NodeContext, sets: np.ndarray, reweight: str | None, func: str,
                 tau: float | None = None, theta: float = 1.0, **options: Any) -> np.ndarray:
        """W_out Â_J with Â_J = Σ_FJ (Σ_JJ + τ𝟙)⁻¹ (the reconstruction; ``reweight`` unused)."""
        S, tau, _ = self._params(ctx, tau, theta, func)
        n, k = sets.shape
        out = np.empty((n, ctx.W_out.shape[0], k))
        for r in range(n):
            J = sets[r]
            A = np.linalg.solve(S[np.ix_(J, J)] + tau * np.eye(k), S[J])  # (k, H) = Â_Jᵀ
            out[r] = ctx.W_out @ A.T
        return out


SPECTRAL_NODE = register(SpectralNode())
