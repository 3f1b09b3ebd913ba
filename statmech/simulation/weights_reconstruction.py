"""Explicit weights with given order parameters, Haar-distributed given their Gram matrices.

For a teacher W* (M×N) with T = W*W*ᵀ/N and a student state (Q, R), put S = Q − R T⁺ Rᵀ (T⁺ the
pseudo-inverse) and

    W = R T⁺ W* + √N S^½ P,

where P (K×N) has orthonormal rows in the orthogonal complement of the teacher's row span. Then
W W*ᵀ/N = R and W Wᵀ/N = R T⁺ Rᵀ + S = Q exactly (up to rounding). P is drawn Haar-distributed
as the polar factor P = (Y Yᵀ)^{-½} Y of a Gaussian matrix Y projected onto that complement
(the polar factor of an isotropic Gaussian matrix is uniform on the Stiefel manifold and
independent of its Gram matrix). A teacher that is not given is drawn the same way,
W* = √N T^½ O with O Haar: this is the law of Gaussian teacher rows conditioned on their Gram
matrix. Hence, for rotation-invariant initial weights, the reconstruction has the exact
conditional law of the weights given the order parameters.

The same functions draw the *initial* order parameters of a rotation-invariant ensemble at a
cost independent of N (Bartlett decompositions of the Wishart matrices).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._linalg import bartlett_factor, sym_pow
from .._validation import (
    ArrayLike,
    InvalidParameterError,
    Seed,
    check_positive_int,
    validate_params,
)
from ..theory.order_parameters import OrderParameters

__all__ = ["weights_from_order_parameters"]


def _polar_rows(Y: np.ndarray) -> np.ndarray:
    """Orthonormal rows (Y Yᵀ)^{-½} Y spanning the rows of Y."""
    return sym_pow(Y @ Y.T, -0.5) @ Y


def haar_rows(rng: np.random.Generator, k: int, N: int,
              exclude: np.ndarray | None = None) -> np.ndarray:
    """k Haar-distributed orthonormal rows in R^N, orthogonal to the rows of ``exclude``."""
    Y = rng.standard_normal((k, N))
    if exclude is not None and exclude.shape[0] > 0:
        B = _polar_rows(exclude)  # orthonormal basis of the excluded span
        Y = Y - (Y @ B.T) @ B
    return _polar_rows(Y)


def reconstruct_member(Q: np.ndarray, R: np.ndarray, T: np.ndarray, N: int,
                       rng: np.random.Generator,
                       teacher: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(W, W*) for one member; see the module docstring."""
    K, M = R.shape
    if teacher is None:
        teacher = np.sqrt(N) * sym_pow(T, 0.5) @ haar_rows(rng, M, N)
    Tp = np.linalg.pinv(T, hermitian=True)
    S = Q - R @ Tp @ R.T
    P = haar_rows(rng, K, N, exclude=teacher)
    W = R @ Tp @ teacher + np.sqrt(N) * sym_pow(S, 0.5) @ P
    return W, teacher


def student_given_teacher(T: np.ndarray, K: int, N: int, scale: float,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Q, R) of Gaussian student rows N(0, scale² I_N), given the teacher Gram T.

    With O the teacher's orthonormal row basis (W*/√N = T^½ O), the student's components along
    O are a K×M standard normal matrix A and its Gram in the complement is Wishart(N − M, I_K):
    R = scale · A T^½ / √N and Q = scale² (A Aᵀ + Wishart) / N. Cost independent of N.
    """
    M = T.shape[0]
    A = rng.standard_normal((K, M))
    L = bartlett_factor(rng, N - M, K)
    R = scale * A @ sym_pow(T, 0.5) / np.sqrt(N)
    Q = scale**2 * (A @ A.T + L @ L.T) / N
    return Q, R


@validate_params({"seed": [Seed()], "teacher": [None, ArrayLike((2, 3))]})
def weights_from_order_parameters(
    op: OrderParameters,
    N: int,
    *,
    teacher: Any = None,
    seed: int | np.random.Generator | np.random.SeedSequence | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Explicit weights (W, W*) with the order parameters ``op``, drawn rotation-invariantly.

    W = R T⁺ W* + √N S^½ P with S = Q − R T⁺ Rᵀ and P Haar-distributed orthonormal rows
    orthogonal to the teacher (module docstring), so W Wᵀ/N = Q, W W*ᵀ/N = R and
    W* W*ᵀ/N = T hold to rounding.

    Parameters
    ----------
    op : OrderParameters
        Single or with a 1-D batch (E members).
    N : int
        Input dimension, >= K + M.
    teacher : array, optional
        Teacher weights (M, N) or (E, M, N); their Gram must equal ``op.T``. Drawn Haar given
        T when omitted.
    seed : int, Generator or SeedSequence, optional

    Returns
    -------
    W : ndarray (K, N) or (E, K, N)
    W_star : ndarray (M, N) or (E, M, N)

    Examples
    --------
    >>> op = OrderParameters.random(2, 2, 100, seed=0)
    >>> W, Ws = weights_from_order_parameters(op, 100, seed=1)
    >>> bool(np.allclose(W @ W.T / 100, op.Q))
    True
    """
    func = "weights_from_order_parameters"
    if not isinstance(op, OrderParameters):
        raise InvalidParameterError(f"The 'op' parameter of {func} must be an OrderParameters. "
                         f"Got {type(op).__name__}.")
    if len(op.batch_shape) > 1:
        raise InvalidParameterError(
            f"The 'op' parameter of {func} must have at most one batch dimension. "
                         f"Got batch shape {op.batch_shape}.")
    K, M = op.K, op.M
    N = check_positive_int(N, "N", func, minimum=K + M)
    rng = np.random.default_rng(seed)
    single = op.batch_shape == ()
    E = 1 if single else op.batch_shape[0]
    Q, R, T = (np.broadcast_to(a, (E,) + a.shape[-2:]) for a in (op.Q, op.R, op.T))
    Ws = None
    if teacher is not None:
        Ws = np.asarray(teacher, dtype=float)
        if Ws.shape[-2:] != (M, N) or Ws.ndim not in (2, 3) or (
                Ws.ndim == 3 and Ws.shape[0] != E):
            raise InvalidParameterError(
                f"The 'teacher' parameter of {func} must have shape ({M}, {N}) or "
                             f"({E}, {M}, {N}). Got {Ws.shape}.")
        Ws = np.broadcast_to(Ws, (E, M, N))
        Tw = Ws @ np.swapaxes(Ws, -1, -2) / N
        if not np.allclose(Tw, T, rtol=1e-8, atol=1e-10 * max(1.0, float(np.abs(T).max()))):
            raise InvalidParameterError(
                f"The 'teacher' parameter of {func} has Gram matrix W*W*ᵀ/N "
                             "different from op.T.")
    W = np.empty((E, K, N))
    W_star = np.empty((E, M, N))
    for e in range(E):
        W[e], W_star[e] = reconstruct_member(Q[e], R[e], T[e], N, rng,
                                             None if Ws is None else Ws[e])
    return (W[0], W_star[0]) if single else (W, W_star)
