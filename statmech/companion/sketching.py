"""Sparse-matrix sketching with expander matrices and ℓ1 recovery
(``docs/companion_papers.md`` §1.4).

A matrix X (n1 × n2) with at most j non-zeros in every row and column is represented by the small
dense sketch Y = A X Bᵀ (p1 × p2), A and B the adjacency matrices of random left-regular bipartite
expanders (0/1, a fixed number s of ones per column), and recovered exactly by

    min Σ_ij |X̃_ij|  subject to  A X̃ Bᵀ = Y

when p is of order √(j n) log n (Dasarathy, Shah, Bhaskar & Nowak, IEEE Trans. Inf. Theory 2015;
paper A uses this so that a pruned layer is described by a p × p sketch, q_l ≈ p²). The ℓ1
problem is a linear programme: X̃ = U − V with U, V ≥ 0, min 1ᵀ(U + V) subject to
(A ⊗ B)(vec U − vec V) = vec Y (row-major vec), solved by HiGHS through
:func:`scipy.optimize.linprog` with sparse constraint matrices (the Kronecker product of two
expanders has s² non-zeros per column): a 32 × 32 problem takes a tenth of a second, a 64 × 64
one a few seconds on two cores (dense Gaussian sketches take minutes, §1.4).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from .._validation import InvalidParameterError, _fmt, check_positive_int, check_real

__all__ = ["expander_matrix", "sketch", "recover", "sketch_size", "SKETCH_CONSTANT"]

#: The constant C of p = ⌈C √(j n) ln n⌉ in :func:`sketch_size`. C = 1 (natural log) gives
#: p = 58 for n = 64, j = 3, where p = 40 already recovers exactly and p = 32 fails with
#: s = 4 ones per column (``docs/companion_papers.md`` §1.4, measured by us); the theorem's
#: constant is not known to us (paper fidelity pending).
SKETCH_CONSTANT = 1.0


def _rng(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def expander_matrix(p: int, n: int, ones_per_column: int = 4, rng: Any = None) -> np.ndarray:
    """A random left-regular bipartite expander: a p × n 0/1 matrix with exactly
    ``ones_per_column`` ones in every column, at distinct rows chosen uniformly (§1.4).

    Parameters
    ----------
    p : int
        Rows (sketch dimension), >= 1.
    n : int
        Columns (the dimension being compressed), >= 1.
    ones_per_column : int
        Left degree s, an int in [1, p].
    rng : None, int or Generator

    Returns
    -------
    ndarray (p, n) of float64 (0.0 / 1.0).
    """
    func = "expander_matrix"
    p = check_positive_int(p, "p", func)
    n = check_positive_int(n, "n", func)
    if (isinstance(ones_per_column, bool) or not isinstance(ones_per_column, int | np.integer)
            or not 1 <= ones_per_column <= p):
        raise InvalidParameterError(f"The 'ones_per_column' parameter of {func} must be an int in "
                         f"[1, p={p}]. Got {_fmt(ones_per_column)} instead.")
    gen = _rng(rng)
    # the s smallest of p i.i.d. uniforms per column: a uniform s-subset of the rows
    rows = np.argpartition(gen.random((p, n)), ones_per_column - 1, axis=0)[:ones_per_column]
    A = np.zeros((p, n))
    A[rows, np.arange(n)[None, :]] = 1.0
    return A


def _matrix(x: Any, name: str, func: str) -> np.ndarray:
    try:
        arr = np.array(x.toarray() if sparse.issparse(x) else x, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a finite real 2-D array. "
                         f"Got {_fmt(x)} instead.") from None
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a finite real 2-D array. "
                         f"Got shape {arr.shape}.")
    return arr


def sketch(X: Any, A: Any, B: Any) -> np.ndarray:
    """The sketch Y = A X Bᵀ (§1.4) of X (n1 × n2) with A (p1 × n1) and B (p2 × n2)."""
    func = "sketch"
    X, A, B = (_matrix(v, k, func) for v, k in ((X, "X"), (A, "A"), (B, "B")))
    if A.shape[1] != X.shape[0] or B.shape[1] != X.shape[1]:
        raise ValueError(f"sketch needs A with {X.shape[0]} columns and B with {X.shape[1]} "
                         f"columns (X is {X.shape}). Got A {A.shape}, B {B.shape}.")
    return A @ X @ B.T


def recover(Y: Any, A: Any, B: Any, *, tol: float = 1e-9) -> np.ndarray:
    """ℓ1 recovery of X from Y = A X Bᵀ (§1.4): argmin Σ|X̃_ij| subject to A X̃ Bᵀ = Y.

    Solved as the linear programme min 1ᵀ(u + v), [K, −K] (u, v) = vec Y, u, v ≥ 0, with
    K = A ⊗ B sparse (row-major vec), by HiGHS (``scipy.optimize.linprog(method="highs")``).

    Parameters
    ----------
    Y : array (p1, p2)
    A : array (p1, n1)
    B : array (p2, n2)
    tol : float
        Primal feasibility tolerance passed to HiGHS (> 0).

    Returns
    -------
    ndarray (n1, n2)

    Raises
    ------
    ValueError
        On inconsistent shapes, or when the solver fails (message included).
    """
    func = "recover"
    Y, A, B = (_matrix(v, k, func) for v, k in ((Y, "Y"), (A, "A"), (B, "B")))
    tol = float(check_real(tol, "tol", func, low=0.0, low_inclusive=False))
    if Y.shape != (A.shape[0], B.shape[0]):
        raise ValueError(f"recover needs Y of shape (A rows, B rows) = ({A.shape[0]}, "
                         f"{B.shape[0]}). Got {Y.shape}.")
    n1, n2 = A.shape[1], B.shape[1]
    K = sparse.kron(sparse.csr_matrix(A), sparse.csr_matrix(B), format="csc")
    A_eq = sparse.hstack([K, -K], format="csc")
    c = np.ones(2 * n1 * n2)
    res = linprog(c, A_eq=A_eq, b_eq=Y.ravel(), bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": tol,
                           "dual_feasibility_tolerance": tol})
    if res.status != 0:
        raise ValueError(f"recover: the ℓ1 linear programme failed ({res.message}).")
    x = res.x
    return (x[: n1 * n2] - x[n1 * n2:]).reshape(n1, n2)


def sketch_size(j: int, n: int, constant: float = SKETCH_CONSTANT) -> int:
    """Sketch dimension p = min(n, ⌈C √(j n) ln n⌉) for at most j non-zeros per row and column
    of an n-dimensional side (§1.4: p of order √(j n) log n; C = :data:`SKETCH_CONSTANT` = 1 is
    our choice, checked on 64 × 64, j = 3; paper fidelity pending).

    With n = 1 the logarithm vanishes and p = 1.
    """
    func = "sketch_size"
    n = check_positive_int(n, "n", func)
    j = check_positive_int(j, "j", func)
    if j > n:
        raise InvalidParameterError(
            f"The 'j' parameter of {func} must be an int in [1, n={n}]. Got {j}.")
    constant = float(check_real(constant, "constant", func, low=0.0, low_inclusive=False))
    return int(min(n, max(1, math.ceil(constant * math.sqrt(j * n) * math.log(n)))))
