"""Least-squares reweighting of a unit's kept incoming edges (``docs/pruning_theory.md`` §2.7).

For unit h with kept inputs S_h and removed inputs S̄_h, the kept weights absorb the removed
part of the pre-activation: δ_h = argmin_δ E[(x_{S_h}·δ − x_{S̄_h}·w_{S̄_h,h})²], i.e.
C_SS δ = C_{S S̄} w_S̄ with C the uncentred input covariance (no intercept, as the reference), and
w_{S_h,h} += δ_h. For isotropic inputs (C = I) δ = 0: reweighting is a no-op (§2.7 there), so
this needs the data's input covariance.

Real inputs often have exactly collinear coordinates (constant MNIST border pixels), which makes
C_SS singular. We solve (C_SS + ε·mean(diag C_SS)·I) δ = C_{S S̄} w_S̄ with ε = 1e-8 (a
decision: the minimum-norm least-squares solution up to a relative 1e-8 ridge, by Cholesky,
about 20× faster than an SVD-based lstsq at D = 784).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["reweight_edges", "RIDGE"]

#: Relative ridge added to C_SS (module docstring).
RIDGE = 1e-8


def reweight_edges(W: np.ndarray, mask: np.ndarray, input_cov: np.ndarray) -> np.ndarray:
    """Reweighted kept incoming weights (n_masks, H, D); removed entries are 0.

    Parameters
    ----------
    W : array (H, D)
        Unpruned incoming weights.
    mask : bool array (n_masks, H, D)
        Kept edges.
    input_cov : array (D, D)
        Uncentred covariance E[x xᵀ] of the layer's inputs over the data.
    """
    W = np.asarray(W, dtype=float)
    C = np.asarray(input_cov, dtype=float)
    out = np.where(mask, W[None], 0.0)
    for n in range(mask.shape[0]):
        for h in range(W.shape[0]):
            S = np.flatnonzero(mask[n, h])
            R = np.flatnonzero(~mask[n, h])
            if R.size == 0 or S.size == 0:
                continue
            rhs = C[np.ix_(S, R)] @ W[h, R]
            if not np.any(rhs):
                continue
            A = C[np.ix_(S, S)]
            A = A + RIDGE * max(float(np.mean(np.diag(A))), 1e-300) * np.eye(S.size)
            out[n, h, S] += linalg.cho_solve(linalg.cho_factor(A, lower=True,
                                                               check_finite=False),
                                             rhs, check_finite=False)
    return out
