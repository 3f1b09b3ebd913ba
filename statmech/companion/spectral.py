"""Spectral pruning as computable quantities (paper C: Suzuki et al., *Spectral Pruning:
Compressing Deep Neural Networks via Spectral Analysis and its Generalization Error*, IJCAI 2020,
arXiv 1808.08558; ``docs/companion_papers.md`` §3).

Everything here is a function of the eigenvalues μ_1 ≥ μ_2 ≥ … of a layer's (uncentred)
activation covariance Σ̂ = (1/n) Σ_i φ(x_i) φ(x_i)ᵀ, or of Σ̂ itself (NumPy/SciPy only):

* the degrees of freedom N̂(λ) = Tr[Σ̂(Σ̂ + λI)⁻¹] = Σ_j μ_j/(μ_j + λ) (§3.2, "Choosing λ and the
  width") and the ridge leverage scores q_j = [Σ̂(Σ̂ + λI)⁻¹]_jj / N̂(λ), which give the
  theory's ridge τ_j = λ m♯ q_j (:func:`degrees_of_freedom`, :func:`leverage_scores`,
  :func:`leverage_tau`);
* the width ↔ λ correspondence m♯ ≈ N̂(λ) (:func:`lambda_for_width`);
* the global bias–variance allocation of λ_1 … λ_L over the layers (:func:`allocate_lambdas`,
  after the third-party implementation of §3.4);
* the eigenvalue decay μ_j ≈ c j^−α, the N̂ bound it implies and the λ that balances the bias and
  variance terms (:func:`eigen_decay_rate`, :func:`dof_bound`, :func:`optimal_lambda`; §3.3,
  [DERIVED]);
* the bias and variance terms of the compression bound (:func:`compression_bound_terms`, §3.3).

The greedy node selection and the reconstruction Â_J = Σ̂_FJ(Σ̂_JJ + I_τ)⁻¹ are the
``spectral_node`` pruning method (:mod:`statmech.pruning.spectral_node`).

Numerical rank: eigenvalues at or below ``max(μ) · m · ε`` (NumPy's ``matrix_rank`` tolerance)
and round-off negatives count as zero, so N̂(0) is the numerical rank of Σ̂.

The formulas of §3.2–3.3 are recalled or derived, not copied from the paper: paper fidelity
pending throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize

from .._validation import InvalidParameterError, _fmt, check_positive_int, check_real

__all__ = ["spectrum", "numerical_rank", "degrees_of_freedom", "leverage_scores", "leverage_tau",
           "lambda_for_width", "allocate_lambdas", "LambdaAllocation", "eigen_decay_rate",
           "DecayFit", "dof_bound", "optimal_lambda", "compression_bound_terms", "BoundTerms",
           "spectrum_summary"]


# ------------------------------------------------------------------------------------------
# spectra


def _as_matrix(cov: Any, name: str, func: str) -> np.ndarray:
    try:
        S = np.array(cov, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a finite real square "
                         f"matrix. Got {_fmt(cov)} instead.") from None
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] == 0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a square (m, m) matrix "
                         f"with m >= 1. Got shape {S.shape}.")
    if not np.all(np.isfinite(S)):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be finite (no NaN or inf).")
    scale = max(float(np.max(np.abs(S))), np.finfo(float).tiny)
    if np.max(np.abs(S - S.T)) > 1e-8 * scale:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be symmetric (a covariance).")
    return 0.5 * (S + S.T)


def _clip(mu: np.ndarray, m: int, name: str, func: str) -> np.ndarray:
    top = float(mu.max()) if mu.size else 0.0
    if mu.size and mu.min() < -1e-8 * max(top, np.finfo(float).tiny):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be positive semi-definite "
                         f"(eigenvalues >= 0). Got a smallest eigenvalue {float(mu.min())!r}.")
    tol = max(top, 0.0) * m * np.finfo(float).eps
    return np.sort(np.where(mu > tol, mu, 0.0))[::-1]


def spectrum(eigenvalues_or_cov: Any, name: str = "eigenvalues_or_cov",
             func: str = "spectrum") -> np.ndarray:
    """Eigenvalues μ_1 ≥ … ≥ μ_m ≥ 0 of a covariance (2-D input) or of a given spectrum (1-D).

    Round-off negatives and eigenvalues at or below ``max(μ)·m·ε`` are set to zero (module
    docstring).
    """
    arr = np.asarray(eigenvalues_or_cov) if not isinstance(eigenvalues_or_cov, str) else None
    if arr is not None and arr.ndim == 1:
        try:
            mu = np.array(arr, dtype=float)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"The {name!r} parameter of {func} must be a finite real array. "
                             f"Got {_fmt(eigenvalues_or_cov)} instead.") from None
        if mu.size == 0 or not np.all(np.isfinite(mu)):
            raise InvalidParameterError(
                f"The {name!r} parameter of {func} must be a non-empty finite "
                             f"array of eigenvalues.")
        return _clip(mu, mu.size, name, func)
    S = _as_matrix(eigenvalues_or_cov, name, func)
    return _clip(np.linalg.eigvalsh(S), S.shape[0], name, func)


def numerical_rank(eigenvalues_or_cov: Any) -> int:
    """Number of eigenvalues counted as non-zero (module docstring): N̂(0)."""
    return int(np.count_nonzero(spectrum(eigenvalues_or_cov, func="numerical_rank")))


def _check_lam(lam: Any, func: str, allow_array: bool = True) -> np.ndarray | float:
    return check_real(lam, "lam", func, low=0.0, allow_array=allow_array)


def degrees_of_freedom(eigenvalues_or_cov: Any, lam: Any) -> float | np.ndarray:
    """Degrees of freedom N̂(λ) = Tr[Σ̂(Σ̂ + λI)⁻¹] = Σ_j μ_j/(μ_j + λ) (§3.2).

    Decreasing in λ, N̂(0) = rank(Σ̂) and N̂(λ) → 0 as λ → ∞ (like Tr Σ̂ / λ).

    Parameters
    ----------
    eigenvalues_or_cov : array (m,) or (m, m)
        The eigenvalues of Σ̂, or Σ̂ itself (symmetric PSD).
    lam : float or array of floats >= 0
        Ridge λ; N̂ is evaluated elementwise (vectorised over λ).

    Returns
    -------
    float or ndarray
        N̂(λ), with the shape of ``lam``.

    Examples
    --------
    >>> float(degrees_of_freedom([3.0, 1.0, 0.0], 1.0))
    1.25
    >>> float(degrees_of_freedom([3.0, 1.0, 0.0], 0.0))
    2.0
    """
    func = "degrees_of_freedom"
    mu = spectrum(eigenvalues_or_cov, func=func)
    mu = mu[mu > 0]
    lam_arr = np.asarray(_check_lam(lam, func), dtype=float)
    out = np.sum(mu / (mu + lam_arr[..., None]), axis=-1) if mu.size else np.zeros(lam_arr.shape)
    return float(out) if out.ndim == 0 else out


def _dof_derivative_log(mu: np.ndarray, lam: float) -> float:
    """dN̂/d(log λ) = −λ Σ_j μ_j/(μ_j + λ)²."""
    return float(-lam * np.sum(mu / (mu + lam) ** 2))


def leverage_scores(cov: Any, lam: float) -> np.ndarray:
    """Ridge leverage scores q_j = [Σ̂(Σ̂ + λI)⁻¹]_jj / N̂(λ) of the units (§3.2, "Ridge").

    They are non-negative and sum to 1; the compression lemma of §3.3 samples the kept units
    from q. At λ = 0 they are the diagonal of the projector onto the range of Σ̂ over its rank.

    Parameters
    ----------
    cov : array (m, m)
        The activation covariance Σ̂ (symmetric PSD, not all zero).
    lam : float >= 0

    Returns
    -------
    ndarray (m,)
    """
    func = "leverage_scores"
    S = _as_matrix(cov, "cov", func)
    lam = float(_check_lam(lam, func, allow_array=False))
    w, V = np.linalg.eigh(S)
    _clip(w, S.shape[0], "cov", func)  # PSD check
    tol = max(float(w.max()), 0.0) * S.shape[0] * np.finfo(float).eps
    mu = np.where(w > tol, w, 0.0)  # eigh's order, matching the columns of V
    if not np.any(mu > 0):
        raise InvalidParameterError(f"The 'cov' parameter of {func} must not be zero (rank >= 1).")
    pos = mu > 0
    f = np.zeros_like(mu)
    f[pos] = mu[pos] / (mu[pos] + lam)
    diag = (V * V) @ f
    return diag / f.sum()


def leverage_tau(cov: Any, lam: float, width: int) -> np.ndarray:
    """The theory's per-unit ridge τ_j = λ · m♯ · q_j (§3.2 "Ridge", §3.3 compression lemma).

    Σ_j τ_j = λ m♯. Pass it as ``tau`` to the ``spectral_node`` method (or use
    ``tau="leverage"`` there). Paper fidelity pending (the formula is recalled).
    """
    func = "leverage_tau"
    width = check_positive_int(width, "width", func)
    return float(lam) * width * leverage_scores(cov, lam)


def lambda_for_width(cov_or_eigs: Any, width: float, *, rtol: float = 1e-10) -> float:
    """The λ > 0 with N̂(λ) = ``width`` (§3.2: m♯ ≈ N̂(λ)).

    N̂ is continuous and strictly decreasing on (0, ∞) from rank(Σ̂) to 0, so the root is unique.
    It is bracketed in log λ by λ_lo = ½(r − w)/Σ_j μ_j⁻¹ (where N̂ > w since
    N̂(λ) ≥ r − λ Σ_j μ_j⁻¹) and λ_hi = 2 Tr Σ̂ / w (where N̂ ≤ Tr Σ̂/λ < w), and found by
    Brent's method on log λ (bisection safeguarded by secant/inverse-quadratic steps).

    Parameters
    ----------
    cov_or_eigs : array (m,) or (m, m)
        Eigenvalues of Σ̂, or Σ̂.
    width : float
        Target degrees of freedom, in (0, rank(Σ̂)).
    rtol : float
        Relative tolerance on λ.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``width`` is not in (0, rank): N̂(λ) < rank for every λ > 0, so a width at or above
        the rank corresponds to λ = 0 (no compression).
    """
    func = "lambda_for_width"
    mu = spectrum(cov_or_eigs, "cov_or_eigs", func)
    mu = mu[mu > 0]
    r = mu.size
    w = check_real(width, "width", func, low=0.0, high=float(r), low_inclusive=False,
                   high_inclusive=False) if r > 0 else None
    if w is None:
        raise InvalidParameterError(
            f"The 'cov_or_eigs' parameter of {func} has rank 0: no width can be "
                         f"matched.")
    lo = 0.5 * (r - w) / float(np.sum(1.0 / mu))
    hi = 2.0 * float(mu.sum()) / w

    def g(u: float) -> float:
        return float(np.sum(mu / (mu + math.exp(u)))) - w

    u = brentq(g, math.log(lo), math.log(hi), xtol=rtol, rtol=4 * np.finfo(float).eps,
               maxiter=500)
    return math.exp(u)


# ------------------------------------------------------------------------------------------
# bias–variance allocation over layers


@dataclass(frozen=True)
class LambdaAllocation:
    """Result of :func:`allocate_lambdas`.

    Attributes
    ----------
    lambdas : ndarray (L,)
        λ_ℓ of the hidden layers (Σ_ℓ √λ_ℓ ≤ budget).
    dof : ndarray (L,)
        N̂_ℓ(λ_ℓ): the widths they correspond to.
    objective : float
        Σ_ℓ a_ℓ a_{ℓ+1} at the solution (a_ℓ = N̂_ℓ(λ_ℓ), the fixed end widths included).
    equal_lambdas, equal_objective
        The equal split √λ_ℓ = D/L and its objective (the starting point).
    success : bool
        SLSQP's convergence flag (the returned point is feasible either way, and never worse
        than the equal split).
    message : str
    """

    lambdas: np.ndarray
    dof: np.ndarray
    objective: float
    equal_lambdas: np.ndarray
    equal_objective: float
    success: bool
    message: str
    info: dict = field(default_factory=dict)


def _chain_objective(a: np.ndarray, m_in: float | None, m_out: float | None) -> float:
    chain = ([m_in] if m_in is not None else []) + list(a) + ([m_out] if m_out is not None
                                                              else [])
    return float(sum(x * y for x, y in zip(chain[:-1], chain[1:], strict=True)))


def allocate_lambdas(eigs_per_layer: Sequence[Any], budget: float, *,
                     m_in: float | None = None, m_out: float | None = None,
                     maxiter: int = 200) -> LambdaAllocation:
    """Bias–variance allocation of the ridges λ_1 … λ_L over the hidden layers (§3.2,
    "Allocation over layers"; after the third-party SLSQP implementation of §3.4).

    Minimises the variance proxy

        V(λ) = m_in N̂_1(λ_1) + Σ_{ℓ=1}^{L−1} N̂_ℓ(λ_ℓ) N̂_{ℓ+1}(λ_{ℓ+1}) + N̂_L(λ_L) m_out

    subject to the bias budget Σ_ℓ √λ_ℓ ≤ D, by SLSQP on u_ℓ = log λ_ℓ with the analytic
    gradient dN̂/du = −λ Σ_j μ_j/(μ_j + λ)², starting from the equal split √λ_ℓ = D/L.

    The input width m_0 = ``m_in`` and the output width m_{L+1} = ``m_out`` are not compressed:
    they enter as the fixed factors of the first and last products (m_0 N̂_1 and N̂_L m_{L+1}).
    Leaving either as None drops that product (the third-party code's chain runs over the
    compressed layers only); with one hidden layer at least one of them is needed, else V ≡ 0
    has nothing to allocate. V decreases in every λ_ℓ, so the budget is active at the optimum.
    Paper fidelity pending (the objective is the third-party code's, §3.4).

    Parameters
    ----------
    eigs_per_layer : sequence of arrays
        For each hidden layer, the eigenvalues of its Σ̂ (or Σ̂ itself).
    budget : float > 0
        D, the bound on Σ_ℓ √λ_ℓ (√λ has the units of an activation).
    m_in, m_out : float >= 0, optional
        Fixed widths of the input and output layers.
    maxiter : int
        SLSQP iterations.

    Returns
    -------
    LambdaAllocation
    """
    func = "allocate_lambdas"
    if isinstance(eigs_per_layer, np.ndarray) or len(eigs_per_layer) == 0:
        raise InvalidParameterError(f"The 'eigs_per_layer' parameter of {func} must be a non-empty "
                         f"sequence of spectra (one per hidden layer).")
    mus = []
    for i, e in enumerate(eigs_per_layer):
        mu = spectrum(e, f"eigs_per_layer[{i}]", func)
        if not np.any(mu > 0):
            raise InvalidParameterError(
                f"The 'eigs_per_layer' parameter of {func} has a zero spectrum at "
                             f"layer {i}.")
        mus.append(mu[mu > 0])
    D = float(check_real(budget, "budget", func, low=0.0, low_inclusive=False))
    m_in = None if m_in is None else float(check_real(m_in, "m_in", func, low=0.0))
    m_out = None if m_out is None else float(check_real(m_out, "m_out", func, low=0.0))
    maxiter = check_positive_int(maxiter, "maxiter", func)
    L = len(mus)
    if L == 1 and m_in is None and m_out is None:
        raise ValueError(f"{func} with one hidden layer needs 'm_in' or 'm_out' (the fixed end "
                         f"widths); otherwise the objective has no terms.")

    def dofs(u: np.ndarray) -> np.ndarray:
        return np.array([np.sum(mu / (mu + math.exp(x))) for mu, x in zip(mus, u, strict=True)])

    u0 = np.full(L, 2.0 * math.log(D / L))
    V0 = max(_chain_objective(dofs(u0), m_in, m_out), np.finfo(float).tiny)

    def fun(u: np.ndarray) -> float:
        return _chain_objective(dofs(u), m_in, m_out) / V0

    def jac(u: np.ndarray) -> np.ndarray:
        a = dofs(u)
        left = np.concatenate([[m_in if m_in is not None else 0.0], a[:-1]])
        right = np.concatenate([a[1:], [m_out if m_out is not None else 0.0]])
        da = np.array([_dof_derivative_log(mu, math.exp(x)) for mu, x in zip(mus, u,
                                                                             strict=True)])
        return (left + right) * da / V0

    cons = {"type": "ineq", "fun": lambda u: 1.0 - np.sum(np.exp(u / 2)) / D,
            "jac": lambda u: -0.5 * np.exp(u / 2) / D}
    floor = min(float(mu.min()) for mu in mus) * 1e-8
    bounds = [(math.log(floor), 2.0 * math.log(D))] * L
    res = minimize(fun, u0, jac=jac, method="SLSQP", bounds=bounds, constraints=[cons],
                   options={"maxiter": maxiter, "ftol": 1e-12})
    u = np.asarray(res.x, dtype=float)
    s = float(np.sum(np.exp(u / 2)))
    if s > D:  # enforce the budget exactly (scaling λ down only raises N̂ slightly)
        u = u + 2.0 * math.log(D / s)
    V = _chain_objective(dofs(u), m_in, m_out)
    if not V <= V0:  # never return something worse than the feasible starting point
        u, V = u0, V0
    lam = np.exp(u)
    return LambdaAllocation(lam, dofs(u), V, np.exp(u0), V0, bool(res.success),
                            str(res.message), {"nit": int(getattr(res, "nit", 0))})


# ------------------------------------------------------------------------------------------
# eigenvalue decay and rates (§3.3, DERIVED)


@dataclass(frozen=True)
class DecayFit:
    """Result of :func:`eigen_decay_rate`: μ_j ≈ c j^−α on j ∈ [j_min, j_max].

    Attributes
    ----------
    alpha, c : float
        Fitted exponent and prefactor.
    r2 : float
        Coefficient of determination of the log-log fit (log μ_j on log j).
    r2_exponential : float
        Of the competing exponential fit (log μ_j on j) over the same indices.
    power_law : bool
        ``r2 >= min_r2`` and ``r2 >= r2_exponential``: the power law describes the range at all,
        and better than an exponential decay. False flags a poor or misleading fit.
    j_min, j_max, n_points : int
    """

    alpha: float
    c: float
    r2: float
    r2_exponential: float
    power_law: bool
    j_min: int
    j_max: int
    n_points: int


def _r2(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    slope, icpt = np.polyfit(x, y, 1)
    res = y - (slope * x + icpt)
    tot = float(np.sum((y - y.mean()) ** 2))
    return float(slope), float(icpt), (1.0 - float(np.sum(res**2)) / tot if tot > 0 else 1.0)


def eigen_decay_rate(eigs: Any, *, j_min: int = 1, j_max: int | None = None,
                     rtol: float = 1e-8, min_r2: float = 0.95) -> DecayFit:
    """Fit μ_j ≈ c j^−α by least squares of log μ_j on log j (§3.3, [DERIVED]).

    Index range: j = ``j_min`` … ``j_max`` (1-based, eigenvalues sorted decreasingly). By default
    j_max is the last index with μ_j > ``rtol``·μ_1, so the numerically-zero tail (dead units,
    rank deficiency) is left out; raise ``j_min`` to skip a leading outlier (the uncentred
    covariance of ReLU activations has a large first eigenvalue carried by the mean). At least
    three eigenvalues are needed. The exponential alternative log μ_j = a − b j is fitted on the
    same range as a negative control; see :class:`DecayFit`. Paper fidelity pending.

    Parameters
    ----------
    eigs : array (m,) or (m, m)
        Eigenvalues (any order), or the covariance.
    j_min : int >= 1
    j_max : int, optional
        In [j_min + 2, m].
    rtol : float in (0, 1)
    min_r2 : float in [0, 1]
        Minimum R² for ``power_law``.

    Returns
    -------
    DecayFit
    """
    func = "eigen_decay_rate"
    mu = spectrum(eigs, "eigs", func)
    rtol = float(check_real(rtol, "rtol", func, low=0.0, high=1.0, low_inclusive=False,
                            high_inclusive=False))
    min_r2 = float(check_real(min_r2, "min_r2", func, low=0.0, high=1.0))
    m = mu.size
    j_min = check_positive_int(j_min, "j_min", func)
    if j_max is None:
        j_max = int(np.count_nonzero(mu > rtol * mu[0])) if mu[0] > 0 else 0
        if j_max < j_min + 2:
            raise ValueError(f"{func}: only {j_max} eigenvalues above rtol·μ_1 from j_min = "
                             f"{j_min}; at least three are needed (lower 'j_min' or 'rtol').")
    else:
        j_max = check_positive_int(j_max, "j_max", func)
        if not j_min + 2 <= j_max <= m:
            raise InvalidParameterError(f"The 'j_max' parameter of {func} must be an int in "
                             f"[j_min + 2 = {j_min + 2}, m = {m}]. Got {j_max}.")
        if mu[j_max - 1] <= 0:
            raise ValueError(f"{func}: μ_j is zero for j = {j_max} <= 'j_max'; lower 'j_max'.")
    j = np.arange(j_min, j_max + 1, dtype=float)
    y = np.log(mu[j_min - 1:j_max])
    slope, icpt, r2 = _r2(np.log(j), y)
    _, _, r2_exp = _r2(j, y)
    return DecayFit(alpha=-slope, c=math.exp(icpt), r2=r2, r2_exponential=r2_exp,
                    power_law=bool(r2 >= min_r2 and r2 >= r2_exp), j_min=j_min, j_max=j_max,
                    n_points=j.size)


def dof_bound(lam: Any, alpha: float, c: float = 1.0) -> float | np.ndarray:
    """Bound N̂(λ) ≤ (c/λ)^{1/α} · α/(α − 1) when μ_j ≤ c j^−α with α > 1 (§3.3, [DERIVED]).

    Derivation: μ/(μ + λ) ≤ min(1, μ/λ) ≤ g(j) = min(1, (j*/j)^α) with j* = (c/λ)^{1/α}; g is
    non-increasing, so Σ_{j≥1} g(j) ≤ ∫_0^∞ g = j* + j*/(α − 1). Paper fidelity pending.
    """
    func = "dof_bound"
    alpha = float(check_real(alpha, "alpha", func, low=1.0, low_inclusive=False))
    c = float(check_real(c, "c", func, low=0.0, low_inclusive=False))
    lam_arr = np.asarray(check_real(lam, "lam", func, low=0.0, low_inclusive=False,
                                    allow_array=True), dtype=float)
    out = (c / lam_arr) ** (1.0 / alpha) * alpha / (alpha - 1.0)
    return float(out) if out.ndim == 0 else out


def optimal_lambda(alpha: float, n: int, scale: float = 1.0) -> float:
    """The λ balancing squared bias and variance: λ* = scale · (log n / n)^{α/(α+2)} (§3.3,
    [DERIVED]).

    With μ_j ≲ j^−α, N̂(λ) ≲ λ^{−1/α} (:func:`dof_bound`), so the variance term
    Σ m♯_ℓ m♯_{ℓ+1} log n / n ≍ λ^{−2/α} log n / n and the squared bias ≍ λ; equating them gives
    λ^{(α+2)/α} ≍ log n / n. Only the rate is derived; the constant (``scale``) is not. Paper
    fidelity pending.

    Parameters
    ----------
    alpha : float > 0
        Eigenvalue decay exponent.
    n : int >= 2
        Sample size.
    scale : float > 0
    """
    func = "optimal_lambda"
    alpha = float(check_real(alpha, "alpha", func, low=0.0, low_inclusive=False))
    n = check_positive_int(n, "n", func, minimum=2)
    scale = float(check_real(scale, "scale", func, low=0.0, low_inclusive=False))
    return scale * (math.log(n) / n) ** (alpha / (alpha + 2.0))


@dataclass(frozen=True)
class BoundTerms:
    """Terms of the compression bound (:func:`compression_bound_terms`).

    Attributes
    ----------
    bias : float
        (Σ_ℓ L_ℓ √λ_ℓ)² (the third-party code's "bias", with L_ℓ = 1 by default).
    variance : float
        Σ_ℓ m_ℓ m_{ℓ+1} log n / n.
    total : float
        bias + variance (the third-party code's objective).
    gap : float
        √bias + √variance: the schematic bound on risk − empirical risk (§3.3).
    """

    bias: float
    variance: float
    total: float
    gap: float


def compression_bound_terms(lambdas: Any, widths: Sequence[int], n: int,
                            lipschitz: Any = None) -> BoundTerms:
    """Bias and variance terms of the compressed network's generalisation bound (§3.3).

    Schematically risk(f♯) − empirical risk(f♯) ≲ Σ_ℓ L_ℓ √λ_ℓ + √(Σ_ℓ m♯_ℓ m♯_{ℓ+1} log n / n);
    the third-party implementation (§3.4) uses bias = (Σ_ℓ √λ_ℓ)² and variance =
    Σ_ℓ m_ℓ m_{ℓ+1} log n / n, which :class:`BoundTerms` reports (with Lipschitz weights L_ℓ if
    given). Constants are not tracked. Paper fidelity pending.

    Parameters
    ----------
    lambdas : array (L,) of floats >= 0
        λ_ℓ of the compressed (hidden) layers.
    widths : sequence of ints
        The whole width chain m_0 (input), m♯_1 … m♯_L, m_{L+1} (output): length L + 2.
    n : int >= 2
        Sample size.
    lipschitz : array (L,) of floats >= 0, optional
        L_ℓ, the Lipschitz constants of the layers above layer ℓ (default 1).
    """
    func = "compression_bound_terms"
    lam = np.atleast_1d(np.asarray(check_real(lambdas, "lambdas", func, low=0.0,
                                              allow_array=True), dtype=float))
    if lam.ndim != 1:
        raise InvalidParameterError(
            f"The 'lambdas' parameter of {func} must be 1-D. Got {lam.shape}.")
    L = lam.size
    widths = [check_positive_int(w, "widths", func) for w in widths]
    if len(widths) != L + 2:
        raise InvalidParameterError(
            f"The 'widths' parameter of {func} must list L + 2 = {L + 2} widths "
                         f"(input, the {L} compressed layers, output). Got {len(widths)}.")
    n = check_positive_int(n, "n", func, minimum=2)
    Lip = np.ones(L) if lipschitz is None else np.atleast_1d(np.asarray(
        check_real(lipschitz, "lipschitz", func, low=0.0, allow_array=True), dtype=float))
    if Lip.shape != (L,):
        raise InvalidParameterError(f"The 'lipschitz' parameter of {func} must have shape ({L},). "
                         f"Got {Lip.shape}.")
    bias = float(np.sum(Lip * np.sqrt(lam))) ** 2
    variance = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True)) * math.log(n) / n
    return BoundTerms(bias, float(variance), bias + float(variance),
                      math.sqrt(bias) + math.sqrt(variance))


def spectrum_summary(eigenvalues_or_cov: Any,
                     leading: Sequence[int] = (1, 2, 4, 8, 16, 32),
                     rel_lambdas: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0)) -> dict:
    """Summary of a layer spectrum (§3.5): trace, rank, the fraction of the trace held by the
    leading eigenvalues, and N̂(λ) at λ = r · Tr(Σ̂)/m for each r in ``rel_lambdas``.

    Returns
    -------
    dict
        ``m``, ``trace``, ``rank``, ``trace_fraction`` {k: Σ_{j≤k} μ_j / Tr} and ``dof``
        {r: N̂(r Tr/m)}.
    """
    func = "spectrum_summary"
    mu = spectrum(eigenvalues_or_cov, func=func)
    tr = float(mu.sum())
    if tr <= 0:
        raise InvalidParameterError(
            f"The 'eigenvalues_or_cov' parameter of {func} must not be zero.")
    m = mu.size
    frac = {int(k): float(mu[:int(k)].sum() / tr) for k in leading}
    dof = {float(r): float(degrees_of_freedom(mu, r * tr / m)) for r in rel_lambdas}
    return {"m": m, "trace": tr, "rank": int(np.count_nonzero(mu)), "trace_fraction": frac,
            "dof": dof}
