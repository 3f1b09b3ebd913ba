"""Theory helpers shared by the pruning methods (order-parameter space, NumPy).

* The population activation covariance I2 (ε_g of raw arrays is
  :func:`statmech.generalization.eg_from_order_parameters`).
* Node pruning: removing units leaves the kept units' entries of Q, R (hence of I2) unchanged,
  so with kept set S and outgoing weights v′ (zero off S)

      ε_g(S, v′) = ½ Σ_{i,j∈S} v′_i v′_j I2_ij − Σ_{i∈S} v′_i (I2_{i,·} v*) + ½ v*ᵀ I2_** v*,

  an exact quadratic form. Its expectation over a random S with fixed v′ = v needs only the first-
  and second-order inclusion probabilities π_i, π_ij.
* Edge pruning of Gaussian weight coordinates: for rotation-invariant weights at large N the N
  coordinate vectors (w_1i..w_Ki, w*_1i..w*_Mi) are i.i.d. N(0, C) with C = [[Q, R], [Rᵀ, T]], so
  the pruned order parameters concentrate on Gaussian expectations (two-dimensional integrals).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, roots_hermitenorm

from ..activations import Activation
from ..integrals import pairwise_I2
from ..order_parameters import OrderParameters

_PHI0 = 1.0 / np.sqrt(2.0 * np.pi)


def full_I2(op: OrderParameters, student: Activation, teacher: Activation) -> np.ndarray:
    """I2(a, b) = E[g(x_a) g(x_b)] over all K + M fields of ``op``."""
    return pairwise_I2(op.covariance, op.K, student, teacher)


def node_eg(I2: np.ndarray, K: int, v_kept: np.ndarray, v_star: np.ndarray) -> np.ndarray:
    """ε_g(S, v′) for outgoing weights v′ (..., K) that are zero on removed units."""
    ss = I2[:K, :K]
    st = I2[:K, K:] @ v_star
    tt = 0.5 * v_star @ I2[K:, K:] @ v_star
    quad = 0.5 * np.einsum("...i,ij,...j->...", v_kept, ss, v_kept)
    return np.maximum(quad - v_kept @ st + tt, 0.0)


def node_mean_from_inclusion(I2: np.ndarray, K: int, v: np.ndarray, v_star: np.ndarray,
                             pi1: np.ndarray, pi2: np.ndarray) -> float:
    """E[ε_g(S, v·1_S)] from π_i = P(i ∈ S) and π_ij = P(i, j ∈ S) (π_ii = π_i)."""
    P = np.array(pi2, dtype=float)
    np.fill_diagonal(P, pi1)
    ss = I2[:K, :K]
    st = I2[:K, K:] @ v_star
    tt = 0.5 * v_star @ I2[K:, K:] @ v_star
    return float(max(0.5 * np.sum(P * np.outer(v, v) * ss) - np.sum(pi1 * v * st) + tt, 0.0))


# ------------------------------------------------------------------------------------------
# Gaussian coordinate expectations (edge methods)

_GH_X, _GH_W = roots_hermitenorm(80)
_GH_W = _GH_W / np.sqrt(2.0 * np.pi)  # weights for E over N(0, 1)


def gauss_2d(f, s1: float, s2: float, rho: float) -> float:
    """E[f(X, Y)] for (X, Y) ~ N(0, [[s1², ρ s1 s2], [ρ s1 s2, s2²]]), f vectorised and smooth.

    Tensor Gauss–Hermite rule (80² nodes) on X = s1 z1, Y = s2 (ρ z1 + √(1 − ρ²) z2).
    """
    z1 = _GH_X[:, None]
    z2 = _GH_X[None, :]
    x = s1 * z1
    y = s2 * (rho * z1 + np.sqrt(max(1.0 - rho * rho, 0.0)) * z2)
    return float(np.sum(_GH_W[:, None] * _GH_W[None, :] * f(x, y)))


def truncated_second_moment(z: np.ndarray) -> np.ndarray:
    """E[X² 1{|X| > z}] for X ~ N(0, 1): 2(1 − Φ(z)) + 2 z φ(z)."""
    return 2.0 * ndtr(-z) + 2.0 * z * _PHI0 * np.exp(-0.5 * z * z)


def truncated_cross_moment(sx: float, sy: float, rho: float, ax: float, ay: float,
                           n: int = 96) -> float:
    """E[X Y 1{|X| > ax} 1{|Y| > ay}] for a centred bivariate normal (sx, sy, correlation ρ).

    One-dimensional integral over the two tails of X of x φ(x) E[Y 1{|Y| > ay} | X = x], with the
    conditional normal's truncated first moment in closed form; Gauss–Legendre on each tail,
    split where the conditional mean crosses ±ay (the integrand's kinks when |ρ| → 1).
    """
    if sx <= 0 or sy <= 0:
        return 0.0
    rho = float(np.clip(rho, -1.0, 1.0))
    zx = ax / sx
    cs = sy * np.sqrt(max(1.0 - rho * rho, 0.0))  # conditional std of Y
    nodes, weights = np.polynomial.legendre.leggauss(n)
    hi = max(zx + 1.0, 12.0)
    # break points in standardised x where |ρ sy x| = ay
    br = [zx, hi]
    if abs(rho) > 0:
        xb = ay / (abs(rho) * sy)
        if zx < xb < hi:
            br = [zx, xb, hi]
    total = 0.0
    for lo, up in zip(br[:-1], br[1:], strict=True):
        t = 0.5 * (up - lo) * nodes + 0.5 * (up + lo)
        w = 0.5 * (up - lo) * weights
        for sign in (1.0, -1.0):
            xs = sign * t  # standardised x
            mu = rho * sy * xs
            if cs > 0:
                bp = (ay - mu) / cs
                bm = (-ay - mu) / cs
                ey = mu * (ndtr(-bp) + ndtr(bm)) + cs * _PHI0 * (
                    np.exp(-0.5 * bp * bp) - np.exp(-0.5 * bm * bm))
            else:
                ey = mu * (np.abs(mu) > ay)
            total += np.sum(w * (sx * xs) * _PHI0 * np.exp(-0.5 * t * t) * ey)
    return float(total)
