"""DPP edge pruning: for every unit, a k-DPP over its D incoming edges with kernel
L = diag(w) Ĉ diag(w) (Ĉ the input covariance; ``pruning_theory.md`` §3.1).

With Ĉ = 𝟙 (teacher–student inputs, the default) the kernel is diagonal, L = diag(w²), and the
k-DPP is *conditional Poisson sampling*: P(S) ∝ Π_{i∈S} w_i² over |S| = e. It is sampled exactly
in O(D·e) per unit from the elementary symmetric polynomials e_r(q_1..q_i) of q = w², kept in log
space: going backwards over i with r items still to place, item i is taken with probability
q_i e_{r−1}(q_1..q_{i−1}) / e_r(q_1..q_i). With a general Ĉ the per-unit kernels go to the
batched spectral k-DPP sampler (:mod:`statmech.dpp`).

Theory. Exact inclusion probabilities π_i = q_i e_{e−1}(q_{−i}) / e_e(q) (``weights=``); as
N → ∞ they tend to those of Poisson sampling, π(w) = φ w²/(Q_kk + φ w²) with φ fixed by
E[π] = c = e/N for w ~ N(0, Q_kk) (Hájek 1964). Masks of different units are independent, so
E[Q′_kk] = E[π w²], E[Q′_kl] = E[π_k π_l w_k w_l] and E[R′_km] = (R_km/Q_kk) E[π w_k²] under
Gaussian coordinates (``theory_tools``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import brentq

from .base import Layer, PruningMethod, PruningResult, edge_result, register
from .theory_tools import _GH_W, _GH_X, gauss_2d


def log_esp_table(logq: np.ndarray, e: int) -> np.ndarray:
    """T[..., r, i] = log e_r(q_1..q_i) for r = 0..e, i = 0..D (log q may be −inf)."""
    *batch, D = logq.shape
    T = np.full(tuple(batch) + (e + 1, D + 1), -np.inf)
    T[..., 0, :] = 0.0
    for i in range(1, D + 1):
        T[..., 1:, i] = np.logaddexp(T[..., 1:, i - 1], logq[..., i - 1, None] + T[..., :-1, i - 1])
    return T


def sample_conditional_poisson(q: np.ndarray, e: int, rng: np.random.Generator,
                               n_masks: int) -> np.ndarray:
    """Masks (n_masks, *batch, D) with exactly e items per row, P(S) ∝ Π_{i∈S} q_i."""
    with np.errstate(divide="ignore"):
        logq = np.log(q)
    T = log_esp_table(logq, e)  # (*batch, e+1, D+1)
    batch = q.shape[:-1]
    D = q.shape[-1]
    r = np.full((n_masks,) + batch, e)
    mask = np.zeros((n_masks,) + batch + (D,), dtype=bool)
    Tb = np.broadcast_to(T, (n_masks,) + T.shape)
    for i in range(D, 0, -1):
        active = r > 0
        rr = np.maximum(r, 1)
        num = logq[..., i - 1] + np.take_along_axis(Tb[..., :, i - 1], (rr - 1)[..., None],
                                                    axis=-1)[..., 0]
        den = np.take_along_axis(Tb[..., :, i], rr[..., None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore"):
            p = np.where(active, np.exp(num - den), 0.0)
        take = rng.random(r.shape) < p
        mask[..., i - 1] = take
        r = r - take
    return mask


def cps_inclusion(q: np.ndarray, e: int) -> np.ndarray:
    """Exact inclusion probabilities of conditional Poisson sampling, rows of q (…, D)."""
    with np.errstate(divide="ignore"):
        logq = np.log(q)
    F = log_esp_table(logq, e)  # forward: items 1..i
    B = log_esp_table(logq[..., ::-1], e)[..., ::-1]  # B[..., r, i] = log e_r(q_{i+1}..q_D)
    D = q.shape[-1]
    # e_{e−1}(q_{−i}) = Σ_s e_s(q_1..q_{i−1}) e_{e−1−s}(q_{i+1}..q_D)
    s = np.arange(e)
    f = F[..., s, :D]  # (…, e, D): prefix up to i−1 for item i (0-based column i)
    b = B[..., e - 1 - s, 1:]  # (…, e, D): suffix after item i
    loo = np.logaddexp.reduce(f + b, axis=-2)
    with np.errstate(invalid="ignore"):
        return np.where(q > 0, np.exp(logq + loo - F[..., e, D][..., None]), 0.0)


_STD_Z2 = _GH_X**2


def poisson_odds(c: float) -> float:
    """φ with E[φz²/(1 + φz²)] = c, z ~ N(0, 1) (the large-N CPS limit)."""
    if c >= 1.0:
        return np.inf
    f = lambda lf: float(np.sum(_GH_W * np.exp(lf) * _STD_Z2 / (1 + np.exp(lf) * _STD_Z2))) - c  # noqa: E731
    return float(np.exp(brentq(f, -40.0, 40.0)))


class DPPEdge(PruningMethod):
    name = "dpp_edge"
    kind = "edge"
    variants = ("default",)
    description = "k-DPP over each unit's incoming edges, kernel diag(w) C diag(w)"

    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:
        W = layer.W
        nonzero = np.count_nonzero(W, axis=1)
        if np.any(nonzero < keep):
            h = int(np.argmin(nonzero))
            raise ValueError(
                f"The 'keep' parameter of prune asks for {keep} edges per unit, but unit {h} has "
                f"only {nonzero[h]} non-zero weights (the DPP-edge kernel's rank).")
        if layer.input_cov is None:
            mask = sample_conditional_poisson(W * W, keep, rng, n_masks)
        else:
            from ..dpp import sample_k_dpp

            L = W[:, :, None] * layer.input_cov[None] * W[:, None, :]
            idx = sample_k_dpp(L, keep, size=n_masks, seed=rng)  # (H, n_masks, keep)
            mask = np.zeros((layer.H, n_masks, layer.D), dtype=bool)
            np.put_along_axis(mask, idx, True, axis=-1)
            mask = np.swapaxes(mask, 0, 1)
        return edge_result(self, variant, layer, mask, keep)

    def expected_order_parameters(self, Q, R, c: float, **_: Any):
        """(E[Q′], E[R′]) in the large-N limit (module docstring)."""
        K = Q.shape[0]
        phi = poisson_odds(c)
        if not np.isfinite(phi):
            return Q.copy(), R.copy()
        s = np.sqrt(np.diagonal(Q))
        pz = phi * _STD_Z2 / (1 + phi * _STD_Z2)
        m = float(np.sum(_GH_W * pz * _STD_Z2))  # E[π z²]
        Qp = np.empty_like(Q)

        def f(x, y):
            return (phi * x * x / (1 + phi * x * x)) * (phi * y * y / (1 + phi * y * y)) * x * y

        for k in range(K):
            Qp[k, k] = Q[k, k] * m
            for j in range(k + 1, K):
                rho = Q[k, j] / (s[k] * s[j]) if s[k] > 0 and s[j] > 0 else 0.0
                Qp[k, j] = Qp[j, k] = s[k] * s[j] * gauss_2d(f, 1.0, 1.0, rho)
        return Qp, R * m


DPP_EDGE = register(DPPEdge())
