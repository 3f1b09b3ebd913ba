"""DPP edge pruning: for every unit, a k-DPP over its D incoming edges with kernel
L = diag(w) Ĉ diag(w) (Ĉ the input covariance; ``docs/pruning_theory.md`` §2.4).

With Ĉ = 𝟙 (teacher–student inputs, the default) the kernel is diagonal, L = diag(w²), and the
k-DPP is *conditional Poisson sampling*: P(S) ∝ Π_{i∈S} w_i² over |S| = e. It is sampled exactly
in O(D·e) per unit from the elementary symmetric polynomials e_r(q_1..q_i) of q = w², kept in log
space: going backwards over i with r items still to place, item i is taken with probability
q_i e_{r−1}(q_1..q_{i−1}) / e_r(q_1..q_i). With a general Ĉ the per-unit kernels go to the
batched spectral k-DPP sampler (:mod:`statmech.pruning.dpp`).

Theory. Exact inclusion probabilities π_i = q_i e_{e−1}(q_{−i}) / e_e(q) (``weights=``); as
N → ∞ they tend to those of Poisson sampling, π(w) = φ w²/(Q_kk + φ w²) with φ fixed by
E[π] = c = e/N for w ~ N(0, Q_kk) (Hájek 1964). Masks of different units are independent, so
E[Q′_kk] = E[π w²], E[Q′_kl] = E[π_k π_l w_k w_l] and E[R′_km] = (R_km/Q_kk) E[π w_k²] under
Gaussian coordinates. The integrands have a feature of width φ^(-1/2) at w = 0 (φ grows like
π/(2(1 − c)²) as c → 1), so they are evaluated in closed form (E[π], E[π w²], via erfcx) and by
a one-dimensional Faddeeva-function reduction with graded quadrature (the cross term):
``docs/dpp_edge_theory.md`` and ``theory_tools.poisson_moments``/``poisson_cross_moment``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import brentq

from .._validation import InvalidParameterError, check_real
from .base import Layer, PruningResult, edge_result, register
from .edge_method import EdgeMethod
from .theory_tools import poisson_cross_moment, poisson_moments


def log_esp_table(logq: np.ndarray, e: int) -> np.ndarray:
    """T[..., r, i] = log e_r(q_1..q_i) for r = 0..e, i = 0..D (log q may be −inf)."""
    *batch, D = logq.shape
    T = np.full(tuple(batch) + (e + 1, D + 1), -np.inf)
    T[..., 0, :] = 0.0
    for i in range(1, D + 1):
        T[..., 1:, i] = np.logaddexp(T[..., 1:, i - 1], logq[..., i - 1, None] + T[..., :-1, i - 1])
    return T


#: above this many bytes for the log-ESP table (K·(e+1)·(D+1) floats) the sampler switches to
#: the O(K·D)-memory rejective scheme (:func:`sample_conditional_poisson_rejective`)
TABLE_BYTES_LIMIT = 2**28


def sample_conditional_poisson(q: np.ndarray, e: int, rng: np.random.Generator,
                               n_masks: int) -> np.ndarray:
    """Masks (n_masks, *batch, D) with exactly e items per row, P(S) ∝ Π_{i∈S} q_i.

    Sequential draws from the log-space table of :func:`log_esp_table` (module docstring), which
    holds batch·(e+1)·(D+1) floats: when that exceeds :data:`TABLE_BYTES_LIMIT` (e.g. 15 GB at
    K = 6, D = 2·10⁴, e = 0.8 D) the exact rejective sampler is used instead (same distribution,
    a different random stream).
    """
    batch = q.shape[:-1]
    D = q.shape[-1]
    if 8 * int(np.prod(batch, dtype=np.int64)) * (e + 1) * (D + 1) > TABLE_BYTES_LIMIT:
        return sample_conditional_poisson_rejective(q, e, rng, n_masks)
    with np.errstate(divide="ignore"):
        logq = np.log(q)
    T = log_esp_table(logq, e)  # (*batch, e+1, D+1)
    r = np.full((n_masks,) + batch, e)
    mask = np.zeros((n_masks,) + batch + (D,), dtype=bool)
    Tb = np.broadcast_to(T, (n_masks,) + T.shape)
    for i in range(D, 0, -1):
        active = r > 0
        rr = np.maximum(r, 1)
        num = logq[..., i - 1] + np.take_along_axis(Tb[..., :, i - 1], (rr - 1)[..., None],
                                                    axis=-1)[..., 0]
        den = np.take_along_axis(Tb[..., :, i], rr[..., None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore"):
            p = np.where(active, np.exp(num - den), 0.0)
        take = rng.random(r.shape) < p
        mask[..., i - 1] = take
        r = r - take
    return mask


def sample_conditional_poisson_rejective(q: np.ndarray, e: int, rng: np.random.Generator,
                                         n_masks: int) -> np.ndarray:
    """Conditional Poisson sampling by rejection, in O(n_masks·batch·D) memory (the output's).

    Poisson sampling with p_i = λq_i/(1 + λq_i) gives P(S) ∝ Π_{i∈S} p_i/(1 − p_i) = λ^|S|
    Π_{i∈S} q_i, so conditioning on |S| = e yields exactly P(S) ∝ Π_{i∈S} q_i for any λ; λ is
    chosen per row with Σ p_i = e, where the acceptance rate is ≈ (2π Σ p_i(1 − p_i))^(-1/2)
    (``docs/dpp_edge_theory.md`` §5). Rows with e equal to their number of positive q keep
    those items deterministically.
    """
    q = np.asarray(q, dtype=float)
    batch = q.shape[:-1]
    D = q.shape[-1]
    rows = q.reshape(-1, D)
    p = np.zeros_like(rows)
    for b, row in enumerate(rows):
        pos = row > 0
        npos = int(pos.sum())
        if npos < e:
            raise InvalidParameterError(
                f"The 'q' parameter of sample_conditional_poisson must have at least e={e} "
                f"positive entries per row. Got a row with only {npos}.",
                func="sample_conditional_poisson", param="q")
        if e == 0:
            continue
        if npos == e:
            p[b] = pos
            continue
        lq = np.log(row[pos])

        def excess(ll, lq=lq):
            return float(np.sum(1.0 / (1.0 + np.exp(-(ll + lq))))) - e

        lo, hi = -lq.max() - 1.0, -lq.min() + 1.0
        while excess(lo) > 0:
            lo -= 10.0
        while excess(hi) < 0:
            hi += 10.0
        ll = brentq(excess, lo, hi, xtol=1e-12)
        p[b, pos] = 1.0 / (1.0 + np.exp(-(ll + lq)))
    out = np.zeros((n_masks, rows.shape[0], D), dtype=bool)
    pend_m, pend_b = np.divmod(np.arange(n_masks * rows.shape[0]), rows.shape[0])
    chunk = max(1, 2**22 // max(D, 1))  # rows drawn at once: ≤ 32 MiB of uniforms
    while pend_m.size:
        m, b = pend_m[:chunk], pend_b[:chunk]
        draw = rng.random((m.size, D)) < p[b]
        ok = draw.sum(1) == e
        out[m[ok], b[ok]] = draw[ok]
        pend_m = np.concatenate([pend_m[chunk:], m[~ok]])
        pend_b = np.concatenate([pend_b[chunk:], b[~ok]])
    return out.reshape((n_masks,) + batch + (D,))


def log_esp_column(logq: np.ndarray) -> np.ndarray:
    """L[..., r] = log e_r(q_1..q_D) for r = 0..D (the last column of :func:`log_esp_table`),
    in O(batch·D) memory and O(batch·D²/2) time."""
    *batch, D = logq.shape
    L = np.full(tuple(batch) + (D + 1,), -np.inf)
    L[..., 0] = 0.0
    for i in range(D):  # after step i, L[..., r] = log e_r(q_1..q_{i+1}) for r ≤ i + 1
        L[..., 1:i + 2] = np.logaddexp(L[..., 1:i + 2], logq[..., i, None] + L[..., :i + 1])
    return L


def cps_inclusion(q: np.ndarray, e: int) -> np.ndarray:
    """Exact inclusion probabilities of conditional Poisson sampling, rows of q (…, D) ≥ 0:
    π_i = q_i e_{e−1}(q_{−i}) / e_e(q), with P(S) ∝ Π_{i∈S} q_i over |S| = e.

    O(batch·D) memory (``docs/dpp_edge_theory.md`` §5). With ρ_k = e_{k−1}(q)/e_k(q) from
    :func:`log_esp_column`, the inclusion probabilities π_i(k) of the size-k design obey

    * upwards in k (Chen, Dempster & Liu 1994): π_i(k) = q_i ρ_k (1 − π_i(k − 1)), π_i(0) = 0;
      an error in π_i(k − 1) is multiplied by π_i(k)/(1 − π_i(k − 1)), at most 1 while
      π_i(k) ≤ ½;
    * downwards in k: π_i(k) = 1 − π_i(k + 1)/(q_i ρ_{k+1}), π_i(n₊) = 1 (n₊ the number of
      positive q_i); the factor (1 − π_i(k))/π_i(k + 1) is at most 1 while π_i(k) ≥ ½.

    π_i(k) increases with k, so items that stay at most ½ up to k = e take the upward value and
    the others the downward one: both are stable, without the cancellation in 1 − π_i that makes
    the upward recursion alone blow up for widely spread q. Items with q_i = 0 get π_i = 0. Time
    O(batch·D²); rows with fewer than e positive entries raise :class:`InvalidParameterError`.
    """
    q = np.asarray(q, dtype=float)
    D = q.shape[-1]
    e = int(e)
    if e < 0 or e > D:
        raise InvalidParameterError.build("cps_inclusion", "e", f"an int in [0, D={D}]", e)
    if np.any(~np.isfinite(q)) or np.any(q < 0):
        raise InvalidParameterError.build("cps_inclusion", "q", "finite and non-negative",
                                          "an array with negative or non-finite entries")
    npos = np.count_nonzero(q > 0, axis=-1)
    if np.any(npos < e):
        raise InvalidParameterError(
            f"The 'q' parameter of cps_inclusion must have at least e={e} positive entries per "
            f"row. Got a row with only {int(npos.min())}.", func="cps_inclusion", param="q")
    if e == 0:
        return np.zeros_like(q)
    with np.errstate(divide="ignore"):
        logq = np.log(q)
    L = log_esp_column(logq)
    with np.errstate(all="ignore"):
        pi = np.zeros_like(q)
        high = np.zeros(q.shape, dtype=bool)
        for k in range(1, e + 1):
            pi = q * np.exp(L[..., k - 1] - L[..., k])[..., None] * (1.0 - pi)
            high |= pi > 0.5
        if np.any(high):
            pos = q > 0
            up = pos.astype(float)  # π(n₊)
            for k in range(D - 1, e - 1, -1):
                active = (k < npos)[..., None]
                if not np.any(active):
                    continue
                rho1 = np.exp(L[..., k] - L[..., k + 1])[..., None]  # ρ_{k+1}
                up = np.where(active & pos, 1.0 - up / (q * rho1), up)
            pi = np.where(high, up, pi)
    return np.clip(pi, 0.0, 1.0)


def poisson_odds(c: float) -> float:
    """φ with E[φz²/(1 + φz²)] = c, z ~ N(0, 1) (the large-N CPS limit; ∞ for c = 1).

    E[π] = 1 − √(π/(2φ)) erfcx(1/√(2φ)) in closed form (``docs/dpp_edge_theory.md`` §2), solved
    for log φ by Brent's method to ~1e-15 relative: φ(0.834) = 45.33, where the former fixed
    80-node Gauss–Hermite rule gave 35.1 (its kept fraction was 0.814 at φ = 45.3).
    """
    c = check_real(c, "c", "poisson_odds", low=0.0, high=1.0, low_inclusive=False)
    if c >= 1.0:
        return np.inf
    # c ≤ E[π] ≤ φ gives φ ≥ c; E[π] ≥ 1 − √(π/(2φ)) puts the root below π/(2(1 − c)²) + 1
    lo = np.log(c)
    hi = np.log(np.pi / (2.0 * (1.0 - c) ** 2) + 1.0) + 1.0
    f = lambda lf: poisson_moments(np.exp(lf))[0] - c  # noqa: E731
    return float(np.exp(brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                               maxiter=200)))


class DPPEdge(EdgeMethod):
    """k-DPP over each unit's incoming edges, kernel diag(w) C diag(w)."""

    name = "dpp_edge"
    needs_input_cov = True
    label = "DPP edge"
    color = "#0072B2"
    marker = "^"
    in_gallery = True
    order = 30
    variants = ("default",)

    def inclusion_probabilities(self, W: np.ndarray, e: int, variant: str,
                                **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """Exact conditional-Poisson inclusion probabilities P (K, N) of each unit's e-DPP
        over its weights (kernel diag(w²)) and P2 = P_k P_l (units are independent)."""
        P = cps_inclusion(W * W, e)
        return P, P[:, None, :] * P[None, :, :]

    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:
        """Conditional Poisson sampling per unit (identity input covariance), else the batched
        spectral k-DPP sampler on diag(w) Ĉ diag(w)."""
        W = layer.W
        nonzero = np.count_nonzero(W, axis=1)
        if np.any(nonzero < keep):
            h = int(np.argmin(nonzero))
            raise ValueError(
                f"The 'keep' parameter of prune asks for {keep} edges per unit, but unit {h} has "
                f"only {nonzero[h]} non-zero weights (the DPP-edge kernel's rank).")
        if layer.input_cov is None:
            mask = sample_conditional_poisson(W * W, keep, rng, n_masks)
        else:
            from .dpp import sample_k_dpp

            L = W[:, :, None] * layer.input_cov[None] * W[:, None, :]
            idx = sample_k_dpp(L, keep, size=n_masks, seed=rng)  # (H, n_masks, keep)
            mask = np.zeros((layer.H, n_masks, layer.D), dtype=bool)
            np.put_along_axis(mask, idx, True, axis=-1)
            mask = np.swapaxes(mask, 0, 1)
        return edge_result(self, variant, layer, mask, keep)

    def large_n_inclusion(self, Z: np.ndarray, Q: np.ndarray, c: float, variant: str,
                          **options: Any) -> np.ndarray:
        """Poisson sampling's π(w) = φ w²/(Q_kk + φ w²), E[π] = c (module docstring)."""
        phi = poisson_odds(c)
        if not np.isfinite(phi):
            return np.ones_like(Z)
        w2 = Z * Z
        return phi * w2 / (np.diagonal(Q) + phi * w2)

    def expected_order_parameters(self, Q: np.ndarray, R: np.ndarray, c: float,
                                  variant: str | None = None,
                                  **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(E[Q′], E[R′]) in the large-N limit (module docstring)."""
        K = Q.shape[0]
        phi = poisson_odds(c)
        if not np.isfinite(phi):
            return Q.copy(), R.copy()
        s = np.sqrt(np.diagonal(Q))
        m = poisson_moments(phi)[1]  # E[π z²]
        Qp = np.empty_like(Q)
        for k in range(K):
            Qp[k, k] = Q[k, k] * m
            for j in range(k + 1, K):
                rho = Q[k, j] / (s[k] * s[j]) if s[k] > 0 and s[j] > 0 else 0.0
                Qp[k, j] = Qp[j, k] = s[k] * s[j] * poisson_cross_moment(phi, rho)
        return Qp, R * m


DPP_EDGE = register(DPPEdge())
