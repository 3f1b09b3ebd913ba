"""Magnitude edge pruning: keep the e largest |w| of each unit (default), or variant
``"global"``: one magnitude threshold for the whole layer (e·H weights kept in total).

Theory with Gaussian weight coordinates (``theory_tools`` docstring), keep fraction c = e/N and
unit k's threshold a_k = z_k √Q_kk with 2(1 − Φ(z_k)) = c (per unit) or a common threshold t with
Σ_k 2(1 − Φ(t/√Q_kk)) = K c (global). With X, Y centred bivariate normal:

* E[Q′_kk] = Q_kk m(z_k), m(z) = E[X² 1{|X| > z}] = 2(1 − Φ(z)) + 2zφ(z) for X ~ N(0, 1);
* E[R′_km] = R_km m(z_k)   (E[XY 1{|X| > a}] = Cov(X, Y)/Var X · E[X² 1{|X| > a}]);
* E[Q′_kl] = E[w_k w_l 1{|w_k| > a_k} 1{|w_l| > a_l}], the truncated bivariate cross moment
  (one-dimensional quadrature, ``theory_tools.truncated_cross_moment``, graded towards the kink
  of the conditional truncated mean so that it stays accurate as |ρ_kl| → 1;
  ``docs/dpp_edge_theory.md`` §4).

With ``weights=`` the masks are deterministic and the pruned order parameters are computed from the
actual coordinates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from .base import Layer, PruningResult, edge_result, register
from .edge_method import EdgeMethod
from .theory_tools import truncated_cross_moment, truncated_second_moment


def magnitude_mask(W: np.ndarray, keep: int, variant: str) -> np.ndarray:
    """Boolean mask (H, D) of the kept weights (ties broken by position)."""
    H, D = W.shape
    a = np.abs(W)
    if variant == "global":
        flat = np.argsort(-a, axis=None, kind="stable")[: keep * H]
        mask = np.zeros(H * D, dtype=bool)
        mask[flat] = True
        return mask.reshape(H, D)
    idx = np.argsort(-a, axis=1, kind="stable")[:, :keep]
    mask = np.zeros((H, D), dtype=bool)
    np.put_along_axis(mask, idx, True, axis=1)
    return mask


class MagnitudeEdge(EdgeMethod):
    """The e largest |w| per unit (or one threshold for the layer)."""

    name = "magnitude_edge"
    label = "magnitude edge"
    color = "#CC79A7"
    marker = "P"
    in_gallery = True
    order = 20
    variants = ("per_unit", "global")
    deterministic = True

    def inclusion_probabilities(self, W: np.ndarray, e: int, variant: str,
                                **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """The deterministic mask as P (K, N) in {0, 1} and P2 = P_k P_l."""
        P = magnitude_mask(W, e, variant).astype(float)
        return P, P[:, None, :] * P[None, :, :]

    def backend_mask(self, variant: str, W: Any, keep: int, n_masks: int, backend: Any,
                     seed: Any) -> Any:
        """Masks computed on the backend (:mod:`statmech.pruning.backend_ops`)."""
        from .backend_ops import magnitude_edge_mask_on_backend

        return magnitude_edge_mask_on_backend(variant, W, keep, n_masks, backend)

    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:
        """The deterministic :func:`magnitude_mask`, repeated ``n_masks`` times."""
        mask = np.broadcast_to(magnitude_mask(layer.W, keep, variant),
                               (n_masks, layer.H, layer.D)).copy()
        return edge_result(self, variant, layer, mask, keep)

    def large_n_inclusion(self, Z: np.ndarray, Q: np.ndarray, c: float, variant: str,
                          **options: Any) -> np.ndarray:
        """Kept where |w_k| exceeds the large-N threshold z_k·√Q_kk (:meth:`thresholds`)."""
        t = self.thresholds(Q, c, variant) * np.sqrt(np.diagonal(Q))
        return (np.abs(Z) > t).astype(float)

    @staticmethod
    def thresholds(Q: np.ndarray, c: float, variant: str) -> np.ndarray:
        """Standardised thresholds z_k (module docstring)."""
        s = np.sqrt(np.diagonal(Q))
        if variant == "global":
            K = s.size
            if c >= 1.0:
                return np.zeros(K)
            f = lambda t: np.sum(2.0 * ndtr(-t / s)) - K * c  # noqa: E731
            t = brentq(f, 0.0, 40.0 * s.max())
            return t / s
        return np.full(s.size, ndtri(1.0 - c / 2.0) if c < 1 else 0.0)

    def expected_order_parameters(self, Q: np.ndarray, R: np.ndarray, c: float,
                                  variant: str = "per_unit",
                                  **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(E[Q′], E[R′]) under Gaussian coordinates (module docstring)."""
        K = Q.shape[0]
        z = self.thresholds(Q, c, variant)
        s = np.sqrt(np.diagonal(Q))
        m = truncated_second_moment(z)
        Qp = np.empty_like(Q)
        for k in range(K):
            Qp[k, k] = Q[k, k] * m[k]
            for j in range(k + 1, K):
                rho = Q[k, j] / (s[k] * s[j]) if s[k] > 0 and s[j] > 0 else 0.0
                Qp[k, j] = Qp[j, k] = truncated_cross_moment(s[k], s[j], rho, z[k] * s[k],
                                                             z[j] * s[j])
        return Qp, R * m[:, None]


MAGNITUDE_EDGE = register(MagnitudeEdge())
