"""Small dense linear-algebra helpers shared by the simulation modules (NumPy, host side)."""

from __future__ import annotations

import numpy as np


def sym_pow(S: np.ndarray, power: float) -> np.ndarray:
    """S^power for symmetric PSD matrices (..., n, n) by eigen-decomposition.

    Negative round-off eigenvalues are clipped to 0; for power < 0 this is the pseudo-inverse
    power (eigenvalues below n·10ε × the largest count as zero).
    """
    w, V = np.linalg.eigh(0.5 * (S + np.swapaxes(S, -1, -2)))
    w = np.clip(w, 0.0, None)
    if power < 0:
        tol = w.max(axis=-1, keepdims=True) * S.shape[-1] * np.finfo(float).eps * 10
        r = np.where(w > tol, np.where(w > tol, w, 1.0) ** power, 0.0)
    else:
        r = w**power
    return (V * r[..., None, :]) @ np.swapaxes(V, -1, -2)


def bartlett_factor(rng: np.random.Generator, dof: float, p: int,
                    size: tuple[int, ...] = ()) -> np.ndarray:
    """Lower-triangular L (*size, p, p) with L Lᵀ ~ Wishart(dof, I_p) (Bartlett decomposition).

    L_ii² ~ χ²(dof − i) and L_ij ~ N(0, 1) for i > j: the off-diagonal normals are drawn first,
    then the χ² variates. Needs dof > p − 1.
    """
    L = np.zeros(size + (p, p))
    rows, cols = np.tril_indices(p, -1)
    L[..., rows, cols] = rng.standard_normal(size + (rows.size,))
    idx = np.arange(p)
    L[..., idx, idx] = np.sqrt(rng.chisquare(dof - idx, size + (p,)))
    return L
