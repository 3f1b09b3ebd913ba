"""Randomised magnitude-based edge pruning (MBP) of Guha, Dubey & Huo (arXiv 2305.18789;
``docs/companion_papers.md`` §1.3): every weight is kept independently with probability
p(w) = 1 − exp(−w²/(dΨ)), no rescaling (:func:`statmech.companion.mbp.mbp_mask`).

``keep`` is the *target kept fraction* c (an edge count e per unit is read as c = e/D), turned
into the compression parameter by d = κ⁻¹(c) (``d_for_fraction``; κ(d) = 1 − √(d/(d+2)) is the
expected kept fraction of Gaussian weights); the option ``d=`` gives d directly (it then takes
precedence over ``keep``). Masks are random; the number of kept edges per unit is not fixed.
The only variant is named ``"bernoulli"`` (independent Bernoulli masks, like random edge's
``"bernoulli"`` variant): ``fixed_count`` is False, so the finite-N mask covariances of
:func:`statmech.prune_theory` have no fixed-count (Hájek) correction.

**Ψ, the decision.** The reference rule uses one Ψ per layer: the variance of *all* entries of
W. Here too: the explicit operator uses Ψ = ``np.var(W)`` over the whole layer (also with
``weights=`` in the theory), and the large-N theory uses its limit Ψ = mean_k Q_kk (coordinates
have zero mean). Per-unit Ψ_k = Q_kk would make every unit keep the fraction κ(d); with one Ψ
unit k keeps 1 − (1 + 2Q_kk/(dΨ))^{−1/2}, so large-norm units keep more.

**Theory** (Gaussian coordinates of covariance [[Q, R], [Rᵀ, T]], ``theory_tools``). With
a = 2/(dΨ), p(w) = 1 − exp(−½ a w²) and the Gaussian identity, for a zero-mean vector of
covariance C and D = diag(a_i) ≥ 0,

    E[x_i x_j exp(−½ xᵀDx)] = det(I + CD)^{−1/2} [(I + CD)^{−1} C]_ij

(:func:`gaussian_weighted_second_moment`; no inverse of a possibly singular C). For a pair this
is C_12 det(I + CD)^{−3/2}, hence, with g_k = (1 + a Q_kk)^{−3/2},

* E[Q′_kk] = Q_kk (1 − g_k),  E[R′_km] = R_km (1 − g_k);
* E[Q′_kl] = Q_kl [1 − g_k − g_l + ((1 + aQ_kk)(1 + aQ_ll) − a² Q_kl²)^{−3/2}]   (k ≠ l).

With ``weights=`` (finite N) the masks are still random: E[Q′_kl] = Σ_n w_kn w_ln p_kn p_ln / N
(k ≠ l), Σ_n w_kn² p_kn / N (k = l), E[R′_km] = Σ_n p_kn w_kn w*_mn / N.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import Boolean, Real, check
from .base import Layer, PruningResult, edge_result, register
from .edge_method import EdgeMethod

__all__ = ["MBPEdge", "MBP_EDGE", "gaussian_weighted_second_moment"]


def gaussian_weighted_second_moment(C: Any, a: Any) -> np.ndarray:
    """E[x xᵀ exp(−½ xᵀ diag(a) x)] for x ~ N(0, C): det(I + CD)^{−1/2} (I + CD)^{−1} C.

    Valid for any positive semi-definite C (singular included) and a >= 0; equals
    det(I + CD)^{−1/2} (C⁻¹ + D)⁻¹ when C is invertible.
    """
    C = np.asarray(C, dtype=float)
    a = np.broadcast_to(np.asarray(a, dtype=float), C.shape[-1:])
    M = np.eye(C.shape[-1]) + C * a[None, :]
    out = np.linalg.solve(M, C) / math.sqrt(np.linalg.det(M))
    return 0.5 * (out + out.T)


class MBPEdge(EdgeMethod):
    """Randomised magnitude pruning: keep w with prob. 1 − exp(−w²/(dΨ)) (Guha 2023)."""

    name = "mbp_edge"
    label = "MBP edge"
    color = "#882255"
    marker = "h"
    in_gallery = False
    order = 80
    variants = ("bernoulli",)
    options = {"d": [None, Real(0.0)], "keep_diagonal": [Boolean()]}

    def fixed_count(self, variant: str) -> bool:
        """Independent Bernoulli masks: the kept count is random."""
        return False

    @staticmethod
    def compression_parameter(c: float, d: Any = None, func: str = "prune") -> float:
        """d from the target kept fraction c, or the explicit option ``d`` (>= 0)."""
        from ..companion.mbp import d_for_fraction

        check(d, "d", func, MBPEdge.options["d"])  # the option's declared constraint
        return float(d_for_fraction(c)) if d is None else float(d)

    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:
        """Independent Bernoulli(p(w)) masks (module docstring); ``keep`` is the target kept
        count per unit, or the expected one when the option ``d`` is given."""
        from ..companion.mbp import keep_probability, kept_fraction

        # option names and values were checked by statmech.prune (check_options)
        d = self.compression_parameter(keep / layer.D, options.get("d"))
        if options.get("d") is not None:
            keep = max(1, round(float(kept_fraction(d)) * layer.D))
        p = keep_probability(layer.W, d)
        mask = rng.random((n_masks,) + p.shape) < p
        if options.get("keep_diagonal", False):
            k = min(layer.H, layer.D)
            mask[:, np.arange(k), np.arange(k)] = True
        info = {"d": d, "psi": float(np.var(layer.W)), "expected_density": float(p.mean())}
        return edge_result(self, variant, layer, mask, keep, info)

    # -- theory ------------------------------------------------------------------------------

    def expected_order_parameters(self, Q: np.ndarray, R: np.ndarray, c: float,
                                  variant: str = "bernoulli", d: Any = None,
                                  **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(E[Q′], E[R′]) under Gaussian coordinates, Ψ = mean diag Q (module docstring)."""
        d = self.compression_parameter(c, d, "prune_theory")
        Q = np.asarray(Q, dtype=float)
        R = np.asarray(R, dtype=float)
        psi = float(np.mean(np.diagonal(Q)))
        if d == 0.0 or psi == 0.0:
            return Q.copy(), R.copy()
        a = 2.0 / (d * psi)
        q = np.diagonal(Q)
        g = (1.0 + a * q) ** -1.5
        det = np.outer(1.0 + a * q, 1.0 + a * q) - (a * Q) ** 2
        Qp = Q * (1.0 - g[:, None] - g[None, :] + det**-1.5)
        idx = np.arange(Q.shape[0])
        Qp[idx, idx] = q * (1.0 - g)
        return Qp, R * (1.0 - g)[:, None]

    def inclusion_probabilities(self, W: np.ndarray, e: int, variant: str,
                                d: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Keep probabilities P (K, N) of the actual coordinates, and P2 (K, K, N) of pairs
        (P_k P_l off the diagonal: masks of different weights are independent)."""
        from ..companion.mbp import keep_probability

        K, N = W.shape
        P = keep_probability(W, self.compression_parameter(e / N, d, "prune_theory"))
        P2 = P[:, None, :] * P[None, :, :]
        idx = np.arange(K)
        P2[idx, idx] = P
        return P, P2


MBP_EDGE = register(MBPEdge())
