"""Theory helpers shared by the pruning methods (order-parameter space, NumPy).

* The population activation covariance I2 (ε_g of raw arrays is
  :func:`statmech.theory.generalization.eg_from_order_parameters`).
* Node pruning: removing units leaves the kept units' entries of Q, R (hence of I2) unchanged,
  so with kept set S and outgoing weights v′ (zero off S)

      ε_g(S, v′) = ½ Σ_{i,j∈S} v′_i v′_j I2_ij − Σ_{i∈S} v′_i (I2_{i,·} v*) + ½ v*ᵀ I2_** v*,

  an exact quadratic form. Its expectation over a random S with fixed v′ = v needs only the first-
  and second-order inclusion probabilities π_i, π_ij.
* Edge pruning of Gaussian weight coordinates: for rotation-invariant weights at large N the N
  coordinate vectors (w_1i..w_Ki, w*_1i..w*_Mi) are i.i.d. N(0, C) with C = [[Q, R], [Rᵀ, T]], so
  the pruned order parameters concentrate on Gaussian expectations (two-dimensional integrals).
* The Poisson-sampling (large-N DPP-edge) expectations: closed forms for E[π], E[π z²] and a
  one-dimensional reduction, with the Faddeeva function, of the cross moment E[π(x)π(y)xy], whose
  integrand has a feature of width φ^(-1/2) at zero that a fixed Gauss–Hermite rule cannot
  resolve (derivation: ``docs/dpp_edge_theory.md``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcx, ndtr, roots_hermitenorm, wofz

from ..theory.activations import Activation
from ..theory.ode_integrals import pairwise_I2
from ..theory.order_parameters import OrderParameters

_PHI0 = 1.0 / np.sqrt(2.0 * np.pi)


def full_I2(op: OrderParameters, student: Activation, teacher: Activation) -> np.ndarray:
    """I2(a, b) = E[g(x_a) g(x_b)] over all K + M fields of ``op``."""
    return pairwise_I2(op.covariance, op.K, student, teacher)


def node_eg(I2: np.ndarray, K: int, v_kept: np.ndarray, v_star: np.ndarray) -> np.ndarray:
    """ε_g(S, v′) for outgoing weights v′ (..., K) that are zero on removed units."""
    ss = I2[:K, :K]
    st = I2[:K, K:] @ v_star
    tt = 0.5 * v_star @ I2[K:, K:] @ v_star
    quad = 0.5 * np.einsum("...i,ij,...j->...", v_kept, ss, v_kept)
    return np.maximum(quad - v_kept @ st + tt, 0.0)


def node_mean_from_inclusion(I2: np.ndarray, K: int, v: np.ndarray, v_star: np.ndarray,
                             pi1: np.ndarray, pi2: np.ndarray) -> float:
    """E[ε_g(S, v·1_S)] from π_i = P(i ∈ S) and π_ij = P(i, j ∈ S) (π_ii = π_i)."""
    P = np.array(pi2, dtype=float)
    np.fill_diagonal(P, pi1)
    ss = I2[:K, :K]
    st = I2[:K, K:] @ v_star
    tt = 0.5 * v_star @ I2[K:, K:] @ v_star
    return float(max(0.5 * np.sum(P * np.outer(v, v) * ss) - np.sum(pi1 * v * st) + tt, 0.0))


# ------------------------------------------------------------------------------------------
# Gaussian coordinate expectations (edge methods)

_GH_X, _GH_W = roots_hermitenorm(80)
_GH_W = _GH_W / np.sqrt(2.0 * np.pi)  # weights for E over N(0, 1)


def gauss_2d(f, s1: float, s2: float, rho: float) -> float:
    """E[f(X, Y)] for (X, Y) ~ N(0, [[s1², ρ s1 s2], [ρ s1 s2, s2²]]), f vectorised and smooth.

    Tensor Gauss–Hermite rule (80² nodes) on X = s1 z1, Y = s2 (ρ z1 + √(1 − ρ²) z2). Only for
    integrands analytic in a wide strip around the real axes (features on scales ≳ 1): kinks,
    steps or narrow peaks (e.g. the Poisson inclusion probability φx²/(1 + φx²) at large φ) are
    not resolved; use :func:`half_line_rule` splits or closed forms for those.
    """
    z1 = _GH_X[:, None]
    z2 = _GH_X[None, :]
    x = s1 * z1
    y = s2 * (rho * z1 + np.sqrt(max(1.0 - rho * rho, 0.0)) * z2)
    return float(np.sum(_GH_W[:, None] * _GH_W[None, :] * f(x, y)))


def truncated_second_moment(z: np.ndarray) -> np.ndarray:
    """E[X² 1{|X| > z}] for X ~ N(0, 1): 2(1 − Φ(z)) + 2 z φ(z)."""
    return 2.0 * ndtr(-z) + 2.0 * z * _PHI0 * np.exp(-0.5 * z * z)


def truncated_cross_moment(sx: float, sy: float, rho: float, ax: float, ay: float) -> float:
    """E[X Y 1{|X| > ax} 1{|Y| > ay}] for a centred bivariate normal (sx, sy, correlation ρ).

    One-dimensional integral over the two tails of X of x φ(x) E[Y 1{|Y| > ay} | X = x], with the
    conditional normal's truncated first moment in closed form. The inner expectation has a kink
    where the conditional mean ρ sy x crosses ±ay, smoothed over the conditional standard
    deviation sy √(1 − ρ²) (width δ = √(1 − ρ²)/|ρ| in standardised x): the rule is graded
    towards that point on the scale δ (:func:`graded_rule`), so it stays accurate as |ρ| → 1,
    where a plain Gauss–Legendre split at the kink lost up to ~4e-5 relative at ρ = 0.999999.
    The tail is cut at x = √(zx² + 80) (a factor e⁻⁴⁰ below its start).
    """
    if sx <= 0 or sy <= 0:
        return 0.0
    rho = float(np.clip(rho, -1.0, 1.0))
    zx = ax / sx
    s1 = np.sqrt(max(1.0 - rho * rho, 0.0))
    cs = sy * s1  # conditional std of Y
    hi = float(np.sqrt(zx * zx + 80.0))
    if abs(rho) > 0:
        xb = ay / (abs(rho) * sy)  # standardised x where |ρ sy x| = ay
        scale = s1 / abs(rho) if s1 > 0 else 1e-3
    else:
        xb, scale = zx, 1.0
    t, w = graded_rule(zx, hi, xb, scale)
    total = 0.0
    for sign in (1.0, -1.0):
        xs = sign * t  # standardised x
        mu = rho * sy * xs
        if cs > 0:
            bp = (ay - mu) / cs
            bm = (-ay - mu) / cs
            ey = mu * (ndtr(-bp) + ndtr(bm)) + cs * _PHI0 * (
                np.exp(-0.5 * bp * bp) - np.exp(-0.5 * bm * bm))
        else:
            ey = mu * (np.abs(mu) > ay)
        total += np.sum(w * (sx * xs) * _PHI0 * np.exp(-0.5 * t * t) * ey)
    return float(total)


# ------------------------------------------------------------------------------------------
# Poisson-sampling (large-N DPP edge) expectations, docs/dpp_edge_theory.md

#: below this odds φ the Poisson integrands are analytic in a strip of half-width ≥ 3 around the
#: real axis, where the 80-node Gauss–Hermite rule is exact to rounding; above it the closed
#: forms (which lose ~ε/φ to cancellation at small φ) are used.
POISSON_SMALL_PHI = 0.1

_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)  # computed once, at import
_GL_X.setflags(write=False)  # shared by every thread: frozen against in-place changes
_GL_W.setflags(write=False)


def graded_rule(lo: float, hi: float, centre: float, scale: float,
                max_width: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ∫_lo^hi f(x) dx, f analytic on [lo, hi] apart from a feature of width
    ≳ ``scale`` at x = ``centre`` (a pole at distance ``scale`` off the real axis, a kink
    smoothed over ``scale``, or a kink exactly at ``centre``).

    Panels are graded geometrically away from ``centre`` on both sides, widths
    L₀, L₀, 2L₀, 4L₀, … with L₀ = 10⁻³·min(scale, 1), capped at ``max_width`` (for the Gaussian
    factor), with a 20-point Gauss–Legendre rule on each: a singularity at distance s from the
    centre lies at least about one panel width away from every panel that does not touch the
    centre, so each panel converges geometrically (``docs/dpp_edge_theory.md`` §4).
    """
    lo, hi, centre = float(lo), float(hi), float(centre)
    L0 = 1e-3 * min(float(scale), 1.0, max_width)

    def side(length: float) -> np.ndarray:  # offsets 0 < … ≤ length from the centre
        if length <= 0:
            return np.empty(0)
        out, t, w = [], 0.0, L0
        while t + w < length:
            t += w
            out.append(t)
            w = min(2.0 * w, max_width)
        out.append(length)
        return np.array(out)

    if centre <= lo:  # grade from lo (the closest point to the feature)
        edges = np.concatenate([[lo], lo + side(hi - lo)])
    elif centre >= hi:
        edges = np.concatenate([hi - side(hi - lo)[::-1], [hi]])
    else:
        edges = np.concatenate([centre - side(centre - lo)[::-1], [centre],
                                centre + side(hi - centre)])
    a, b = edges[:-1, None], edges[1:, None]
    x = 0.5 * (b - a) * _GL_X[None, :] + 0.5 * (b + a)
    w = 0.5 * (b - a) * _GL_W[None, :]
    return x.ravel(), w.ravel()


def half_line_rule(scale: float, hi: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`graded_rule` on [0, hi] graded towards x = 0 (features of width ``scale`` there)."""
    return graded_rule(0.0, hi, 0.0, scale)


def poisson_inverse_moment(phi: float) -> float:
    """E[1/(1 + φz²)] for z ~ N(0, 1): √(π/(2φ)) erfcx(1/√(2φ)) (docs/dpp_edge_theory.md §2)."""
    phi = float(phi)
    if phi <= POISSON_SMALL_PHI:
        return float(np.sum(_GH_W / (1.0 + phi * _GH_X**2)))
    return float(np.sqrt(np.pi / (2.0 * phi)) * erfcx(1.0 / np.sqrt(2.0 * phi)))


def poisson_moments(phi: float) -> tuple[float, float]:
    """(E[π], E[π z²]) for π = φz²/(1 + φz²), z ~ N(0, 1) (docs/dpp_edge_theory.md §2).

    E[π] = 1 − E₀ and E[π z²] = 1 − (1 − E₀)/φ with E₀ = E[1/(1 + φz²)] in closed form; for
    φ ≤ :data:`POISSON_SMALL_PHI` (smooth integrands, and to avoid the cancellation in 1 − E₀)
    the positive integrands are summed with Gauss–Hermite. φ = ∞ gives (1, 1).
    """
    phi = float(phi)
    if not np.isfinite(phi):
        return 1.0, 1.0
    if phi <= 0.0:
        return 0.0, 0.0
    if phi <= POISSON_SMALL_PHI:
        z2 = _GH_X**2
        p = phi * z2 / (1.0 + phi * z2)
        return float(np.sum(_GH_W * p)), float(np.sum(_GH_W * p * z2))
    e0 = poisson_inverse_moment(phi)
    return 1.0 - e0, 1.0 - (1.0 - e0) / phi


def _poisson_first_moment(mu: np.ndarray, sd: float, phi: float) -> np.ndarray:
    """E[π(Y) Y] for Y ~ N(μ, sd²) (vectorised over μ), π(y) = φy²/(1 + φy²).

    π(y) y = y − y/(1 + φy²) and y/(1 + φy²) = Re[1/(y − ia)]/φ with a = φ^(-1/2); for the
    Gaussian, E[1/(Y − ia)] = i √(π/2)/sd · w(ζ), ζ = (ia − μ)/(sd √2), w the Faddeeva
    function (docs/dpp_edge_theory.md §3). sd = 0 gives μ π(μ).
    """
    if sd <= 0.0:
        return mu * phi * mu * mu / (1.0 + phi * mu * mu)
    zeta = (1j / np.sqrt(phi) - mu) / (sd * np.sqrt(2.0))
    return mu + np.sqrt(np.pi / 2.0) / (phi * sd) * wofz(zeta).imag


def poisson_cross_moment(phi: float, rho: float) -> float:
    """E[π(X) π(Y) X Y] for standard bivariate normal (X, Y) with correlation ρ, π as above.

    φ ≤ :data:`POISSON_SMALL_PHI`: tensor Gauss–Hermite (smooth integrand). Otherwise the
    one-dimensional reduction E_X[π(X) X · E[π(Y) Y | X]] (the inner expectation in closed form
    by :func:`_poisson_first_moment`), an even integrand in X, integrated on [0, 12] with panels
    graded towards the feature of width φ^(-1/2) at X = 0 (:func:`half_line_rule`). Accurate to
    ~1e-13 uniformly in φ (c → 1) and ρ (|ρ| → 1) (docs/dpp_edge_theory.md §3–4).
    """
    phi = float(phi)
    rho = float(np.clip(rho, -1.0, 1.0))
    if not np.isfinite(phi):
        return rho
    if phi <= 0.0:
        return 0.0
    if phi <= POISSON_SMALL_PHI:
        def f(x, y):
            return (phi * x * x / (1 + phi * x * x)) * (phi * y * y / (1 + phi * y * y)) * x * y
        return gauss_2d(f, 1.0, 1.0, rho)
    x, w = half_line_rule(1.0 / np.sqrt(phi))
    sd = float(np.sqrt(max(1.0 - rho * rho, 0.0)))
    px = phi * x * x / (1.0 + phi * x * x)
    inner = _poisson_first_moment(rho * x, sd, phi)
    return float(2.0 * np.sum(w * px * x * inner * _PHI0 * np.exp(-0.5 * x * x)))
