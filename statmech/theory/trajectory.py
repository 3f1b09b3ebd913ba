"""The result of integrating the order-parameter ODEs: :class:`Trajectory`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import InvalidParameterError
from .order_parameters import OrderParameters

__all__ = ["Trajectory"]


def order_parameter_columns(Q: np.ndarray, R: np.ndarray, v: np.ndarray) -> dict[str, Any]:
    """Flat table columns ``Q_i_k`` (i <= k), ``R_i_n`` and ``v_i`` from (..., K, K), (..., K, M)
    and (..., K) arrays, one row per leading index (C order)."""
    K, M = R.shape[-2:]
    Qf, Rf, vf = Q.reshape(-1, K, K), R.reshape(-1, K, M), v.reshape(-1, K)
    cols: dict[str, Any] = {}
    for i in range(K):
        for k in range(i, K):
            cols[f"Q_{i}_{k}"] = Qf[:, i, k]
    for i in range(K):
        for n in range(M):
            cols[f"R_{i}_{n}"] = Rf[:, i, n]
    for i in range(K):
        cols[f"v_{i}"] = vf[:, i]
    return cols


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Order parameters and generalisation error along α, for a batch of ODE solutions.

    Attributes
    ----------
    alpha : ndarray, shape (n_alpha,)
        Output times α = steps/N.
    Q : ndarray, shape (*batch, n_alpha, K, K)
    R : ndarray, shape (*batch, n_alpha, K, M)
    v : ndarray, shape (*batch, n_alpha, K)
        Second-layer weights (constant unless the second layer is trained).
    eg : ndarray, shape (*batch, n_alpha)
        Noiseless generalisation error ε_g on the ½·MSE scale.
    T : ndarray, shape (*batch, M, M)
    v_star : ndarray, shape (*batch, M)
    activation : tuple of str
        (student, teacher) activation names.
    params : dict
        The model and integrator parameters of the run (η, η_v, σ, κ, B, method, rtol, atol);
        array-valued entries have the batch shape.
    status : ndarray of str, shape (*batch)
        ``"ok"`` or ``"diverged"`` per member; diverged members hold NaN after ``alpha_diverged``.
    alpha_diverged : ndarray, shape (*batch)
        First output time at which a member was found diverged (NaN if it did not).
    """

    alpha: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    v: np.ndarray
    eg: np.ndarray
    T: np.ndarray
    v_star: np.ndarray
    activation: tuple[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    status: np.ndarray = field(default_factory=lambda: np.array("ok"))
    alpha_diverged: np.ndarray = field(default_factory=lambda: np.array(np.nan))
    nfev: int = 0

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Batch shape of the members (``()`` for a single trajectory)."""
        return self.eg.shape[:-1]

    @property
    def K(self) -> int:
        """Number of student units."""
        return self.Q.shape[-1]

    @property
    def M(self) -> int:
        """Number of teacher units."""
        return self.T.shape[-1]

    def at(self, i: int) -> OrderParameters:
        """The (batched) :class:`OrderParameters` at output index ``i`` (negative from the end)."""
        n = self.alpha.shape[0]
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or not -n <= i < n:
            raise InvalidParameterError(
                f"The 'i' parameter of Trajectory.at must be an int in [{-n}, {n - 1}]. Got {i!r}."
            )
        return OrderParameters(
            self.Q[..., i, :, :], self.R[..., i, :, :], self.T, self.v[..., i, :], self.v_star
        )

    def to_frame(self):
        """A long-format labelled table (pandas DataFrame), one row per member and output time.

        Columns: the batch indices (``member_0``, ... when batched), the member's scalar
        parameters (``eta``, ...), ``alpha``, ``eg``, ``status``, and the order parameters
        ``Q_i_k`` (i <= k), ``R_i_n`` and ``v_i``.
        """
        import pandas as pd

        batch = self.batch_shape
        n_alpha = self.alpha.shape[0]
        idx = np.indices(batch + (n_alpha,)).reshape(len(batch) + 1, -1)
        cols: dict[str, Any] = {}
        for d in range(len(batch)):
            cols[f"member_{d}"] = idx[d]
        for key, value in self.params.items():
            arr = np.asarray(value)
            if arr.dtype.kind in "biuf" and arr.shape in ((), batch):
                cols[key] = np.broadcast_to(arr, batch)[tuple(idx[:-1])] if batch else arr.item()
            elif arr.ndim == 0:
                cols[key] = arr.item()
        cols["alpha"] = self.alpha[idx[-1]]
        cols["eg"] = self.eg.reshape(-1)
        cols["status"] = np.broadcast_to(self.status, batch)[tuple(idx[:-1])] if batch else str(
            self.status
        )
        cols.update(order_parameter_columns(self.Q, self.R, self.v))
        return pd.DataFrame(cols)

    def __repr__(self) -> str:
        b = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return (
            f"Trajectory(K={self.K}, M={self.M}, n_alpha={self.alpha.shape[0]}, "
            f"alpha=[{self.alpha[0]:g}, {self.alpha[-1]:g}]{b})"
        )
