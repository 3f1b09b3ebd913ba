"""Cell order parameters of a student with fixed binary masks (sparse or pruned students).

A student whose unit k sees only the inputs kept by its mask m_k ∈ {0, 1}^N splits the N input
coordinates into *cells*: cell s ⊆ {1..K} holds the coordinates kept by exactly the units in s
(s = ∅ included), a fraction p_s of them. The cell order parameters (``docs/masked_theory.md``
§1)

    Q^s_kl = Σ_{i∈s} w_ki w_li / N,   R^s_kn = Σ_{i∈s} w_ki w*_ni / N,
    T^s_nm = Σ_{i∈s} w*_ni w*_mi / N

(Q^s_kl = 0 unless k, l ∈ s; R^s_kn = 0 unless k ∈ s) add up to the dense ones, Q = Σ_s Q^s etc.
Online SGD with the masks held fixed closes on them at large N (:mod:`statmech.theory.masked_ode`);
a dense student is the one-cell case s = {1..K}, p_s = 1.

:class:`MaskedOrderParameters` holds them (validated, read-only, optionally batched over
members that share one list of cells) with constructors from explicit weights and masks
(:meth:`~MaskedOrderParameters.from_weights`), from dense order parameters under random edge
masks (:meth:`~MaskedOrderParameters.random_edge`, the large-N closed form), from synthetic
Gaussian coordinates and per-coordinate inclusion probabilities
(:meth:`~MaskedOrderParameters.from_coordinates`, the large-N limit of any edge method that
prunes each unit independently), and the dense embedding (:meth:`~MaskedOrderParameters.dense`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import Integer, InvalidParameterError, Real, Seed, check
from .order_parameters import PSD_RTOL, OrderParameters, joint_covariance

__all__ = ["MaskedOrderParameters", "MAX_CELLS", "cell_patterns", "synthetic_coordinates"]

#: Most cells a masked student may have (2^K for K = 10 units with every pattern present). The
#: masked ODE has Σ_s (|s|(|s|+1)/2 + |s|·M) variables and costs O(S·K·(K+M)²) per evaluation;
#: beyond this limit use the Monte Carlo (``statmech.simulate`` with a mask).
MAX_CELLS = 1024
#: Relative tolerance of the checks that p sums to 1 and that cell blocks vanish outside s × s.
CELL_RTOL = 1e-9


def cell_patterns(K: int) -> np.ndarray:
    """All 2^K cells as a boolean (2^K, K) array; row s has bit k of s in column k."""
    codes = np.arange(2**K)
    return ((codes[:, None] >> np.arange(K)) & 1).astype(bool)


def _codes(cells: np.ndarray) -> np.ndarray:
    return (cells.astype(np.int64) << np.arange(cells.shape[1])).sum(axis=1)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


def _fail(msg: str, param: str) -> InvalidParameterError:
    return InvalidParameterError(f"MaskedOrderParameters: {msg}", func="MaskedOrderParameters",
                                 param=param)


@dataclass(frozen=True, eq=False, repr=False)
class MaskedOrderParameters:
    """Cell order parameters (p_s, Q^s, R^s, T^s) and (v, v*) of a masked student.

    Parameters
    ----------
    cells : bool array, shape (S, K)
        Row s marks the units that keep the coordinates of cell s (distinct rows).
    p : array, shape (..., S)
        Fraction of the coordinates in each cell (non-negative, summing to 1).
    Q_cells : array, shape (..., S, K, K)
        Q^s; entries with k or l outside s must vanish.
    R_cells : array, shape (..., S, K, M)
        R^s; rows of units outside s must vanish.
    T_cells : array, shape (..., S, M, M)
        T^s.
    v, v_star : array, shape (..., K) and (..., M), optional
        Second-layer weights (default ones).

    Every cell's joint covariance [[Q^s, R^s], [R^sᵀ, T^s]] must be positive semi-definite
    (it is a Gram matrix of the cell's coordinates). Leading batch dimensions broadcast; the
    stored arrays have the common batch shape and are read-only. ``Q``, ``R`` and ``T`` are the
    dense (summed) order parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import MaskedOrderParameters
    >>> rng = np.random.default_rng(0)
    >>> W, Ws = rng.standard_normal((2, 1000)), rng.standard_normal((1, 1000))
    >>> mask = rng.random((2, 1000)) < 0.5
    >>> mop = MaskedOrderParameters.from_weights(W, Ws, mask)
    >>> mop.n_cells, round(float(mop.p.sum()), 12)
    (4, 1.0)
    """

    cells: np.ndarray
    p: np.ndarray
    Q_cells: np.ndarray
    R_cells: np.ndarray
    T_cells: np.ndarray
    v: np.ndarray | None = None
    v_star: np.ndarray | None = None
    batch_shape: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        cells = np.asarray(self.cells)
        if cells.ndim != 2 or cells.dtype != bool or cells.shape[0] < 1 or cells.shape[1] < 1:
            raise _fail(f"'cells' must be a boolean array of shape (S, K) with S, K >= 1. Got "
                        f"{cells.dtype} of shape {cells.shape}.", "cells")
        S, K = cells.shape
        if S > MAX_CELLS:
            raise _fail(f"{S} cells exceed MAX_CELLS = {MAX_CELLS} (the masked ODE would have "
                        "too many variables); use the Monte Carlo (statmech.simulate with a "
                        "mask) instead.", "cells")
        if np.unique(_codes(cells)).size != S:
            raise _fail("the rows of 'cells' must be distinct.", "cells")
        arrays = {}
        for name in ("p", "Q_cells", "R_cells", "T_cells"):
            try:
                a = np.array(getattr(self, name), dtype=float)
            except (TypeError, ValueError):
                raise _fail(f"{name!r} must be a real array.", name) from None
            if not np.all(np.isfinite(a)):
                raise _fail(f"{name!r} must be finite (found NaN or inf).", name)
            arrays[name] = a
        p, Qc, Rc, Tc = (arrays[n] for n in ("p", "Q_cells", "R_cells", "T_cells"))
        if p.ndim < 1 or p.shape[-1] != S:
            raise _fail(f"'p' must have shape (..., S) = (..., {S}). Got {p.shape}.", "p")
        if Qc.ndim < 3 or Qc.shape[-3:] != (S, K, K):
            raise _fail(f"'Q_cells' must have shape (..., {S}, {K}, {K}). Got {Qc.shape}.",
                        "Q_cells")
        if Tc.ndim < 3 or Tc.shape[-3] != S or Tc.shape[-1] != Tc.shape[-2] or Tc.shape[-1] < 1:
            raise _fail(f"'T_cells' must have shape (..., {S}, M, M) with M >= 1. Got "
                        f"{Tc.shape}.", "T_cells")
        M = Tc.shape[-1]
        if Rc.ndim < 3 or Rc.shape[-3:] != (S, K, M):
            raise _fail(f"'R_cells' must have shape (..., {S}, {K}, {M}). Got {Rc.shape}.",
                        "R_cells")
        v = np.ones(K) if self.v is None else np.array(self.v, dtype=float)
        vs = np.ones(M) if self.v_star is None else np.array(self.v_star, dtype=float)
        if v.ndim < 1 or v.shape[-1] != K or not np.all(np.isfinite(v)):
            raise _fail(f"'v' must be finite with shape (..., {K}). Got {v.shape}.", "v")
        if vs.ndim < 1 or vs.shape[-1] != M or not np.all(np.isfinite(vs)):
            raise _fail(f"'v_star' must be finite with shape (..., {M}). Got {vs.shape}.",
                        "v_star")
        try:
            batch = np.broadcast_shapes(p.shape[:-1], Qc.shape[:-3], Rc.shape[:-3],
                                        Tc.shape[:-3], v.shape[:-1], vs.shape[:-1])
        except ValueError:
            raise _fail("the batch dimensions of the fields do not broadcast: p "
                        f"{p.shape}, Q_cells {Qc.shape}, R_cells {Rc.shape}, T_cells "
                        f"{Tc.shape}, v {v.shape}, v_star {vs.shape}.", "p") from None
        if np.any(p < 0) or np.any(np.abs(p.sum(-1) - 1.0) > CELL_RTOL * S):
            raise _fail(f"'p' must be non-negative and sum to 1 over the cells (got sums "
                        f"{np.round(p.sum(-1), 12).ravel()[:4]}).", "p")
        inside_q = cells[:, :, None] & cells[:, None, :]
        scale = max(float(np.abs(Qc).max(initial=0.0)), float(np.abs(Tc).max(initial=0.0)),
                    1e-300)
        if np.abs(np.where(inside_q, 0.0, Qc)).max(initial=0.0) > CELL_RTOL * scale:
            raise _fail("'Q_cells' must vanish outside s × s in every cell s (a unit has no "
                        "weights on the coordinates its mask removes).", "Q_cells")
        if np.abs(np.where(cells[:, :, None], 0.0, Rc)).max(initial=0.0) > CELL_RTOL * scale:
            raise _fail("'R_cells' must vanish on the rows of units outside s in every cell s.",
                        "R_cells")
        Qc = np.where(inside_q, 0.5 * (Qc + np.swapaxes(Qc, -1, -2)), 0.0)
        Tc = 0.5 * (Tc + np.swapaxes(Tc, -1, -2))
        Rc = np.where(cells[:, :, None], Rc, 0.0)
        cov = joint_covariance(Qc, Rc, Tc)
        eig = np.linalg.eigvalsh(cov)
        tol = PSD_RTOL * np.maximum(np.abs(eig).max(-1), 1e-300)
        if np.any(eig[..., 0] < -tol):
            raise _fail("every cell covariance [[Q^s, R^s], [R^sᵀ, T^s]] must be positive "
                        f"semi-definite (relative tolerance {PSD_RTOL:g}); the smallest "
                        f"eigenvalue is {float(eig[..., 0].min()):.3g}.", "Q_cells")
        out = {"p": np.broadcast_to(p, batch + (S,)),
               "Q_cells": np.broadcast_to(Qc, batch + (S, K, K)),
               "R_cells": np.broadcast_to(Rc, batch + (S, K, M)),
               "T_cells": np.broadcast_to(Tc, batch + (S, M, M)),
               "v": np.broadcast_to(v, batch + (K,)), "v_star": np.broadcast_to(vs, batch + (M,))}
        for name, a in out.items():
            object.__setattr__(self, name, _frozen(a))
        c = np.array(cells)
        c.flags.writeable = False
        object.__setattr__(self, "cells", c)
        object.__setattr__(self, "batch_shape", tuple(batch))

    # --- shapes and aggregates ------------------------------------------------------------
    @property
    def K(self) -> int:
        """Number of student units."""
        return self.cells.shape[1]

    @property
    def M(self) -> int:
        """Number of teacher units."""
        return self.T_cells.shape[-1]

    @property
    def n_cells(self) -> int:
        """Number of cells S."""
        return self.cells.shape[0]

    @property
    def Q(self) -> np.ndarray:
        """Dense Q = Σ_s Q^s, shape (..., K, K)."""
        return self.Q_cells.sum(axis=-3)

    @property
    def R(self) -> np.ndarray:
        """Dense R = Σ_s R^s, shape (..., K, M)."""
        return self.R_cells.sum(axis=-3)

    @property
    def T(self) -> np.ndarray:
        """Dense T = Σ_s T^s, shape (..., M, M)."""
        return self.T_cells.sum(axis=-3)

    @property
    def keep_fraction(self) -> np.ndarray:
        """Fraction of the coordinates each unit keeps, shape (..., K)."""
        return np.einsum("...s,sk->...k", self.p, self.cells.astype(float))

    def order_parameters(self) -> OrderParameters:
        """The dense :class:`~statmech.OrderParameters` (Q, R, T, v, v*)."""
        return OrderParameters(self.Q, self.R, self.T, self.v, self.v_star)

    def __getitem__(self, index: Any) -> MaskedOrderParameters:
        """Index the batch dimensions (``mop[3]``)."""
        if not self.batch_shape:
            raise IndexError("These MaskedOrderParameters have no batch dimensions to index.")
        idx = index if isinstance(index, tuple) else (index,)
        return MaskedOrderParameters(self.cells, self.p[idx], self.Q_cells[idx],
                                     self.R_cells[idx], self.T_cells[idx],
                                     np.asarray(self.v)[idx], np.asarray(self.v_star)[idx])

    def __repr__(self) -> str:
        b = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"MaskedOrderParameters(K={self.K}, M={self.M}, cells={self.n_cells}{b})"

    # --- constructors ---------------------------------------------------------------------
    @classmethod
    def dense(cls, op: OrderParameters) -> MaskedOrderParameters:
        """The dense student as one cell s = {1..K} with p_s = 1 (the teacher fully seen)."""
        if not isinstance(op, OrderParameters):
            raise InvalidParameterError.build("MaskedOrderParameters.dense", "op",
                                              "an OrderParameters", op)
        cells = np.ones((1, op.K), dtype=bool)
        one = np.ones(op.batch_shape + (1,))
        return cls(cells, one, op.Q[..., None, :, :], op.R[..., None, :, :],
                   op.T[..., None, :, :], op.v, op.v_star)

    @classmethod
    def from_weights(cls, W: Any, W_star: Any, mask: Any, v: Any = None,
                     v_star: Any = None) -> MaskedOrderParameters:
        """Cell order parameters of explicit weights and masks (weights off the mask count as 0).

        Parameters
        ----------
        W : array, shape (K, N) or (E, K, N)
            Student first-layer weights.
        W_star : array, shape (M, N) or (E, M, N)
            Teacher first-layer weights.
        mask : bool array, shape (K, N) or (E, K, N)
            ``mask[k, i]``: unit k keeps input i. A batch shares one list of cells (the union
            of the patterns present; a pattern absent from a member has p_s = 0 there).
        v, v_star : array, optional
            Second-layer weights (default ones).
        """
        func = "MaskedOrderParameters.from_weights"
        Wa = np.asarray(W, dtype=float)
        Wsa = np.asarray(W_star, dtype=float)
        m = np.asarray(mask)
        if m.dtype != bool:
            raise InvalidParameterError.build(func, "mask", "a boolean array (K, N) or "
                                              "(E, K, N)", mask)
        if Wa.ndim not in (2, 3) or Wsa.ndim not in (2, 3) or m.shape[-2:] != Wa.shape[-2:] \
                or Wsa.shape[-1] != Wa.shape[-1]:
            raise InvalidParameterError(
                f"The 'W', 'W_star' and 'mask' parameters of {func} must have shapes (K, N) or "
                f"(E, K, N), (M, N) or (E, M, N) and that of W. Got {Wa.shape}, {Wsa.shape}, "
                f"{m.shape}.", func=func, param="mask")
        N = Wa.shape[-1]
        K, M = Wa.shape[-2], Wsa.shape[-2]
        batch = np.broadcast_shapes(Wa.shape[:-2], Wsa.shape[:-2], m.shape[:-2])
        Wa = np.broadcast_to(Wa, batch + Wa.shape[-2:]).reshape((-1, K, N))
        Wsa = np.broadcast_to(Wsa, batch + Wsa.shape[-2:]).reshape((-1, M, N))
        m = np.broadcast_to(m, batch + (K, N)).reshape((-1, K, N))
        codes = (m.astype(np.int64) << np.arange(K)[:, None]).sum(axis=-2)  # (E, N)
        present = np.unique(codes)
        if present.size > MAX_CELLS:
            raise InvalidParameterError(
                f"The masks of {func} have {present.size} distinct patterns, more than "
                f"MAX_CELLS = {MAX_CELLS}; use the Monte Carlo (statmech.simulate with a mask).",
                func=func, param="mask")
        cells = ((present[:, None] >> np.arange(K)) & 1).astype(bool)
        S, D = present.size, K + M
        E = codes.shape[0]
        p = np.zeros((E, S))
        cov = np.zeros((E, S, D, D))
        for e in range(E):  # coordinates sorted by cell, then summed cell by cell
            order = np.argsort(codes[e], kind="stable")
            sorted_codes = codes[e][order]
            starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
            where = np.searchsorted(present, sorted_codes[starts])
            Z = np.concatenate([np.where(m[e], Wa[e], 0.0), Wsa[e]])[:, order].T  # (N, D)
            cov[e, where] = np.add.reduceat(Z[:, :, None] * Z[:, None, :], starts, axis=0) / N
            p[e, where] = np.diff(np.r_[starts, N]) / N
        shape = batch + (S,)
        Qc = cov[..., :K, :K].reshape(shape + (K, K))
        Rc = cov[..., :K, K:].reshape(shape + (K, M))
        Tc = cov[..., K:, K:].reshape(shape + (M, M))
        p = p.reshape(shape)
        return cls(cells, p, Qc, Rc, Tc, v, v_star)

    @classmethod
    def random_edge(cls, op: OrderParameters, keep: float) -> MaskedOrderParameters:
        """Large-N cells of random edge masks keeping a fraction ``keep`` of each unit's inputs.

        The masks are independent of the weights, so p_s = c^|s| (1 − c)^(K−|s|) and
        Q^s = p_s Q on s × s, R^s = p_s R on the rows of s, T^s = p_s T (all 2^K cells;
        ``docs/masked_theory.md`` §3).
        """
        func = "MaskedOrderParameters.random_edge"
        if not isinstance(op, OrderParameters):
            raise InvalidParameterError.build(func, "op", "an OrderParameters", op)
        check(keep, "keep", func, [Real(0.0, 1.0, "right")])
        c = float(keep)
        cells = cell_patterns(op.K)
        size = cells.sum(1)
        p = c**size * (1.0 - c) ** (op.K - size)
        inside = (cells[:, :, None] & cells[:, None, :]).astype(float)
        rows = cells[:, :, None].astype(float)
        pb = p[:, None, None]
        Qc = pb * inside * op.Q[..., None, :, :]
        Rc = pb * rows * op.R[..., None, :, :]
        Tc = pb * op.T[..., None, :, :]
        return cls(cells, np.broadcast_to(p, op.batch_shape + p.shape), Qc, Rc, Tc, op.v,
                   op.v_star)

    @classmethod
    def from_coordinates(cls, Z: Any, P: Any, v: Any = None, v_star: Any = None,
                         chunk: int | None = None) -> MaskedOrderParameters:
        """Large-N cells from synthetic coordinates and per-unit inclusion probabilities.

        At large N the coordinates i of (w_1i..w_Ki, w*_1i..w*_Mi)·√N are draws of one
        distribution, and an edge method that prunes every unit separately keeps coordinate i
        of unit k with probability P_ik given the weights, independently across units. A cell
        then collects the coordinates with probability Π_{k∈s} P_ik Π_{k∉s} (1 − P_ik), and

            p_s = ⟨Π⟩,  Q^s_kl = ⟨z_k z_l Π⟩,  R^s_kn = ⟨z_k z*_n Π⟩,  T^s = ⟨z* z*ᵀ Π⟩

        averaged over the n rows (``docs/masked_theory.md`` §3).

        Parameters
        ----------
        Z : array, shape (n, K + M)
            Synthetic coordinates (student values then teacher values), scaled so that their
            mean outer product is the covariance [[Q, R], [Rᵀ, T]].
        P : array, shape (n, K)
            Inclusion probabilities in [0, 1] of each coordinate for each unit.
        v, v_star : array, optional
            Second-layer weights (default ones).
        chunk : int, optional
            Rows per block (memory: about 3 · chunk · 2^K floats; default: blocks of
            2^22 / 2^K rows, about 100 MB).
        """
        func = "MaskedOrderParameters.from_coordinates"
        Za = np.asarray(Z, dtype=float)
        Pa = np.asarray(P, dtype=float)
        check(chunk, "chunk", func, [None, Integer(1)])
        if Za.ndim != 2 or Pa.ndim != 2 or Pa.shape[0] != Za.shape[0] or \
                not 1 <= Pa.shape[1] < Za.shape[1]:
            raise InvalidParameterError(
                f"The 'Z' and 'P' parameters of {func} must have shapes (n, K + M) and (n, K) "
                f"with K, M >= 1. Got {Za.shape} and {Pa.shape}.", func=func, param="P")
        if not (np.all(np.isfinite(Za)) and np.all((Pa >= 0) & (Pa <= 1))):
            raise InvalidParameterError(
                f"The 'Z' and 'P' parameters of {func} must be finite, with P in [0, 1].",
                func=func, param="P")
        n, K = Pa.shape
        cells = cell_patterns(K)
        S, D = cells.shape[0], Za.shape[1]
        chunk = max(1, 2**22 // S) if chunk is None else int(chunk)
        acc_p = np.zeros(S)
        acc_c = np.zeros((S, D, D))
        for a in range(0, n, chunk):
            z, pr = Za[a:a + chunk], Pa[a:a + chunk]
            # weight of row i in cell s: Π_k (P_ik if k ∈ s else 1 − P_ik)
            w = np.ones((z.shape[0], S))
            for k in range(K):
                w *= np.where(cells[:, k], pr[:, k:k + 1], 1.0 - pr[:, k:k + 1])
            acc_p += w.sum(0)
            acc_c += np.einsum("is,ia,ib->sab", w, z, z)
        cov = acc_c / n
        inside = cells[:, :, None] & cells[:, None, :]
        Qc = np.where(inside, cov[:, :K, :K], 0.0)
        Rc = np.where(cells[:, :, None], cov[:, :K, K:], 0.0)
        return cls(cells, acc_p / acc_p.sum(), Qc, Rc, cov[:, K:, K:], v, v_star)


def synthetic_coordinates(op: OrderParameters, n: int, seed: Any = 0) -> np.ndarray:
    """n Gaussian rows (n, K + M) whose mean outer product is exactly [[Q, R], [Rᵀ, T]].

    The synthetic coordinates of :meth:`MaskedOrderParameters.from_coordinates`: standard normal
    rows, whitened so that their columns are exactly orthonormal (second moments matched, which
    removes the sampling noise of the aggregates), times a square root of the covariance.
    """
    func = "synthetic_coordinates"
    check(n, "n", func, [Integer(1)])
    check(seed, "seed", func, [Seed()])
    if not isinstance(op, OrderParameters) or op.batch_shape:
        raise InvalidParameterError.build(func, "op", "unbatched OrderParameters", op)
    cov = op.covariance
    D = cov.shape[0]
    if n < D:
        raise InvalidParameterError.build(func, "n", f"an int >= K + M = {D}", n)
    w, V = np.linalg.eigh(cov)
    root = V * np.sqrt(np.clip(w, 0.0, None))
    G = np.random.default_rng(seed).standard_normal((n, D))
    g, U = np.linalg.eigh(G.T @ G / n)
    G = G @ (U / np.sqrt(g)) @ U.T  # G.T @ G / n = I
    return G @ root.T
