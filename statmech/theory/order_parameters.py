"""The order parameters of a two-layer teacher-student network: the state everything meets at.

For a student with first-layer weights W (K x N, rows w_k) and second layer v (K), and a teacher
with W* (M x N) and v* (M), the order parameters are (``docs/ode_theory.md`` §1.1)

    Q = W Wᵀ / N  (K x K),   R = W W*ᵀ / N  (K x M),   T = W* W*ᵀ / N  (M x M),

together with v and v*. For inputs x ~ N(0, I_N) the local fields (λ, ρ) = (W x, W* x)/√N are
jointly Gaussian with covariance C = [[Q, R], [Rᵀ, T]], so every population average of the network
is a function of these numbers alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._linalg import bartlett_factor
from .._validation import (
    InvalidParameterError,
    Real,
    Seed,
    Shape,
    check_positive_int,
    check_real,
    validate_params,
)

__all__ = ["OrderParameters", "SYMMETRY_RTOL", "PSD_RTOL"]

#: Relative tolerance for the symmetry of Q and T: |A - Aᵀ| <= SYMMETRY_RTOL * max|A| (A is then
#: replaced by its symmetric part).
SYMMETRY_RTOL = 1e-8
#: Relative tolerance for positive semi-definiteness of C = [[Q, R], [Rᵀ, T]]: the smallest
#: eigenvalue must be >= -PSD_RTOL * (largest eigenvalue). Singular covariances (exact copies of a
#: unit, a student that has converged onto its teacher) have a zero eigenvalue and are legal; the
#: tolerance absorbs round-off and the error of an ODE integrated at rtol ~1e-8.
PSD_RTOL = 1e-6


def joint_covariance(Q: np.ndarray, R: np.ndarray, T: np.ndarray) -> np.ndarray:
    """C = [[Q, R], [Rᵀ, T]] for batched arrays; T broadcasts against R's batch shape."""
    top = np.concatenate([Q, R], axis=-1)
    Tb = np.broadcast_to(T, R.shape[:-2] + T.shape[-2:])
    bottom = np.concatenate([np.swapaxes(R, -1, -2), Tb], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def _as_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} field of OrderParameters must be a real array. Got {value!r}."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError(
            f"The {name!r} field of OrderParameters must be finite (found NaN or inf)."
        )
    return arr


def _symmetrise(arr: np.ndarray, name: str) -> np.ndarray:
    asym = np.abs(arr - np.swapaxes(arr, -1, -2)).max(initial=0.0)
    scale = np.abs(arr).max(initial=0.0)
    if asym > SYMMETRY_RTOL * max(scale, 1e-300):
        raise InvalidParameterError(
            f"The {name!r} field of OrderParameters must be symmetric (relative tolerance "
            f"{SYMMETRY_RTOL:g}); max |{name} - {name}ᵀ| = {asym:.3g} with "
            f"max |{name}| = {scale:.3g}."
        )
    return 0.5 * (arr + np.swapaxes(arr, -1, -2))


@dataclass(frozen=True, eq=False)
class OrderParameters:
    """Immutable order parameters (Q, R, T, v, v*) of a teacher-student pair, optionally batched.

    Parameters
    ----------
    Q : array_like, shape (..., K, K)
        Student-student overlaps w_j·w_k/N. Symmetric.
    R : array_like, shape (..., K, M)
        Student-teacher overlaps w_k·w*_n/N.
    T : array_like, shape (..., M, M)
        Teacher-teacher overlaps. Symmetric.
    v, v_star : array_like, shape (..., K) and (..., M), optional
        Second-layer weights of student and teacher; default ones (the soft committee machine).

    Leading batch dimensions broadcast against each other (e.g. a batch of students sharing one
    teacher ``T`` of shape (M, M)); all stored arrays have the common batch shape and are read-only.
    The joint covariance [[Q, R], [Rᵀ, T]] must be positive semi-definite up to ``PSD_RTOL``; Q and
    T symmetric up to ``SYMMETRY_RTOL``. Invalid input raises ``ValueError`` naming the field.

    Examples
    --------
    >>> import numpy as np
    >>> op = OrderParameters(Q=np.eye(2), R=0.1 * np.ones((2, 2)), T=np.eye(2))
    >>> op.K, op.M, op.batch_shape
    (2, 2, ())
    """

    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    v: np.ndarray | None = None
    v_star: np.ndarray | None = None
    batch_shape: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        Q = _as_array(self.Q, "Q")
        R = _as_array(self.R, "R")
        T = _as_array(self.T, "T")
        if Q.ndim < 2 or Q.shape[-1] != Q.shape[-2] or Q.shape[-1] < 1:
            raise InvalidParameterError(
                f"The 'Q' field of OrderParameters must have shape (..., K, K) with K >= 1. "
                f"Got shape {Q.shape}."
            )
        if T.ndim < 2 or T.shape[-1] != T.shape[-2] or T.shape[-1] < 1:
            raise InvalidParameterError(
                f"The 'T' field of OrderParameters must have shape (..., M, M) with M >= 1. "
                f"Got shape {T.shape}."
            )
        K, M = Q.shape[-1], T.shape[-1]
        if R.ndim < 2 or R.shape[-2:] != (K, M):
            raise InvalidParameterError(
                f"The 'R' field of OrderParameters must have shape (..., K, M) = (..., {K}, {M}). "
                f"Got shape {R.shape}."
            )
        v = np.ones(K) if self.v is None else _as_array(self.v, "v")
        vs = np.ones(M) if self.v_star is None else _as_array(self.v_star, "v_star")
        if v.ndim < 1 or v.shape[-1] != K:
            raise InvalidParameterError(
                f"The 'v' field of OrderParameters must have shape (..., K) = (..., {K}). "
                f"Got shape {v.shape}."
            )
        if vs.ndim < 1 or vs.shape[-1] != M:
            raise InvalidParameterError(
                f"The 'v_star' field of OrderParameters must have shape (..., M) = (..., {M}). "
                f"Got shape {vs.shape}."
            )
        try:
            batch = np.broadcast_shapes(
                Q.shape[:-2], R.shape[:-2], T.shape[:-2], v.shape[:-1], vs.shape[:-1]
            )
        except ValueError:
            raise InvalidParameterError(
                "The batch dimensions of OrderParameters fields do not broadcast: "
                f"Q {Q.shape}, R {R.shape}, T {T.shape}, v {v.shape}, v_star {vs.shape}."
            ) from None
        Q = _symmetrise(Q, "Q")
        T = _symmetrise(T, "T")
        arrays = {
            "Q": np.broadcast_to(Q, batch + (K, K)),
            "R": np.broadcast_to(R, batch + (K, M)),
            "T": np.broadcast_to(T, batch + (M, M)),
            "v": np.broadcast_to(v, batch + (K,)),
            "v_star": np.broadcast_to(vs, batch + (M,)),
        }
        for name, arr in arrays.items():
            arr = np.array(arr)  # own, contiguous copy
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "batch_shape", tuple(batch))
        self._check_psd()

    def _check_psd(self) -> None:
        eig = np.linalg.eigvalsh(self.covariance)
        lo, hi = eig[..., 0], eig[..., -1]
        bad = lo < -PSD_RTOL * np.maximum(hi, 1e-300)
        if np.any(bad):
            where = np.argwhere(np.atleast_1d(bad))[0]
            at = f" at batch index {tuple(int(i) for i in where)}" if self.batch_shape else ""
            raise InvalidParameterError(
                "The order parameters are not a valid covariance: C = [[Q, R], [Rᵀ, T]] must be "
                f"positive semi-definite (relative tolerance {PSD_RTOL:g}), but its smallest "
                f"eigenvalue is {np.min(lo[bad]):.3g}{at}. Check 'R' against 'Q' and 'T' "
                "(|R_kn| <= sqrt(Q_kk T_nn) at least)."
            )

    # --- shapes and derived quantities ----------------------------------------------------
    @property
    def K(self) -> int:
        """Number of student hidden units."""
        return self.Q.shape[-1]

    @property
    def M(self) -> int:
        """Number of teacher hidden units."""
        return self.T.shape[-1]

    @property
    def covariance(self) -> np.ndarray:
        """Joint covariance C = [[Q, R], [Rᵀ, T]] of the fields (λ, ρ), shape (..., K+M, K+M)."""
        return joint_covariance(self.Q, self.R, self.T)

    @property
    def signed_weights(self) -> np.ndarray:
        """u = (−v, v*): the noiseless error is Δ = Σ_c u_c g(x_c) over all K+M fields."""
        assert self.v is not None and self.v_star is not None  # filled in by __post_init__
        return np.concatenate([-self.v, self.v_star], axis=-1)

    def __getitem__(self, index: Any) -> OrderParameters:
        """Index the batch dimensions: ``op[3]``, ``op[:, 0]``."""
        if not self.batch_shape:
            raise IndexError("These OrderParameters have no batch dimensions to index.")
        idx = index if isinstance(index, tuple) else (index,)
        assert self.v is not None and self.v_star is not None  # filled in by __post_init__
        return OrderParameters(
            self.Q[idx], self.R[idx], self.T[idx], self.v[idx], self.v_star[idx]
        )

    def replace(self, **changes: Any) -> OrderParameters:
        """Return a copy with some fields replaced (validated again)."""
        fields = {n: getattr(self, n) for n in ("Q", "R", "T", "v", "v_star")}
        unknown = set(changes) - set(fields)
        if unknown:
            raise InvalidParameterError(f"Unknown OrderParameters field(s): {sorted(unknown)}.")
        fields.update(changes)
        return OrderParameters(**fields)

    def as_dict(self) -> Mapping[str, np.ndarray]:
        """The five fields as a dict of arrays."""
        return {n: getattr(self, n) for n in ("Q", "R", "T", "v", "v_star")}

    def __repr__(self) -> str:
        b = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"OrderParameters(K={self.K}, M={self.M}{b})"

    # --- constructors ---------------------------------------------------------------------
    @classmethod
    def from_weights(
        cls, W: Any, W_star: Any, v: Any = None, v_star: Any = None
    ) -> OrderParameters:
        """Order parameters of explicit weights: Q = W Wᵀ/N, R = W W*ᵀ/N, T = W* W*ᵀ/N.

        Parameters
        ----------
        W : array_like, shape (..., K, N)
            Student first-layer weights, one row per hidden unit.
        W_star : array_like, shape (..., M, N)
            Teacher first-layer weights.
        v, v_star : array_like, optional
            Second-layer weights (default ones).
        """
        W = _as_array(W, "W")
        Ws = _as_array(W_star, "W_star")
        if W.ndim < 2 or Ws.ndim < 2:
            raise InvalidParameterError(
                "The 'W' and 'W_star' parameters of OrderParameters.from_weights must have shapes "
                f"(..., K, N) and (..., M, N). Got {W.shape} and {Ws.shape}."
            )
        if W.shape[-1] != Ws.shape[-1]:
            raise InvalidParameterError(
                "The 'W' and 'W_star' parameters of OrderParameters.from_weights must have the "
                f"same input dimension N (last axis). Got {W.shape[-1]} and {Ws.shape[-1]}."
            )
        N = W.shape[-1]
        WT = np.swapaxes(W, -1, -2)
        return cls(
            Q=W @ WT / N,
            R=W @ np.swapaxes(Ws, -1, -2) / N,
            T=Ws @ np.swapaxes(Ws, -1, -2) / N,
            v=v,
            v_star=v_star,
        )

    @classmethod
    @validate_params({"size": [Shape()], "seed": [Seed()],
                      "init_scale": [Real(0.0, closed="neither")],
                      "teacher_scale": [Real(0.0, closed="neither")]},
                     func_name="OrderParameters.random")
    def random(
        cls,
        K: int,
        M: int,
        N: int,
        *,
        init_scale: float = 1.0,
        teacher_scale: float = 1.0,
        v: Any = None,
        v_star: Any = None,
        size: int | tuple[int, ...] = (),
        seed: int | np.random.Generator | np.random.SeedSequence | None = None,
    ) -> OrderParameters:
        """Order parameters of Gaussian random weights, drawn exactly without forming them.

        Student rows w_k ~ N(0, init_scale² I_N) and teacher rows w*_n ~ N(0, teacher_scale² I_N),
        all independent. The Gram matrix G = [W; W*][W; W*]ᵀ/N is then a scaled Wishart matrix
        with N degrees of freedom, sampled by the Bartlett decomposition G = S A Aᵀ S/N
        (A lower triangular, A_ii² ~ χ²(N − i), A_ij ~ N(0, 1) below the diagonal; S the scales)
        at a cost independent of N. For N < K + M explicit weights are drawn instead.

        Parameters
        ----------
        K, M, N : int
            Student units, teacher units, input dimension (all >= 1).
        init_scale, teacher_scale : float
            Standard deviations of the student and teacher weight entries (> 0).
        v, v_star : array_like, optional
            Second-layer weights (default ones).
        size : int or tuple of int
            Batch shape of independent draws.
        seed : int, Generator or SeedSequence, optional
            Random seed.

        Examples
        --------
        >>> op = OrderParameters.random(3, 2, 1000, seed=0)
        >>> op.Q.shape, op.R.shape
        ((3, 3), (3, 2))
        """
        func = "OrderParameters.random"
        K = check_positive_int(K, "K", func)
        M = check_positive_int(M, "M", func)
        N = check_positive_int(N, "N", func)
        s_w = check_real(init_scale, "init_scale", func, low=0, low_inclusive=False)
        s_t = check_real(teacher_scale, "teacher_scale", func, low=0, low_inclusive=False)
        size = (size,) if isinstance(size, int) else tuple(size)
        rng = np.random.default_rng(seed)
        p = K + M
        if N >= p:
            A = bartlett_factor(rng, N, p, size)
            G = A @ np.swapaxes(A, -1, -2) / N
        else:
            X = rng.standard_normal(size + (p, N))
            G = X @ np.swapaxes(X, -1, -2) / N
        scale = np.concatenate([np.full(K, s_w), np.full(M, s_t)])
        G = G * scale[:, None] * scale[None, :]
        return cls(Q=G[..., :K, :K], R=G[..., :K, K:], T=G[..., K:, K:], v=v, v_star=v_star)
