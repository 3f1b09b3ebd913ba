"""The result of a simulation: :class:`Ensemble` and its mean, :class:`EnsembleMean`."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..theory.order_parameters import OrderParameters

__all__ = ["Ensemble", "EnsembleMean"]


@dataclass(frozen=True)
class EnsembleMean:
    """Ensemble mean and standard error of the mean at each output time.

    Members that diverged are left out from the time they diverged; ``n`` counts the members
    used at each time. ``*_se`` is the sample standard deviation over √n (NaN where n < 2).
    """

    alpha: np.ndarray
    n: np.ndarray
    eg: np.ndarray
    eg_se: np.ndarray
    Q: np.ndarray
    Q_se: np.ndarray
    R: np.ndarray
    R_se: np.ndarray
    v: np.ndarray
    v_se: np.ndarray

    def __repr__(self) -> str:
        a = self.alpha
        return (f"EnsembleMean(n_alpha={a.shape[0]}, alpha=[{a[0]:g}, {a[-1]:g}], "
                f"members={int(np.max(self.n, initial=0))}, K={self.Q.shape[-1]}, "
                f"M={self.R.shape[-1]}, final eg={self.eg[-1]:.4g} ± {self.eg_se[-1]:.2g})")


def _mean_se(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """nan-aware mean over axis 0 and its standard error, with n finite members per time."""
    nn = n.reshape(n.shape + (1,) * (x.ndim - 2))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=0)
        sd = np.nanstd(x, axis=0, ddof=1)
    se = np.where(nn >= 2, sd / np.sqrt(np.maximum(nn, 1)), np.nan)
    return mean, se


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Order parameters and ε_g of E simulated teacher–student pairs along α.

    Attributes
    ----------
    alpha : ndarray (n_alpha,)
        Output times α = steps/N (the requested α rounded to whole steps).
    Q : ndarray (E, n_alpha, K, K)
    R : ndarray (E, n_alpha, K, M)
    v : ndarray (E, n_alpha, K)
    eg : ndarray (E, n_alpha)
        Analytic noiseless generalisation error ε_g (½·MSE scale) of each member's order
        parameters (:func:`statmech.generalization_error`).
    T : ndarray (E, M, M)
    v_star : ndarray (E, M)
    activation : (str, str)
        (student, teacher) activation names.
    params : dict
        The simulation parameters (N, η, method, backend, seed, ...).
    status : ndarray of str (E,)
        ``"ok"`` or ``"diverged"``; diverged members hold NaN from ``alpha_diverged`` on.
    alpha_diverged : ndarray (E,)
        First check time (α) at which a member was found diverged, NaN otherwise.
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
    status: np.ndarray = field(default_factory=lambda: np.array([], dtype="<U8"))
    alpha_diverged: np.ndarray = field(default_factory=lambda: np.array([]))
    final_weights: tuple | None = None  # (W, W*, v, v*) of the full-N engine, host arrays
    teacher: np.ndarray | None = None  # given teacher weights (E, M, N), for reconstruction

    @property
    def E(self) -> int:
        """Number of members."""
        return self.eg.shape[0]

    @property
    def K(self) -> int:
        """Student units."""
        return self.Q.shape[-1]

    @property
    def M(self) -> int:
        """Teacher units."""
        return self.T.shape[-1]

    @property
    def N(self) -> int:
        """Input dimension."""
        return int(self.params["N"])

    def mean_trajectory(self) -> EnsembleMean:
        """Mean and standard error over members at each output time (diverged left out)."""
        ok = np.isfinite(self.eg)
        n = ok.sum(0)
        eg, eg_se = _mean_se(self.eg, n)
        Q, Q_se = _mean_se(self.Q, n)
        R, R_se = _mean_se(self.R, n)
        v, v_se = _mean_se(self.v, n)
        return EnsembleMean(self.alpha.copy(), n, eg, eg_se, Q, Q_se, R, R_se, v, v_se)

    def order_parameters(self, i: int, members: Any = None) -> OrderParameters:
        """The batched :class:`OrderParameters` of the members at output index ``i``.

        Parameters
        ----------
        i : int
            Output index (negative from the end).
        members : int, slice, index array or boolean mask, optional
            Which members (default all). Members that diverged before ``alpha[i]`` hold NaN and
            must be left out (e.g. ``members=ens.status == "ok"``).
        """
        n = self.alpha.shape[0]
        from .._validation import Integer, check

        check(i, "i", "Ensemble.order_parameters", [Integer(-n, n - 1)])
        sel = slice(None) if members is None else members
        Q, R, v = self.Q[sel, i], self.R[sel, i], self.v[sel, i]
        if not np.all(np.isfinite(Q)):
            raise ValueError(
                "Ensemble.order_parameters: some selected members diverged before "
                f"alpha = {self.alpha[i]:g} (NaN). Select the others with "
                "members=ens.status == 'ok'."
            )
        return OrderParameters(Q, R, self.T[sel], v, self.v_star[sel])

    def initial_order_parameters(self) -> OrderParameters:
        """The members' order parameters at the first output time (α = 0 by default)."""
        return self.order_parameters(0)

    def weights(self, seed: Any = None) -> dict[str, np.ndarray]:
        """Explicit weights at the final α: ``{"W", "W_star", "v", "v_star"}`` with leading E.

        For ``method="full"`` these are the simulated weights. For ``method="reduced"`` they are
        reconstructed from the final order parameters by
        :func:`statmech.weights_from_order_parameters` (Haar given the Gram matrices; exact in
        law for rotation-invariant initial weights), reproducibly from the run's seed (stream
        (i, 3) of member i) unless ``seed`` is given. Diverged members give NaN.
        """
        from .._resources import check_memory
        from .._validation import Seed, check

        check(seed, "seed", "Ensemble.weights", [Seed()])
        N, K, M, E = self.N, self.K, self.M, self.E
        check_memory(8 * E * (K + M) * N, "Ensemble.weights", {"N": N, "K": K, "M": M,
                     "ensemble": E}, what="the weights of every member",
                     hint="Select fewer members first, or use the order parameters.")
        if self.final_weights is not None:
            W, Ws, v, vs = self.final_weights
            return {"W": W.copy(), "W_star": Ws.copy(), "v": v.copy(), "v_star": vs.copy()}
        from .backend import member_seeds
        from .sgd_engine import STREAM_RECONSTRUCT, child_seed
        from .weights_reconstruction import reconstruct_member

        root = self.params["seed"] if seed is None else seed
        seeds = member_seeds(np.random.SeedSequence(root), E)
        W = np.full((E, K, N), np.nan)
        Ws = np.full((E, M, N), np.nan)
        for e in range(E):
            rng = np.random.default_rng(child_seed(seeds[e], STREAM_RECONSTRUCT))
            teacher = None if self.teacher is None else self.teacher[e]
            if not np.all(np.isfinite(self.Q[e, -1])):
                if teacher is not None:
                    Ws[e] = teacher
                continue
            W[e], Ws[e] = reconstruct_member(self.Q[e, -1], self.R[e, -1], self.T[e], N, rng,
                                             teacher)
        return {"W": W, "W_star": Ws, "v": self.v[:, -1].copy(), "v_star": self.v_star.copy()}

    def escape_time(self, *, plateau: Any = None, fraction: float = 0.5) -> np.ndarray:
        """Per-member escape times: first α with ε_g below ``fraction`` × plateau height.

        Same definition as :func:`statmech.escape_time` (linear interpolation between output
        times, so use a fine α grid; NaN for members that never escape). The default plateau is
        the symmetric fixed point of the ODE for this η, σ and B (K = M, T ≈ 𝟙 needed; finite-N
        teachers have T = 𝟙 + O(1/√N), so pass ``plateau`` explicitly for small N).
        """
        from ..theory.fixed_points import escape_time
        from ..theory.trajectory import Trajectory

        p = self.params
        traj = Trajectory(
            alpha=self.alpha, Q=self.Q, R=self.R, v=self.v, eg=self.eg,
            T=np.broadcast_to(np.eye(self.M), self.T.shape) if plateau is None else self.T,
            v_star=self.v_star, activation=self.activation,
            params={"eta": p["eta"], "noise": p["noise"], "batch_size": p["batch_size"],
                    "train_second_layer": p["train_second_layer"]},
        )
        return escape_time(traj, plateau=plateau, fraction=fraction)

    def to_frame(self):
        """Long-format table (pandas DataFrame): one row per member and output time.

        Columns: ``member``, the scalar parameters, ``alpha``, ``eg``, ``status``, ``Q_i_k``
        (i <= k), ``R_i_n``, ``v_i``.
        """
        import pandas as pd

        from ..theory.trajectory import order_parameter_columns

        E, n = self.eg.shape
        member = np.repeat(np.arange(E), n)
        cols: dict[str, Any] = {"member": member}
        for key, value in self.params.items():
            if isinstance(value, bool | int | float | str | np.floating | np.integer):
                cols[key] = value
        cols["alpha"] = np.tile(self.alpha, E)
        cols["eg"] = self.eg.reshape(-1)
        cols["status"] = self.status[member]
        cols.update(order_parameter_columns(self.Q, self.R, self.v))
        return pd.DataFrame(cols)

    def save(self, path: str | Path) -> Path:
        """Write the ensemble to a ``.npz`` file (parameters as JSON inside); returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        arrays = {k: getattr(self, k) for k in
                  ("alpha", "Q", "R", "v", "eg", "T", "v_star", "status", "alpha_diverged")}
        if self.final_weights is not None:
            for name, a in zip(("W", "W_star", "w_v", "w_v_star"), self.final_weights,
                               strict=True):
                arrays[f"final_{name}"] = a
        if self.teacher is not None:
            arrays["teacher"] = self.teacher
        meta = {"activation": list(self.activation), "params": self.params,
                "format": "statmech.Ensemble/1"}
        arrays["meta"] = np.array(json.dumps(meta, default=_json_default))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Read an ensemble written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise ValueError(f"Ensemble.load: no file at {str(path)!r}.")
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != "statmech.Ensemble/1":
                raise ValueError(f"Ensemble.load: {str(path)!r} is not a statmech Ensemble file.")
            data = {k: f[k] for k in f.files}
        final = None
        if "final_W" in data:
            final = tuple(data[f"final_{n}"] for n in ("W", "W_star", "w_v", "w_v_star"))
        return cls(
            alpha=data["alpha"], Q=data["Q"], R=data["R"], v=data["v"], eg=data["eg"],
            T=data["T"], v_star=data["v_star"], activation=tuple(meta["activation"]),
            params=meta["params"], status=data["status"], alpha_diverged=data["alpha_diverged"],
            final_weights=final, teacher=data.get("teacher"),
        )

    def __repr__(self) -> str:
        return (f"Ensemble(method={self.params.get('method')!r}, E={self.E}, N={self.N}, "
                f"K={self.K}, M={self.M}, n_alpha={self.alpha.shape[0]}, "
                f"alpha=[{self.alpha[0]:g}, {self.alpha[-1]:g}], "
                f"diverged={int(np.sum(self.status != 'ok'))})")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)
