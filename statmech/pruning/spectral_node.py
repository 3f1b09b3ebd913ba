"""Spectral node pruning (Suzuki et al., arXiv 1808.08558; ``docs/companion_papers.md`` §3).

With Σ the (uncentred) activation covariance (I2 in theory), the kept set J minimises the ridge
information loss L^A(J) + θ L^B(J) = Tr[M R_J], R_J = Σ − Σ_FJ (Σ_JJ + I_τ)⁻¹ Σ_JF and
M = 𝟙 + θ W_outᵀ W_out (L^A = Tr R_J, input-aware; L^B = Tr[W_out R_J W_outᵀ], output-aware).
Greedy forward selection with rank-one (Schur-complement) updates: with the residual matrix
Res = R_J, adding unit j lowers the loss by (Res_{:,j}ᵀ M Res_{:,j}) / (Res_jj + τ_j) and updates
Res ← Res − Res_{:,j} Res_{j,:} / (Res_jj + τ_j); O(H²(H + C)) per step. The kept units' new
outgoing weights are W_out Â_J with the reconstruction matrix Â_J = Σ_FJ (Σ_JJ + I_τ)⁻¹.

Options (``statmech.prune(..., tau=, theta=, lam=, kept=)``):

* ``tau``: the ridge I_τ = diag(τ_j). None (default): uniform τ = 10⁻³ Tr(Σ)/H; a float: uniform;
  an array (H,): per-unit τ_j; ``"leverage"``: the theory's τ_j = λ m♯ q_j with the ridge
  leverage scores q_j = [Σ(Σ + λ𝟙)⁻¹]_jj / N̂(λ) (§3.2 "Ridge", §3.3;
  :func:`statmech.companion.spectral.leverage_tau`), λ from ``lam`` or, by default, the λ with
  N̂(λ) = k (paper fidelity pending);
* ``theta``: θ >= 0 (default 1); θ = 0 is the input-aware loss alone, ``theta=np.inf`` the
  output-aware loss L^B alone (M = W_outᵀ W_out);
* ``kept``: a fixed kept set (k distinct unit indices): no selection, only the reconstruction
  (the "random J + reconstruction" baseline of §3.5).

Defaults: τ = 10⁻³ Tr(Σ)/H (uniform ridge), θ = 1. As τ → 0 the reconstruction equals
least-squares reweighting on the activations (tested); with τ = 0 and an exactly singular
Σ_JJ (dead units kept) the minimum-norm solution (pseudo-inverse) is used. A unit whose residual
variance plus ridge is (numerically) zero adds nothing to the loss and is not used as a pivot
(τ = 0 with more kept units than the rank of Σ).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import InvalidParameterError, Options, Real, _fmt
from .base import register
from .node_method import NodeContext, NodeMethod, deterministic


def default_tau(S: np.ndarray) -> float:
    """τ = 10⁻³ Tr(Σ)/H."""
    return 1e-3 * float(np.trace(S)) / S.shape[0]


def _greedy(S: np.ndarray, W_out: np.ndarray, k: int, tau: float | np.ndarray,
            theta: float) -> tuple[np.ndarray, np.ndarray]:
    """(J in selection order, the loss decrease of each step): see the module docstring."""
    H = S.shape[0]
    Res = np.array(S, dtype=float)
    chosen: list[int] = []
    gains: list[float] = []
    free = np.ones(H, dtype=bool)
    tiny = 1e-12 * max(float(np.trace(S)) / H, np.finfo(float).tiny)
    output_only = np.isinf(theta)
    for _ in range(k):
        if output_only:
            num = np.sum((W_out @ Res) ** 2, axis=0)
        else:
            num = np.sum(Res * Res, axis=0)
            if theta:
                num = num + theta * np.sum((W_out @ Res) ** 2, axis=0)
        piv = np.diagonal(Res) + tau
        with np.errstate(divide="ignore", invalid="ignore"):  # chosen units: Res_jj + τ may be 0
            gain = np.where(free, num / piv, -np.inf)
        gain = np.where(np.isnan(gain), -np.inf, gain)
        # units with a zero pivot (τ = 0 past the rank) add nothing: gain 0, never chosen twice
        gain = np.where(free & ~(piv > tiny), 0.0, gain)
        j = int(np.argmax(gain))
        chosen.append(j)
        free[j] = False
        p = float(piv[j])
        if not p > tiny:
            gains.append(0.0)
            continue
        gains.append(float(gain[j]))
        r = Res[:, j].copy()
        Res -= np.outer(r, r) / p
    return np.array(chosen), np.array(gains)


def greedy_select(S: np.ndarray, W_out: np.ndarray, k: int, tau: float | np.ndarray,
                  theta: float) -> np.ndarray:
    """Greedy minimisation of Tr[M R_J] (module docstring); returns J in selection order.

    ``tau`` is a float (uniform ridge) or an array (H,) of per-unit ridges τ_j.
    """
    return _greedy(S, W_out, k, tau, theta)[0]


def greedy_path(S: np.ndarray, W_out: np.ndarray, k: int, tau: float | np.ndarray,
                theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy selection and its loss path: (J in selection order, losses (k + 1,)).

    ``losses[i]`` is L^A + θ L^B of the first i selected units (``losses[0]`` = Tr[M Σ]),
    accumulated from the rank-one gains (compare :func:`information_loss`); non-increasing.
    θ = inf gives L^B alone.
    """
    J, gains = _greedy(S, W_out, k, tau, theta)
    M_S = (np.sum(W_out * (W_out @ S)) if np.isinf(theta) else
           float(np.trace(S)) + (theta * float(np.sum(W_out * (W_out @ S))) if theta else 0.0))
    return J, float(M_S) - np.concatenate([[0.0], np.cumsum(gains)])


def information_loss(S: np.ndarray, W_out: np.ndarray, J: Any, tau: float | np.ndarray,
                     theta: float) -> tuple[float, float, float]:
    """(L^A(J), L^B(J), L^A + θ L^B) computed directly (§3.2): R_J = Σ − Σ_FJ(Σ_JJ + I_τ)⁻¹Σ_JF,
    L^A = Tr R_J, L^B = Tr[W_out R_J W_outᵀ]. θ = inf gives L^B as the total."""
    S = np.asarray(S, dtype=float)
    J = np.asarray(J, dtype=int)
    H = S.shape[0]
    tau_vec = np.broadcast_to(np.asarray(tau, dtype=float), (H,))
    R = S.copy()
    if J.size:
        A = S[np.ix_(J, J)] + np.diag(tau_vec[J])
        R = S - S[:, J] @ np.linalg.lstsq(A, S[J], rcond=None)[0]
    la = float(np.trace(R))
    lb = float(np.sum(W_out * (W_out @ R)))
    return la, lb, (lb if np.isinf(theta) else la + theta * lb)


class SpectralNode(NodeMethod):
    """Greedy ridge-information-loss selection with reconstruction (Suzuki et al.)."""

    name = "spectral_node"
    label = "spectral node"
    color = "#56B4E9"
    marker = "v"
    in_gallery = True
    order = 70
    reconstructs = True
    variants = ("default",)
    # tau's shape and kept's indices depend on the layer: checked in _params / _check_kept
    options = {"tau": [None, Real(0.0, array=True), Options(("leverage",))],
               "theta": [Real(0.0), Options((float("inf"),))],
               "lam": [None, Real(0.0, closed="neither")], "kept": []}

    @staticmethod
    def _params(ctx: NodeContext, tau: Any, theta: float, func: str, k: int | None = None,
                lam: float | None = None):
        S = ctx.cov_for("activations", func)
        H = S.shape[0]
        if isinstance(tau, str):
            if tau != "leverage":
                raise InvalidParameterError(
                    f"The 'tau' parameter of {func} must be None, a finite float "
                                 f">= 0, an array of shape ({H},) or 'leverage'. Got {tau!r}.")
            tau = _leverage_tau(S, k, lam, func)
        elif tau is None:
            tau = default_tau(S)
        elif np.ndim(tau) == 0:
            if not (np.isfinite(tau) and tau >= 0):
                raise InvalidParameterError(
                    f"The 'tau' parameter of {func} must be a finite float >= 0. "
                                 f"Got {tau!r} instead.")
            tau = float(tau)
        else:
            arr = np.asarray(tau, dtype=float)
            if arr.shape != (H,) or not np.all(np.isfinite(arr) & (arr >= 0)):
                raise InvalidParameterError(
                    f"The 'tau' parameter of {func} as an array must have shape "
                                 f"({H},) with finite entries >= 0. Got {_fmt(tau)}.")
            tau = arr
        if not (theta == np.inf or (np.isfinite(theta) and theta >= 0)):
            raise InvalidParameterError(
                f"The 'theta' parameter of {func} must be a finite float >= 0 or "
                             f"inf (output-aware loss alone). Got {theta!r} instead.")
        return S, tau, float(theta)

    def chosen(self, ctx: NodeContext, k: int, tau: Any = None, theta: float = 1.0,
               func: str = "prune", lam: float | None = None, kept: Any = None) -> np.ndarray:
        S, tau, theta = self._params(ctx, tau, theta, func, k, lam)
        if kept is not None:
            return _check_kept(kept, k, S.shape[0], func)
        return np.sort(greedy_select(S, ctx.W_out, k, tau, theta))

    def exact_distribution(self, ctx: NodeContext, k: int, variant: str, tau: Any = None,
                           theta: float = 1.0, lam: float | None = None, kept: Any = None,
                           **options: Any):
        return deterministic(self.chosen(ctx, k, tau, theta, lam=lam, kept=kept))

    def sample_sets(self, ctx: NodeContext, k: int, variant: str, rng: np.random.Generator,
                    n: int, tau: Any = None, theta: float = 1.0, lam: float | None = None,
                    kept: Any = None, **options: Any) -> np.ndarray:
        return np.broadcast_to(self.chosen(ctx, k, tau, theta, lam=lam, kept=kept),
                               (n, k)).copy()

    def distribution_size(self, H: int, k: int) -> int:
        return 1

    def outgoing(self, ctx: NodeContext, sets: np.ndarray, reweight: str | None, func: str,
                 tau: Any = None, theta: float = 1.0, lam: float | None = None,
                 **options: Any) -> np.ndarray:
        """W_out Â_J with Â_J = Σ_FJ (Σ_JJ + I_τ)⁻¹ (the reconstruction; ``reweight`` unused)."""
        n, k = sets.shape
        S, tau, _ = self._params(ctx, tau, theta, func, k, lam)
        tau_vec = np.broadcast_to(np.asarray(tau, dtype=float), (S.shape[0],))
        out = np.empty((n, ctx.W_out.shape[0], k))
        for r in range(n):
            J = sets[r]
            G = S[np.ix_(J, J)] + np.diag(tau_vec[J])
            try:
                A = np.linalg.solve(G, S[J])  # (k, H) = Â_Jᵀ
            except np.linalg.LinAlgError:  # exactly singular (τ = 0, dead units): pseudo-inverse
                A = np.linalg.lstsq(G, S[J], rcond=None)[0]
            out[r] = ctx.W_out @ A.T
        return out


def _leverage_tau(S: np.ndarray, k: int | None, lam: float | None, func: str) -> np.ndarray:
    from ..companion.spectral import lambda_for_width, leverage_tau, numerical_rank

    if k is None:  # pragma: no cover - every caller passes k
        raise ValueError(f"{func}: tau='leverage' needs the number of kept units.")
    if lam is None:
        r = numerical_rank(S)
        if k >= r:
            raise ValueError(f"{func}: tau='leverage' with k = {k} >= rank(Σ) = {r} has no λ "
                             f"with N̂(λ) = k; pass 'lam' (the ridge λ > 0) explicitly.")
        lam = lambda_for_width(S, k)
    elif not (np.isfinite(lam) and lam > 0):
        raise InvalidParameterError(f"The 'lam' parameter of {func} must be a finite float > 0. "
                         f"Got {lam!r} instead.")
    return leverage_tau(S, float(lam), k)


def _check_kept(kept: Any, k: int, H: int, func: str) -> np.ndarray:
    J = np.asarray(kept)
    if (J.ndim != 1 or J.size != k or not np.issubdtype(J.dtype, np.integer)
            or np.unique(J).size != k or J.min() < 0 or J.max() >= H):
        raise InvalidParameterError(
            f"The 'kept' parameter of {func} must be {k} distinct unit indices "
                         f"(ints in [0, {H - 1}]). Got {_fmt(kept)}.")
    return np.sort(J.astype(int))


SPECTRAL_NODE = register(SpectralNode())
