"""DPP node pruning: the kept units are a k-DPP, P(S) = det(L_S)/e_k(L).

Kernels: ``"linear"`` (default, as in the reference implementation's teacher–student code): the
Gram matrix of the pre-activations, L = W Ĉ Wᵀ (∝ Q in theory: the scale of L does not matter for
a k-DPP); ``"rbf"``: L_kl = exp(−β d²_kl) + jitter·δ_kl with the activation-space distance
d²_kl = E[(g(λ_k) − g(λ_l))²] = A_kk + A_ll − 2A_kl (A the activation covariance: I2 in theory,
measured on data otherwise). Default β = 1/median(d²_{k≠l}) (the median heuristic; 1 if all
distances vanish); default jitter 0 (the reference used 0.01 on real data).

Theory: exact enumeration of the C(K, k) subsets' probabilities, or the first- and second-order
inclusion probabilities π_i (:func:`statmech.pruning.dpp.inclusion_probabilities`) and
π_ij = det(L_{ij}) e_{k−2}(L^{(ij)}) / e_k(L), L^{(ij)} the Schur complement of the pair (the
k-DPP conditioned on containing i and j).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import Options, Real, check
from .base import register
from .node_method import NodeContext, NodeMethod
from .node_theory import all_subsets

KERNELS = ("linear", "rbf")


def node_kernel(ctx: NodeContext, kernel: str = "linear", beta: float | None = None,
                jitter: float = 0.0, func: str = "prune") -> np.ndarray:
    """The DPP-node kernel (module docstring)."""
    for name, value in (("kernel", kernel), ("beta", beta), ("jitter", jitter)):
        check(value, name, func, DPPNode.options[name])  # the options' declared constraints
    if kernel == "linear":
        L = np.array(ctx.pre_cov, dtype=float)
    else:
        A = ctx.cov_for("activations", func)
        d = np.diagonal(A)
        d2 = np.maximum(d[:, None] + d[None, :] - 2.0 * A, 0.0)
        if beta is None:
            off = d2[~np.eye(d2.shape[0], dtype=bool)]
            med = float(np.median(off)) if off.size else 0.0
            beta = 1.0 / med if med > 0 else 1.0
        L = np.exp(-beta * d2)
    if jitter:
        L = L + jitter * np.eye(L.shape[0])
    return 0.5 * (L + L.T)


class DPPNode(NodeMethod):
    """k-DPP over units (linear Gram or RBF activation kernel), optional reweighting."""

    name = "dpp_node"
    label = "DPP node"
    color = "#009E73"
    marker = "D"
    in_gallery = True
    order = 60
    variants = ("default",)
    options = {"kernel": [Options(KERNELS)], "beta": [None, Real(0.0, closed="neither")],
               "jitter": [Real(0.0)]}

    def exact_distribution(self, ctx: NodeContext, k: int, variant: str, kernel: str = "linear",
                           beta: float | None = None, jitter: float = 0.0, **options: Any):
        L = node_kernel(ctx, kernel, beta, jitter)
        sets = all_subsets(ctx.H, k)
        sub = L[sets[:, :, None], sets[:, None, :]]
        sign, logdet = np.linalg.slogdet(sub)
        logdet = np.where(sign > 0, logdet, -np.inf)
        if not np.isfinite(logdet).any():
            raise ValueError(f"The DPP-node kernel has numerical rank below k = {k}: no {k}-subset "
                             "has a positive determinant. Add 'jitter' or keep fewer units.")
        p = np.exp(logdet - logdet.max())
        return sets, p / p.sum()

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, kernel: str = "linear", beta: float | None = None,
                    jitter: float = 0.0, **options: Any) -> np.ndarray:
        from .dpp import sample_k_dpp

        return sample_k_dpp(node_kernel(ctx, kernel, beta, jitter), k, size=n, seed=rng)

    def inclusion(self, ctx: NodeContext, k: int, variant: str, kernel: str = "linear",
                  beta: float | None = None, jitter: float = 0.0, **options: Any):
        from .dpp import inclusion_probabilities, log_normaliser

        L = node_kernel(ctx, kernel, beta, jitter)
        H = L.shape[0]
        pi1 = inclusion_probabilities(L, k)
        pi2 = np.zeros((H, H))
        if k >= 2:
            logz = log_normaliser(L, k)
            for i in range(H):
                for j in range(i + 1, H):
                    pair = [i, j]
                    rest = np.setdiff1d(np.arange(H), pair)
                    Lp = L[np.ix_(pair, pair)]
                    sign, ld = np.linalg.slogdet(Lp)
                    if sign <= 0:
                        continue
                    schur = L[np.ix_(rest, rest)] - L[np.ix_(rest, pair)] @ np.linalg.solve(
                        Lp, L[np.ix_(pair, rest)])
                    # e_{k−2} of the Schur complement's eigenvalues (round-off negatives → 0)
                    w = np.clip(np.linalg.eigvalsh(0.5 * (schur + schur.T)), 0.0, None)
                    pi2[i, j] = pi2[j, i] = np.exp(ld + log_normaliser(np.diag(w), k - 2) - logz)
        np.fill_diagonal(pi2, pi1)
        return pi1, pi2


DPP_NODE = register(DPPNode())
