"""Randomised magnitude-based pruning (MBP) of Guha, Dubey & Huo (arXiv 2305.18789), paper A of
``docs/companion_papers.md`` §1.3, and its closed forms under the Gaussian-weight assumption.

The rule (the authors' code, ``groundzero/main.py``: ``get_mask`` / ``prune_weights``): for a
weight matrix W let Ψ be the (population) variance of *all* its entries; keep entry W_ij
independently with probability

    p(W_ij) = 1 − exp(−W_ij² / (d Ψ)),

and zero it otherwise. Kept entries are **not** rescaled; biases are not pruned. d ≥ 0 is the
compression parameter (``alpha`` in the code): d → 0 keeps everything, larger d prunes more.

Closed forms (§1.3, our derivation; they assume i.i.d. W_ij ~ N(0, Ψ), the paper's
Assumption 3.1): with the Gaussian integral E[exp(−a X²)] = (1 + 2aΨ)^{−1/2} and
E[X² exp(−a X²)] = Ψ (1 + 2aΨ)^{−3/2} at a = 1/(dΨ),

* kept fraction       κ(d) = 1 − √(d/(d + 2));
* error second moment E[Δ_ij²] = Ψ (d/(d + 2))^{3/2}, Δ = W − Ŵ (independent, zero mean);
* error spectral norm ‖Δ‖₂ ≈ √(E[Δ²]) (√n_in + √n_out)   (Bai–Yin edge of i.i.d. matrices);
* the code's cap on the largest row count of non-zeros, 3 · n · κ(d) (a loose
  high-probability bound; the mean row count is n κ(d)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import InvalidParameterError, _fmt, check_positive_int, check_real

__all__ = ["mbp_mask", "keep_probability", "kept_fraction", "d_for_fraction",
           "error_second_moment", "error_spectral_norm", "predicted_max_row_nonzeros",
           "row_col_counts"]


def _check_d(d: Any, func: str, allow_array: bool = True) -> float | np.ndarray:
    """d as a finite float (or array) >= 0."""
    return check_real(d, "d", func, low=0.0, allow_array=allow_array)


def _matrix(W: Any, func: str) -> np.ndarray:
    try:
        arr = np.array(W, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"The 'W' parameter of {func} must be a finite real 2-D array. "
                         f"Got {_fmt(W)} instead.") from None
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidParameterError(f"The 'W' parameter of {func} must be a non-empty 2-D array. "
                         f"Got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError(f"The 'W' parameter of {func} must be finite (no NaN or inf).")
    return arr


def keep_probability(W: Any, d: float, psi: float | None = None) -> np.ndarray:
    """Keep probabilities p(W_ij) = 1 − exp(−W_ij²/(dΨ)) of the MBP rule (§1.3).

    Parameters
    ----------
    W : array (n_out, n_in)
        The weight matrix.
    d : float
        Compression parameter, d >= 0 (d = 0 keeps every entry).
    psi : float, optional
        The scale Ψ; default the population variance of all entries of W (``np.var``, as in the
        authors' code). A matrix with Ψ = 0 (constant) keeps every entry.

    Returns
    -------
    ndarray, the shape of W, values in [0, 1].
    """
    return _keep_probability(W, d, psi, "keep_probability")


def _keep_probability(W: Any, d: Any, psi: Any, func: str) -> np.ndarray:
    W = _matrix(W, func)
    d = float(_check_d(d, func, allow_array=False))
    psi = float(np.var(W)) if psi is None else float(check_real(psi, "psi", func, low=0.0))
    if d == 0.0 or psi == 0.0:
        return np.ones_like(W)
    return -np.expm1(-(W * W) / (d * psi))


def mbp_mask(W: Any, d: float, rng: Any = None, keep_diagonal: bool = False) -> np.ndarray:
    """The randomised MBP mask of one weight matrix (§1.3; ``get_mask`` of the authors' code).

    Every entry is kept independently with probability p(W_ij) = 1 − exp(−W_ij²/(dΨ)), Ψ the
    variance of all entries of W. Apply it as ``W * mask`` (no rescaling).

    Parameters
    ----------
    W : array (n_out, n_in)
    d : float
        Compression parameter, a finite float >= 0 (0 keeps everything; E[density] = κ(d) for
        Gaussian entries).
    rng : None, int, SeedSequence or Generator
        Source of the Bernoulli draws (``np.random.default_rng(rng)``).
    keep_diagonal : bool
        Always keep the diagonal entries W_ii (the paper's version applies the rule to the
        non-diagonal entries, reviewer 1 of the ICLR submission; the code prunes all entries,
        hence the default False). Paper fidelity pending.

    Returns
    -------
    ndarray of bool, the shape of W.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.random.default_rng(0).standard_normal((400, 800))
    >>> round(float(mbp_mask(W, 1.0, rng=1).mean()), 2), round(kept_fraction(1.0), 2)
    (0.42, 0.42)
    """
    p = _keep_probability(W, d, None, "mbp_mask")
    if not isinstance(keep_diagonal, bool | np.bool_):
        raise InvalidParameterError(f"The 'keep_diagonal' parameter of mbp_mask must be a bool. "
                         f"Got {_fmt(keep_diagonal)} instead.")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    mask = gen.random(p.shape) < p
    if keep_diagonal:
        k = min(mask.shape)
        mask[np.arange(k), np.arange(k)] = True
    return mask


def kept_fraction(d: Any) -> float | np.ndarray:
    """Expected kept fraction κ(d) = 1 − √(d/(d + 2)) for Gaussian weights (§1.3).

    κ(0) = 1, κ(1) = 0.423, κ(10) = 0.087; the code writes it (√(d+2) − √d)/√(d+2).
    Vectorised over ``d`` (finite floats >= 0).
    """
    d = _check_d(d, "kept_fraction")
    out = 1.0 - np.sqrt(np.asarray(d) / (np.asarray(d) + 2.0))
    return float(out) if np.ndim(out) == 0 else out


def d_for_fraction(c: Any) -> float | np.ndarray:
    """The compression parameter with κ(d) = c: d = 2 s²/(1 − s²), s = 1 − c (inverse of
    :func:`kept_fraction`; c = 1 gives d = 0). ``c`` is a float (or array) in (0, 1]."""
    c = check_real(c, "c", "d_for_fraction", low=0.0, high=1.0, low_inclusive=False,
                   allow_array=True)
    s = 1.0 - np.asarray(c)
    out = 2.0 * s * s / ((1.0 - s) * (1.0 + s))
    return float(out) if np.ndim(out) == 0 else out


def error_second_moment(d: Any, psi: float) -> float | np.ndarray:
    """E[Δ_ij²] = Ψ (d/(d + 2))^{3/2} of the pruning error Δ = W − Ŵ (§1.3).

    Parameters
    ----------
    d : float or array, >= 0
    psi : float
        Variance Ψ of the (Gaussian) entries, >= 0.
    """
    func = "error_second_moment"
    d = np.asarray(_check_d(d, func))
    psi = float(check_real(psi, "psi", func, low=0.0))
    out = psi * (d / (d + 2.0)) ** 1.5
    return float(out) if out.ndim == 0 else out


def error_spectral_norm(d: Any, psi: float, n_in: int, n_out: int) -> float | np.ndarray:
    """Bai–Yin estimate ‖Δ‖₂ ≈ √(E[Δ²]) (√n_in + √n_out) of the error's spectral norm (§1.3).

    Accurate to a few per cent for matrices of a few hundred rows and columns (the largest
    singular value of an i.i.d. matrix concentrates at σ(√n + √m) from below).
    """
    func = "error_spectral_norm"
    n_in = check_positive_int(n_in, "n_in", func)
    n_out = check_positive_int(n_out, "n_out", func)
    e2 = np.asarray(error_second_moment(d, psi))
    out = np.sqrt(e2) * (math.sqrt(n_in) + math.sqrt(n_out))
    return float(out) if out.ndim == 0 else out


def predicted_max_row_nonzeros(n: int, d: Any) -> float | np.ndarray:
    """The authors' cap 3 · n · κ(d) on the largest number of non-zeros of a row of n entries
    (``get_number_of_zeros`` in their code; §1.3 and §1.7): 2352 for n = 784 as d → 0, 204.9
    at d = 10; 9216 → 802.9 for n = 3072."""
    n = check_positive_int(n, "n", "predicted_max_row_nonzeros")
    out = 3.0 * n * np.asarray(kept_fraction(d))
    return float(out) if out.ndim == 0 else out


def row_col_counts(mask: Any) -> tuple[int, int]:
    """(j_r, j_c): the largest number of non-zeros in a row and in a column of a mask or of a
    pruned matrix (the sparsity parameters of the sketching step, §1.3–1.4)."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InvalidParameterError(f"The 'mask' parameter of row_col_counts must be a 2-D array. "
                         f"Got shape {arr.shape}.")
    nz = arr != 0
    return int(nz.sum(1).max(initial=0)), int(nz.sum(0).max(initial=0))
