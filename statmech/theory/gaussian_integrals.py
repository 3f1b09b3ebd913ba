r"""Gaussian integrals of the online-SGD order-parameter ODEs for erf, linear and ReLU units.

For a zero-mean Gaussian vector x ~ N(0, S) (S symmetric positive semi-definite, possibly
singular) and activations g in {"erf", "linear", "relu"}, this module evaluates

* ``I2(S, g_a, g_b)``       = E[g_a(x0) g_b(x1)]                      S: (..., 2, 2)
* ``J2(S, g)``              = E[g'(x0) g'(x1)]                        S: (..., 2, 2)
* ``I3(S, g_a, g_c)``       = E[g_a'(x0) · x1 · g_c(x2)]              S: (..., 3, 3)
* ``I4(S, g_ab, g_c, g_d)`` = E[g_ab'(x0) g_ab'(x1) g_c(x2) g_d(x3)]  S: (..., 4, 4)

with g(x) = erf(x/√2), g'(x) = √(2/π) exp(−x²/2) ("erf"); g(x) = x, g'(x) = 1 ("linear");
g(x) = max(x, 0), g'(x) = 1{x > 0} ("relu"; so g'(0) = 0 and a field that is identically 0 has
relu(0) = relu'(0) = 0). All functions broadcast over the leading dimensions of ``S`` and
return float64 arrays of shape ``S.shape[:-2]``. Positions may refer to the same underlying
field (equal rows/columns of ``S``), so S may be singular.

Closed forms versus quadrature
------------------------------
Every combination is a closed form except ``I4(S, "relu", g_c, g_d)`` with
(g_c, g_d) ∈ {("relu", "relu"), ("erf", "erf")}, which contain a zero-mean *four*-variate
orthant probability (no elementary closed form); that one number is computed by a fixed-node
quadrature of Plackett's identity (below). I2, J2, I3 and every other I4 are closed forms.

Derivations
-----------
(D1) *Pure erf* (``docs/ode_theory.md`` §1.3). With Λ's the minors of 𝟙+S listed there:
I2 = (2/π) asin(c01/√((1+c00)(1+c11))), J2 = (2/π)/√((1+c00)(1+c11) − c01²),
I3 = (2/π)[c12(1+c00) − c01c02]/[(1+c00)√((1+c00)(1+c22) − c02²)],
I4 = (4/π²) Λ4^(−1/2) asin(Λ0/√(Λ1Λ2)). They are special cases of (D2)+(D5).

(D2) *Erf derivative = Gaussian tilt.* For a set A of positions carrying g'(x) = √(2/π)e^(−x²/2),
multiplying the N(0, S) density by exp(−|x_A|²/2) gives (Woodbury)

    E[∏_{i∈A} g'(x_i) F(x)] = (2/π)^{|A|/2} det(𝟙 + S_AA)^(−1/2) · E_{S̃}[F(x)],
    S̃ = S − S_{:,A} (𝟙 + S_AA)^(−1) S_{A,:}.

So I3(erf, ·) = √(2/π)(1+c00)^(−1/2) E_S̃[x1 g_c(x2)] and I4(erf; g_c, g_d) =
(2/π) det(𝟙+S_{01})^(−1/2) · I2(S̃_{23}; g_c, g_d): every I4 with an erf student is a closed
form for any teacher activations (the 4×4 erf formula of (D1) is exactly this with g_c = g_d = erf,
Λ1 = Λ4(1+S̃22), Λ0 = Λ4 S̃23).

(D3) *Stein's lemma* (Gaussian integration by parts), for x ~ N(0, S):
E[x_p F(x)] = Σ_j S_pj E[∂_j F(x)], with ∂_x 1{x>0} = δ(x), ∂_x relu(x) = 1{x>0} and
E[δ(x_j) F(x)] = φ_j(0) E[F | x_j = 0], φ_j(0) = (2π S_jj)^(−1/2). Consequences used here:
E[g'(x)] = √(2/π)(1+S_xx)^(−1/2) (erf), 1 (linear), ½ (relu, S_xx > 0);
E[x_a g(x_b)] = S_ab E[g'(x_b)], giving I2(erf, linear) = S_ab √(2/π)/√(1+S_aa) and
I2(linear, relu) = S_ab/2; I2(erf, relu) = S_ab/√(2π(1+S_aa)) (Stein on the ReLU argument: the
δ-term E[δ(x_b) erf(x_a/√2)] vanishes because erf is odd); I3 = S01 E[g_a''(x0) g_c(x2)] +
S12 E[g_a'(x0) g_c'(x2)] (Stein on x1), which for relu g_a, whose g'' is δ, gives
I3(relu, relu) = [S01 √(S22/S00) sin θ02 + S12 (π − θ02)] / (2π), I3(relu, erf) =
S12/√(2π(1+S22)) (E[1{x0>0} g'(x2)] = ½E[g'(x2)] by the x → −x symmetry), I3(relu, linear) = S12/2.
Here θ_ij ∈ [0, π] is the angle between the fields (cos θ_ij = correlation).

(D4) *ReLU kernel* (arc-cosine kernel, pyscm; ``docs/ode_theory.md`` §1.4):
E[relu(x0) relu(x1)] = √(S00S11)/(2π) · [sin θ + (π − θ) cos θ], which is
(1/2π)[√(S00S11 − S01²) + S01(π/2 + asin ρ)]; J2(relu) = P(x0>0, x1>0) = (π − θ)/(2π)
= 1/4 + asin(ρ)/(2π) (Sheppard).

(D5) *Erf values = sign of a noisy field.* erf(x/√2) = 2Φ(x) − 1 = E_z[sign(x + z)] with
z ~ N(0, 1) independent, so an erf value on position c is replaced by sign(y_c) = 2·1{y_c>0} − 1
with y_c = x_c + z_c, i.e. S_cc → S_cc + 1 (only on that diagonal entry; the noises of two
positions are independent even when they carry the same field).

(D6) *ReLU-student I4 by orthant moments.* With relu(x) = x 1{x>0} and (D5), I4(relu; g_c, g_d)
is a signed sum of Φ_B = E[x_p x_q 1{x_B > 0}], E[x_p 1{x_B > 0}] or P_B = P(x_B > 0) with
B ⊇ {0, 1} (e.g. (relu, relu) → E[x2 x3 1{x0,x1,x2,x3 > 0}], (erf, erf) →
4P_{0123} − 2P_{012} − 2P_{013} + P_{01}). Writing the fields as σ_i v̂_i·ξ (ξ ~ N(0, 𝟙), v̂_i unit
vectors, r_ij = v̂_i·v̂_j) and applying (D3) once or twice gives, for the conditional fields
given x_j = 0 (residual unit vectors û_{k|j} of v̂_k orthogonal to v̂_j) and given x_j = x_k = 0
(residuals orthogonal to span(v̂_j, v̂_k))::

    E[x_p 1{x_B>0}]      = σ_p (2π)^(−1/2) Σ_{j∈B} r_pj P_{B∖j}( · | x_j = 0),
    E[x_p x_q 1{x_B>0}]  = σ_p σ_q [ r_pq P_B + (1/2π) Σ_{j∈B} Σ_{k∈B∖j} r_pj (v̂_q·û_{k|j})
                                       · P_{B∖{j,k}}( · | x_j = x_k = 0) ].

Every factor φ_j(0) cancels against a covariance, so no term divides by a vanishing variance;
the pair (j, k) and (k, j) terms combine into a coefficient that vanishes continuously when
x_j → ±x_k. Orthant probabilities of ≤ 3 zero-mean fields with pairwise angles θ are elementary:
P_0 = 1, P_1 = ½, P_2 = (π − θ)/(2π), P_3 = ½ − (θ12 + θ13 + θ23)/(4π).

(D7) *Four-variate orthant probability.* By inclusion–exclusion over sign products (odd moments
vanish), P_4 = 7/16 − Σ_{i<j} θ_ij/(8π) + m4/16 with m4 = E[sign x0 · sign x1 · sign x2 · sign x3].
Plackett's identity ∂E[f]/∂R_ij = E[∂_i∂_j f] along R(t) = (1 − t)𝟙 + tR (the correlation
matrix R; t = 0 factorises and m4 = 0) gives

    m4 = (4/π²) Σ_{i<j} r_ij ∫₀¹ asin ρ_{kl·ij}(t) / √(1 − t² r_ij²) dt,

ρ_{kl·ij}(t) being the partial correlation of the other two fields given x_i = x_j = 0 under R(t).
With a = 1 − t, b = t all quantities are polynomials with coefficients from minors of R,
computed from the unit vectors (Gram–Schmidt residuals), so they keep relative accuracy near
singular R: the mixed minor Ñ = a²b r_kl + ab²(N_{ik,il} + N_{jk,jl}) + b³ N_{ijk,ijl},
W = det R(t)_{ij} = a² + 2ab + b² m_ij and D = det R(t) = Σ_U a^{4−|U|} b^{|U|} m_U (a sum of
non-negative terms, m_U the principal minors). Sylvester's identity det R(t)_{ijk}
det R(t)_{ijl} − Ñ² = W·D turns asin ρ into arctan(Ñ/√(W D)).
Quadrature: t = 1 − s² removes the 1/√(1 − t) endpoint singularity at r_ij = ±1. By the analysis
of the polynomials above, the other singularities of the integrand lie at s = ±i√μ (μ the
eigenvalues of R and of its principal sub-matrices, i.e. t = 1/(1 − μ) ≥ 1) and at real |s| > 1,
so after the single-exponential map s = 1/(1 + e^(−v)) the integrand is analytic in the strip
|Im v| < π/2 *however nearly singular R is*, and it decays exponentially as v → ±∞. The
trapezoidal rule on the fixed nodes v ∈ [−20, 12], step 0.55 (59 nodes) is then exponentially
accurate: ≤ 1.3e-10 on P_4 (≤ 2e-9 on m4) over ~1000 test matrices (random, exactly singular,
and near-singular with eigenvalues down to rounding level), against a 2400-node graded
Gauss–Legendre rule and an independent Owen's-T integral. Fixed nodes and no adaptivity make
the result a smooth (C^∞) function of S away from the rounding-level exact-singularity
thresholds below.

Numerical conventions (singular covariances)
--------------------------------------------
* The unit vectors v̂_i are the rows of a Cholesky factor of the correlation matrix; a pivot
  below 4 ε (a field whose component orthogonal to the previous ones is < 3e-8 of its norm) is
  set to exactly 0, and residual vectors shorter than 1e-14 are set to exactly 0. A zero
  residual (a conditional field that is identically 0) is given the angle π/2 to every other
  field, i.e. an independent factor ½ in the conditional orthant probabilities of (D6); this
  is the continuous limit of those formulas, so exact copies (correlation +1), sign-flipped
  copies (−1) and fields in the span of two others come out exactly. Four-variate orthants with
  an exact (sign-flipped) copy are evaluated as three-variate ones (closed form, no quadrature).
* Fields that span at most two dimensions (e.g. a converged student pair equal to a teacher
  pair, or students in the span of two teachers) make every conditional orthant given two fields
  0/0 with a direction-dependent limit; there E[x2 x3 1{x0..x3 > 0}] and P_4 are evaluated
  directly as integrals over the planar wedge (closed form, ``_planar``).
* A field with zero variance in a relu position (value or derivative) makes the integral 0.
* Intrinsic conditioning: near-collinear fields make these integrals sensitive to rounding in S
  (a change of 1e-16 in a correlation 1 − δ moves the angle by ~1e-16/√δ), so for two fields at
  an angle θ ≲ 1e-7 the attainable absolute accuracy is ≈ 1e-16/θ rather than 1e-9. All
  conditional quantities are computed from the one Cholesky factor (Gram–Schmidt residuals, no
  separately rounded minors), which keeps the errors at this intrinsic level (checked during
  development against an independent 40-digit mpmath implementation down to θ ≈ 1e-8: errors
  ≤ 1e-9 there, ≤ 1e-11 for θ ≥ 1e-6).

Accuracy and cost
-----------------
Closed forms: rounding only (~1e-15 for O(1) covariances). Quadrature (ReLU-student I4 with a
(relu, relu) or (erf, erf) pair): absolute error ≤ 2e-10·max(1, σ2σ3) (relu, relu) and ≤ 5e-10
(erf, erf) for O(1) covariances, singular ones included, up to the intrinsic conditioning above.
Cost on one core of the development machine (2-vCPU AMD EPYC, NumPy 2.4), per call with 5000
random tuples (best of 7; medians under the machine's background load are ~30% higher):
I4(relu; relu, relu) ≈ I4(relu; erf, erf) ≈ 21 ms (about 10 ms of it the 59 × 6 arctan
evaluations per tuple), the seven other ReLU-student I4 5.5–7 ms, erf-student I4 ≈ 0.9 ms,
linear-student I4 ≈ 0.15 ms, I3, I2, J2 ≤ 0.6 ms. Tuples are processed in blocks of 320 so
that every NumPy temporary stays below 128 KiB (glibc hands larger ones back to the OS after
each use, and re-faulting the pages costs more than the arithmetic).
"""

from __future__ import annotations

import threading

import numpy as np

from .._validation import InvalidParameterError, check_choice

__all__ = ["ACTIVATIONS", "I2", "I3", "I4", "J2", "orthant_probability"]

ACTIVATIONS = ("erf", "linear", "relu")

_PI = np.pi
_TWO_PI = 2.0 * np.pi
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_EPS = np.finfo(float).eps
_PIVOT_TOL = 4.0 * _EPS  # Cholesky pivot (relative) below which a field is an exact copy
_RESID_TOL = 1e-14  # residual unit-vector length below which it is exactly zero
_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def _quadrature_rule(vmin: float = -20.0, vmax: float = 12.0, h: float = 0.55):
    """Nodes s ∈ (0, 1) and weights of ∫₀¹ f(s) ds: trapezoid in v with s = 1/(1 + e^(−v))."""
    v = np.arange(vmin, vmax + 1e-9, h)
    s = 1.0 / (1.0 + np.exp(-v))
    return s, h * s * (1.0 - s)


def _plackett_basis(s: np.ndarray, w: np.ndarray):
    """Per-node polynomial bases of the Plackett integrand (see module docstring, D7)."""
    a = s * s  # 1 − t
    b = 1.0 - a  # t
    num = np.stack([a * a * b, a * b * b, b**3])  # Ñ = c0·a²b + c1·ab² + c2·b³
    wdet = np.stack([a * a + 2.0 * a * b, b * b])  # W = (a² + 2ab) + m_ij·b²
    ddet = np.stack([a**4 + 4.0 * a**3 * b, a * a * b * b, a * b**3, b**4])
    return num, wdet, ddet, 2.0 * s * w  # dt = 2s ds


def _read_only(*arrays: np.ndarray) -> None:
    """Shared module-level lookup arrays are frozen: no thread can modify them in place."""
    for a in arrays:
        a.setflags(write=False)


_S_NODES, _S_WEIGHTS = _quadrature_rule()
_BASIS = _plackett_basis(_S_NODES, _S_WEIGHTS)
_read_only(_S_NODES, _S_WEIGHTS, *_BASIS)
_BLOCK = 320  # tuples per block (geometry temporaries stay below 128 KiB)
_SUB = 320  # tuples per quadrature sub-block (preallocated work arrays)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _check_activation(g: object, name: str, func: str) -> str:
    return check_choice(g, name, func, ACTIVATIONS)


def _as_cov(S: object, n: int, func: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return S as float64 of shape (N, n, n) and the batch shape, or raise ValueError."""
    try:
        arr = np.asarray(S, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The 'S' parameter of {func} must be a real array of shape (..., {n}, {n})."
            f" Got {type(S).__name__} instead.", func=func, param="S"
        ) from None
    if isinstance(S, str | bytes) or arr.ndim < 2 or arr.shape[-2:] != (n, n):
        raise InvalidParameterError(
            f"The 'S' parameter of {func} must be a covariance array of shape (..., {n}, {n})."
            f" Got shape {arr.shape} instead.", func=func, param="S"
        )
    batch = arr.shape[:-2]
    return arr.reshape((-1, n, n)), batch


# --------------------------------------------------------------------------------------------
# elementary pieces
# --------------------------------------------------------------------------------------------
def _angle2(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle θ ∈ [0, π] between two fields with variances a, b and covariance c."""
    return np.arctan2(np.sqrt(np.maximum(a * b - c * c, 0.0)), c)


def _expect_dg(g: str, var: np.ndarray) -> np.ndarray:
    """E[g'(x)] for x ~ N(0, var) (D3)."""
    if g == "erf":
        return _SQRT_2_OVER_PI / np.sqrt(1.0 + var)
    if g == "linear":
        return np.ones_like(var)
    return np.where(var > 0, 0.5, 0.0)


def _i2(a: np.ndarray, b: np.ndarray, c: np.ndarray, ga: str, gb: str) -> np.ndarray:
    """E[ga(x0) gb(x1)] for variances a, b and covariance c (closed forms D1, D3, D4)."""
    order = ("erf", "linear", "relu")
    if order.index(ga) > order.index(gb):  # the integral is symmetric: sort the pair
        ga, gb, a, b = gb, ga, b, a
    if (ga, gb) == ("erf", "erf"):
        return (2.0 / _PI) * np.arcsin(np.clip(c / np.sqrt((1.0 + a) * (1.0 + b)), -1.0, 1.0))
    if (ga, gb) == ("erf", "linear"):
        return c * _SQRT_2_OVER_PI / np.sqrt(1.0 + a)
    if (ga, gb) == ("erf", "relu"):
        return c / np.sqrt(_TWO_PI * (1.0 + a))
    if (ga, gb) == ("linear", "linear"):
        return np.array(c, dtype=float, copy=True)
    if (ga, gb) == ("linear", "relu"):
        return 0.5 * c
    th = _angle2(a, b, c)  # relu, relu: arc-cosine kernel
    return np.sqrt(np.maximum(a * b, 0.0)) / _TWO_PI * (np.sin(th) + (_PI - th) * np.cos(th))


def _tilt(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian tilt of (D2) by the first k positions: prefactor and tilted covariance."""
    A = S[:, :k, :k] + np.eye(k)
    B = S[:, k:, :k]
    if k == 1:
        det = A[:, 0, 0]
        St = S[:, k:, k:] - B[:, :, 0, None] * B[:, None, :, 0] / det[:, None, None]
    else:
        det = A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] * A[:, 1, 0]
        adj = np.stack(
            [np.stack([A[:, 1, 1], -A[:, 0, 1]], -1), np.stack([-A[:, 1, 0], A[:, 0, 0]], -1)], -2
        )
        St = S[:, k:, k:] - B @ adj @ np.swapaxes(B, -1, -2) / det[:, None, None]
    return _SQRT_2_OVER_PI**k / np.sqrt(det), St


# --------------------------------------------------------------------------------------------
# geometry of up to four fields: unit vectors, residuals, angles, orthant probabilities
# --------------------------------------------------------------------------------------------
# Vectors are stored component-major: shape (n_components, ..., N) with the batch axis last, so
# that every NumPy loop runs over the long batch axis.
def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inner product over the leading (component) axis."""
    return np.einsum("c...,c...->...", u, v)


def _unit(w: np.ndarray, n2: np.ndarray | None = None) -> np.ndarray:
    """Unit vector of w (components on axis 0), exactly 0 when |w| <= _RESID_TOL.

    ``n2`` is |w|² if already known.
    """
    n = np.sqrt(_dot(w, w) if n2 is None else n2)
    keep = n > _RESID_TOL
    return w * np.where(keep, 1.0 / np.where(keep, n, 1.0), 0.0)


def _theta(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between unit-or-zero vectors (Kahan's formula); π/2 if either is zero."""
    d = np.sqrt(_dot(u - v, u - v))
    p = np.sqrt(_dot(u + v, u + v))
    return np.where((d == 0) & (p == 0), 0.5 * _PI, 2.0 * np.arctan2(d, p))


def _orthant_small(vecs: list[np.ndarray]) -> np.ndarray | float:
    """Zero-mean orthant probability of ≤ 3 fields given by unit-or-zero vectors (D6)."""
    n = len(vecs)
    if n == 0:
        return 1.0
    if n == 1:
        return 0.5
    if n == 2:
        return (_PI - _theta(vecs[0], vecs[1])) / _TWO_PI
    th = _theta(vecs[0], vecs[1]) + _theta(vecs[0], vecs[2]) + _theta(vecs[1], vecs[2])
    return 0.5 - th / (4.0 * _PI)


def _unit_vectors(V: np.ndarray) -> np.ndarray:
    """Unit vectors of the fields of V (N, n, n), component-major: shape (n, n_fields, N).

    They are the rows of a Cholesky factor of the correlation matrix (so v̂_i·v̂_j is the
    correlation); pivots below _PIVOT_TOL are set to 0, so exact copies become exactly
    parallel, and zero-variance fields get the zero vector.
    """
    n = V.shape[-1]
    Vt = np.ascontiguousarray(np.moveaxis(V, 0, -1))  # (n, n, N)
    var = np.diagonal(Vt, axis1=0, axis2=1).T  # (n, N)
    pos = var > 0
    inv = np.where(pos, 1.0 / np.sqrt(np.where(pos, var, 1.0)), 0.0)
    R = Vt * inv[:, None, :] * inv[None, :, :]
    L = np.zeros_like(R)  # L[i, c]: component c of field i
    for j in range(n):
        d = pos[j] - np.einsum("cn,cn->n", L[j, :j], L[j, :j])
        ok = d > _PIVOT_TOL
        dj = np.sqrt(np.where(ok, d, 1.0))
        L[j, j] = np.where(ok, dj, 0.0)
        if j + 1 < n:
            off = R[j + 1 :, j] - np.einsum("icn,cn->in", L[j + 1 :, :j], L[j, :j])
            L[j + 1 :, j] = np.where(ok, off / dj, 0.0)
    nrm = np.sqrt(np.einsum("icn,icn->in", L, L))
    L *= np.where(nrm > 0, 1.0 / np.where(nrm > 0, nrm, 1.0), 0.0)[:, None, :]
    return np.ascontiguousarray(L.transpose(1, 0, 2))  # (component, field, N)


# ordered pairs (j, k), j != k: residual of v̂_k orthogonal to v̂_j
_OPAIRS = tuple((j, k) for j in range(4) for k in range(4) if j != k)
_OPAIR_INDEX = {t: n for n, t in enumerate(_OPAIRS)}
# residual triples (l, j, k): v̂_l orthogonal to span(v̂_j, v̂_k), j < k, l ∉ {j, k}
_TRIPLES = tuple((l, j, k) for j, k in _PAIRS for l in range(4) if l not in (j, k))
_TRIPLE_INDEX = {t: n for n, t in enumerate(_TRIPLES)}
_OP_J, _OP_K = (np.array(x) for x in zip(*_OPAIRS, strict=True))
_TR_JL = np.array([_OPAIR_INDEX[j, l] for l, j, k in _TRIPLES])  # W1 index of l given j
_TR_JK = np.array([_OPAIR_INDEX[j, k] for l, j, k in _TRIPLES])  # W1 index of k given j
# per unordered pair (i, j) with the other two fields (k, l):
_P_I, _P_J = (np.array(x) for x in zip(*_PAIRS, strict=True))
_P_K, _P_L = (
    np.array(x) for x in zip(*[[m for m in range(4) if m not in p] for p in _PAIRS], strict=True)
)
_P_IJ = np.array([_OPAIR_INDEX[i, j] for i, j in _PAIRS])
_P_C1A = np.array(  # W1 indices of k given i, then k given j
    [_OPAIR_INDEX[i, k] for i, k in zip(_P_I, _P_K, strict=True)]
    + [_OPAIR_INDEX[j, k] for j, k in zip(_P_J, _P_K, strict=True)]
)
_P_C1B = np.array(  # W1 indices of l given i, then l given j
    [_OPAIR_INDEX[i, l] for i, l in zip(_P_I, _P_L, strict=True)]
    + [_OPAIR_INDEX[j, l] for j, l in zip(_P_J, _P_L, strict=True)]
)
_P_TK = np.array([_TRIPLE_INDEX[k, i, j] for i, j, k in zip(_P_I, _P_J, _P_K, strict=True)])
_P_TL = np.array([_TRIPLE_INDEX[l, i, j] for i, j, l in zip(_P_I, _P_J, _P_L, strict=True)])
_read_only(_OP_J, _OP_K, _TR_JL, _TR_JK, _P_I, _P_J, _P_K, _P_L, _P_IJ, _P_C1A, _P_C1B, _P_TK,
           _P_TL)


def _orthant_stacked(E: np.ndarray, cases: list[tuple[int, ...]]) -> np.ndarray | float:
    """Orthant probabilities (len(cases), N) of the vectors E[:, case] (all cases of equal size)."""
    r = len(cases[0])
    if r == 0:
        return 1.0
    if r == 1:
        return 0.5
    if r == 2:
        a = [c[0] for c in cases]
        b = [c[1] for c in cases]
        return (_PI - _theta(E[:, a], E[:, b])) / _TWO_PI
    a = [c[i] for c in cases for i in (0, 0, 1)]
    b = [c[i] for c in cases for i in (1, 2, 2)]
    th = _theta(E[:, a], E[:, b]).reshape(len(cases), 3, -1).sum(1)
    return 0.5 - th / (4.0 * _PI)


def _planar(U: np.ndarray, B: tuple[int, ...], p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """(P(x_B > 0), E[x̂_p x̂_q 1{x_B > 0}]) for fields spanning at most two dimensions.

    With ξ ~ N(0, 𝟙₂) in the plane and x̂_i = cos(φ − α_i)|ξ|, the orthant is the wedge
    W = ∩_j (α_j − π/2, α_j + π/2) and E[x̂_p x̂_q 1_W] = (1/π) ∫_W cos(φ − α_p) cos(φ − α_q) dφ.
    (The conditional orthant probabilities of (D6) given two fields are 0/0 here.)
    U: unit vectors (4, 4, n) whose only nonzero components are the ≤ 2 Cholesky pivots.
    """
    n = U.shape[-1]
    piv = np.diagonal(U, axis1=0, axis2=1).T != 0  # (4, n): pivot c is nonzero
    c1 = np.argmax(piv, axis=0)
    piv[c1, np.arange(n)] = False
    c2 = np.argmax(piv, axis=0)
    X = np.take_along_axis(U, c1[None, None, :], axis=0)[0]  # (4 fields, n)
    Y = np.where(piv.any(0), np.take_along_axis(U, c2[None, None, :], axis=0)[0], 0.0)
    alpha = np.arctan2(Y, X)
    a0 = alpha[B[0]]
    rel = [np.mod(alpha[j] - a0 + _PI, 2 * _PI) - _PI for j in B]  # in [−π, π)
    lo = np.maximum.reduce(rel) - 0.5 * _PI
    hi = np.maximum(np.minimum.reduce(rel) + 0.5 * _PI, lo)
    ap, aq = alpha[p] - a0, alpha[q] - a0
    mom = 0.5 * (hi - lo) * np.cos(ap - aq)
    mom += 0.25 * (np.sin(2 * hi - ap - aq) - np.sin(2 * lo - ap - aq))
    return (hi - lo) / _TWO_PI, mom / _PI


class _Fields:
    """Geometry of four fields: unit vectors, Gram matrix, conditional residuals (D6).

    Built from a block of covariances V (N, 4, 4); vectors are component-major (4, ·, N).
    """

    def __init__(self, V: np.ndarray):
        U = _unit_vectors(V)
        self.U = U
        self.p4: tuple[np.ndarray, np.ndarray | None] | None = None  # see _orthant4_base
        # fields spanning ≤ 2 dimensions (at most two nonzero Cholesky pivots)
        self.planar = np.count_nonzero(np.diagonal(U, axis1=0, axis2=1), axis=-1) <= 2
        self.m4: tuple[np.ndarray, ...] | None = None
        self.v = [U[:, i] for i in range(4)]
        self.G = np.einsum("cin,cjn->ijn", U, U)  # correlations (4, 4, N)
        self.W1 = U[:, _OP_K] - self.G[_OP_J, _OP_K] * U[:, _OP_J]  # v̂_k ⟂ v̂_j (4, 12, N)
        self.n1sq = _dot(self.W1, self.W1)
        self.E1 = _unit(self.W1, self.n1sq)
        rl = self.W1[:, _TR_JL]
        ek = self.E1[:, _TR_JK]
        self.W2 = rl - _dot(rl, ek) * ek  # v̂_l ⟂ span(v̂_j, v̂_k) (4, 12, N)
        self.n2sq = _dot(self.W2, self.W2)
        self.E2 = _unit(self.W2, self.n2sq)

    def orthant(self, B: tuple[int, ...]) -> np.ndarray | float:
        """P(x_B > 0)."""
        if len(B) < 4:
            return _orthant_small([self.v[i] for i in B])
        if self.p4 is None:
            self.p4 = _orthant4_base(self)
        return self.p4[0]

    def moment1(self, B: tuple[int, ...], p: int) -> np.ndarray:
        """E[x̂_p 1{x_B > 0}] for unit-variance x̂_p (D6)."""
        cases = [tuple(_OPAIR_INDEX[j, k] for k in B if k != j) for j in B]
        P = _orthant_stacked(self.E1, cases)
        return np.sum(self.G[p, list(B)] * P, axis=0) / _SQRT_2PI

    def moment2(self, B: tuple[int, ...], p: int, q: int) -> np.ndarray:
        """E[x̂_p x̂_q 1{x_B > 0}] for unit-variance x̂_p, x̂_q (D6)."""
        tot = self.G[p, q] * self.orthant(B)
        pairs = [(j, k) for ia, j in enumerate(B) for k in B[ia + 1 :]]
        if not pairs:
            return tot
        J, K = (list(x) for x in zip(*pairs, strict=True))
        vq = self.v[q][:, None]
        ejk = self.E1[:, [_OPAIR_INDEX[j, k] for j, k in pairs]]  # û_{k|j}
        ekj = self.E1[:, [_OPAIR_INDEX[k, j] for j, k in pairs]]  # û_{j|k}
        coef = self.G[p, J] * _dot(vq, ejk) + self.G[p, K] * _dot(vq, ekj)
        cases = [tuple(_TRIPLE_INDEX[m, j, k] for m in B if m not in (j, k)) for j, k in pairs]
        P = _orthant_stacked(self.E2, cases)
        tot = tot + np.sum(coef * P, axis=0) / _TWO_PI
        if len(B) == 4 and np.any(self.planar):  # conditionals given two fields are 0/0
            tot[self.planar] = _planar(self.U[..., self.planar], B, p, q)[1]
        return tot


def _orthant4_base(F: _Fields) -> tuple[np.ndarray, np.ndarray | None]:
    """P(x0, x1, x2, x3 > 0) without its quadrature part (D7).

    Returns the probability for tuples with an exact (sign-flipped) copy, which reduce to three
    fields, and 7/16 − Σθ_ij/(8π) for the others, whose missing term m4/16 is computed later in
    one batch (`_m4_batch`) from the coefficients stored in ``F.m4`` for the tuples ``sel``.
    """
    N = F.G.shape[-1]
    out = np.empty(N)
    copy = ~np.any(F.E1[:, _P_IJ] != 0, axis=0)  # (6, N)
    todo = ~np.any(copy, axis=0) & ~F.planar
    if np.any(F.planar):
        out[F.planar] = _planar(F.U[..., F.planar], (0, 1, 2, 3), 0, 0)[0]
    if not np.all(todo):  # j an exact copy of i: drop j; a sign-flipped copy: probability 0
        left = ~todo & ~F.planar
        for n, (i, j) in enumerate(_PAIRS):
            dup = left & copy[n]
            if np.any(dup):
                small = _orthant_small([F.v[k][:, dup] for k in range(4) if k != j])
                out[dup] = np.where(F.G[i, j, dup] < 0, 0.0, small)
                left &= ~dup
    if not np.any(todo):
        return out, None
    idx = None if np.all(todo) else np.flatnonzero(todo)
    sel = slice(None) if idx is None else idx
    U = F.U[..., sel]
    th = _theta(U[:, _P_I], U[:, _P_J]).sum(0)
    out[sel] = 7.0 / 16.0 - th / (8.0 * _PI)
    F.m4 = _m4_coefficients(F, idx)
    return out, todo


def _m4_coefficients(F: _Fields, idx: np.ndarray | None):
    """Per-tuple coefficients of the Plackett integrand (D7) for the tuples idx (None: all).

    Returns r (n, 6), Ñ coefficients (n, 6, 3), W coefficients (n, 6, 2), D coefficients (n, 4)
    (see the module docstring; all minors come from the Gram–Schmidt residuals of _Fields).
    """
    sel = slice(None) if idx is None else idx
    G = F.G[..., sel]
    n = G.shape[-1]
    m2 = F.n1sq[_P_IJ][:, sel]  # 1 − r_ij², (6, n)
    c1 = _dot(F.W1[:, _P_C1A][..., sel], F.W1[:, _P_C1B][..., sel]).reshape(2, 6, n).sum(0)
    rk, rl = F.W2[:, _P_TK][..., sel], F.W2[:, _P_TL][..., sel]  # (4, 6, n)
    coefs = np.empty((n, 6, 3))
    coefs[:, :, 0] = G[_P_K, _P_L].T
    coefs[:, :, 1] = c1.T
    coefs[:, :, 2] = (m2 * _dot(rk, rl)).T
    wc = np.empty((n, 6, 2))
    wc[:, :, 0] = 1.0
    wc[:, :, 1] = m2.T
    # principal 3×3 minors: triples {0,1,2}, {0,1,3} from pair (0,1), {0,2,3}, {1,2,3} from (2,3)
    rk2 = F.n2sq[_P_TK][:, sel]
    rl2 = F.n2sq[_P_TL][:, sel]
    m3_012 = m2[0] * rk2[0]
    dc = np.empty((n, 4))
    dc[:, 0] = 1.0
    dc[:, 1] = m2.sum(0)
    dc[:, 2] = m3_012 + m2[0] * rl2[0] + m2[5] * (rk2[5] + rl2[5])
    e2 = F.E2[:, _TRIPLE_INDEX[2, 0, 1]][:, sel]
    r3 = F.W2[:, _TRIPLE_INDEX[3, 0, 1]][:, sel]
    r3 = r3 - _dot(r3, e2) * e2  # v̂3 orthogonal to span(v̂0, v̂1, v̂2)
    dc[:, 3] = m3_012 * _dot(r3, r3)  # det R
    return np.ascontiguousarray(G[_P_I, _P_J].T), coefs, wc, dc


class _Workspace:
    """Preallocated buffers of the quadrature (avoids large temporaries)."""

    def __init__(self) -> None:
        n = _S_NODES.size
        self.num = np.empty((_SUB, 6, n))
        self.w = np.empty((_SUB, 6, n))
        self.d = np.empty((_SUB, n))


_LOCAL = threading.local()  # per-thread quadrature buffers (never shared between threads)


def _workspace() -> _Workspace:
    """This thread's quadrature buffers, (re)allocated for the current node count.

    The buffers are written in place by :func:`_m4_sub`, so each thread has its own: a single
    module-global workspace let two threads overwrite each other's partial results.
    """
    ws = getattr(_LOCAL, "workspace", None)
    if ws is None or ws.d.shape[1] != _S_NODES.size:
        ws = _LOCAL.workspace = _Workspace()
    return ws


def _m4_sub(r, coefs, wc, dc, ws: _Workspace) -> np.ndarray:
    """Quadrature of m4 for ≤ _SUB tuples (fixed nodes, in place in the workspace)."""
    num_b, w_b, d_b, wq = _BASIS
    c = r.shape[0]
    rD, Nt, rW = ws.d[:c], ws.num[:c], ws.w[:c]
    np.matmul(dc, d_b, out=rD)  # det R(t), (c, nodes)
    np.maximum(rD, 1e-300, out=rD)
    np.sqrt(rD, out=rD)
    np.divide(1.0, rD, out=rD)
    np.matmul(coefs, num_b, out=Nt)  # mixed minor Ñ, (c, 6, nodes)
    np.matmul(wc, w_b, out=rW)  # W = det R(t)_{ij}
    np.sqrt(rW, out=rW)
    np.divide(1.0, rW, out=rW)
    Nt *= rW
    Nt *= rD[:, None, :]
    np.arctan(Nt, out=Nt)  # asin of the partial correlation
    Nt *= rW
    return np.einsum("cp,cp->c", Nt @ wq, r)


def _m4_batch(r, coefs, wc, dc) -> np.ndarray:
    """m4 = E[sign x0 · sign x1 · sign x2 · sign x3] (D7) from the coefficients of
    `_m4_coefficients`, in sub-blocks of _SUB tuples."""
    n = r.shape[0]
    res = np.empty(n)
    ws = _workspace()
    for lo in range(0, n, _SUB):
        sl = slice(lo, min(lo + _SUB, n))
        res[sl] = _m4_sub(r[sl], coefs[sl], wc[sl], dc[sl], ws)
    return (4.0 / _PI**2) * res


def _blocked_with_m4(block_func, V: np.ndarray) -> np.ndarray:
    """Evaluate ``block_func`` over blocks of _BLOCK tuples, then add the deferred m4 terms.

    ``block_func(V_block)`` returns (value, m4 weight, m4 tuple mask or None, m4 coefficients);
    the result is value + weight · m4. Blocks keep every temporary below 128 KiB (large NumPy
    temporaries are slow where the allocator hands them back to the OS after each use).
    """
    N = V.shape[0]
    out = np.empty(N)
    pend_idx, pend_w, pend_c = [], [], []
    for lo in range(0, N, _BLOCK):
        sl = slice(lo, min(lo + _BLOCK, N))
        val, weight, mask, coefs = block_func(V[sl])
        out[sl] = val
        if mask is not None:
            pend_idx.append(lo + np.flatnonzero(mask))
            pend_w.append(weight[mask])
            pend_c.append(coefs)
    if pend_idx:
        idx = np.concatenate(pend_idx)
        coefs = [np.concatenate(c) for c in zip(*pend_c, strict=True)]
        out[idx] += np.concatenate(pend_w) * _m4_batch(*coefs)
    return out


def orthant_probability(S: object) -> np.ndarray:
    """Zero-mean orthant probability P(x0 > 0, ..., x_{n−1} > 0) for x ~ N(0, S), n ≤ 4.

    Parameters
    ----------
    S : array_like, shape (..., n, n), n ∈ {1, 2, 3, 4}
        Covariance matrices (symmetric PSD, possibly singular).

    Returns
    -------
    ndarray, shape S.shape[:-2]
        Closed form for n ≤ 3; for n = 4 the Plackett quadrature of the module docstring (D7),
        absolute error ≲ 2e-10. A field with zero variance gives probability 0.
    """
    try:
        arr = np.asarray(S, dtype=float)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    n = arr.shape[-1] if arr.ndim >= 2 else 0
    if n not in (1, 2, 3, 4):
        raise InvalidParameterError(
            "The 'S' parameter of orthant_probability must be a covariance array of shape"
            f" (..., n, n) with 1 <= n <= 4. Got shape {arr.shape} instead.",
            func="orthant_probability", param="S"
        )
    V, batch = _as_cov(arr, n, "orthant_probability")
    dead = np.any(np.diagonal(V, axis1=-2, axis2=-1) <= 0, axis=-1)
    if n == 4:

        def block(v: np.ndarray):
            F = _Fields(v)
            base, mask = _orthant4_base(F)
            return base, np.full(v.shape[0], 1.0 / 16.0), mask, F.m4

        out = _blocked_with_m4(block, V)
    else:
        U = _unit_vectors(V)
        out = np.broadcast_to(_orthant_small([U[:, i] for i in range(n)]), dead.shape)
    out = np.where(dead, 0.0, out)
    return _propagate_nan(out, V).reshape(batch)


def _propagate_nan(out: np.ndarray, S: np.ndarray) -> np.ndarray:
    """NaN where the covariance has a NaN (the masks above would otherwise hide it)."""
    bad = np.isnan(S).any(axis=(-2, -1))
    return np.where(bad, np.nan, out) if np.any(bad) else out


# --------------------------------------------------------------------------------------------
# ReLU student in I4: expansion into orthant moments (D5, D6)
# --------------------------------------------------------------------------------------------
def _expansion(gc: str, gd: str) -> list[tuple[float, tuple[int, ...], tuple[int, ...]]]:
    """Terms (coefficient, linear factors, orthant set B) of E[1{x0>0}1{x1>0} gc(x2) gd(x3)]."""
    opts: dict[int, list[tuple[float, tuple[int, ...], tuple[int, ...]]]] = {}
    for pos, g in ((2, gc), (3, gd)):
        if g == "linear":
            opts[pos] = [(1.0, (pos,), ())]
        elif g == "relu":
            opts[pos] = [(1.0, (pos,), (pos,))]
        else:  # erf value = sign of the noisy field (D5)
            opts[pos] = [(2.0, (), (pos,)), (-1.0, (), ())]
    return [
        (c2 * c3, f2 + f3, (0, 1) + b2 + b3) for c2, f2, b2 in opts[2] for c3, f3, b3 in opts[3]
    ]


def _i4_relu(S: np.ndarray, gc: str, gd: str) -> np.ndarray:
    return _blocked_with_m4(lambda V: _i4_relu_block(V, gc, gd), S)


def _i4_relu_block(S: np.ndarray, gc: str, gd: str):
    """One block of I4(relu; gc, gd) (D5–D6): value without the deferred m4 term, its weight,
    the tuples that need it and their quadrature coefficients (see `_blocked_with_m4`)."""
    V = S.copy()
    if gc == "erf":
        V[:, 2, 2] += 1.0
    if gd == "erf":
        V[:, 3, 3] += 1.0
    var = np.diagonal(V, axis1=-2, axis2=-1)
    sig = np.sqrt(np.maximum(var, 0.0))
    live = (var[:, 0] > 0) & (var[:, 1] > 0)
    if gc == "relu":
        live &= var[:, 2] > 0
    if gd == "relu":
        live &= var[:, 3] > 0
    F = _Fields(V)
    tot = np.zeros(V.shape[0])
    weight = np.zeros(V.shape[0])  # coefficient of P4 in the total
    for coef, fac, B in _expansion(gc, gd):
        if len(fac) == 0:
            val = F.orthant(B)
            if len(B) == 4:
                weight = weight + coef
        elif len(fac) == 1:
            val = sig[:, fac[0]] * F.moment1(B, fac[0])
        else:
            scale = sig[:, fac[0]] * sig[:, fac[1]]
            val = scale * F.moment2(B, fac[0], fac[1])
            if len(B) == 4:
                weight = weight + coef * scale * F.G[fac[0], fac[1]]
        tot = tot + coef * val
    tot = np.where(live, tot, 0.0)
    if F.p4 is None or F.p4[1] is None:
        return tot, None, None, None
    assert F.m4 is not None  # _orthant4_base sets F.m4 whenever it returns a tuple mask
    mask = F.p4[1] & live
    return tot, weight / 16.0, mask, tuple(c[mask[F.p4[1]]] for c in F.m4)


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------
def I2(S: object, g_a: str, g_b: str) -> np.ndarray:
    """E[g_a(x0) g_b(x1)] for x ~ N(0, S).

    Parameters
    ----------
    S : array_like, shape (..., 2, 2)
        Covariance matrices (symmetric PSD, possibly singular); leading dimensions broadcast.
    g_a, g_b : {"erf", "linear", "relu"}
        Activations applied to x0 and x1.

    Returns
    -------
    ndarray, shape S.shape[:-2]
        Closed form for every pair: erf–erf (2/π) asin(c01/√((1+c00)(1+c11))) of
        ``docs/ode_theory.md`` §1.3; the ReLU arc-cosine kernel and erf–ReLU c01/√(2π(1+c_erf))
        of §1.4;
        linear pairs by Stein's lemma (module docstring D1–D4).

    Raises
    ------
    ValueError
        If an activation name is unknown (naming ``g_a``/``g_b``) or ``S`` is not (..., 2, 2).
    """
    _check_activation(g_a, "g_a", "I2")
    _check_activation(g_b, "g_b", "I2")
    V, batch = _as_cov(S, 2, "I2")
    out = _i2(V[:, 0, 0], V[:, 1, 1], V[:, 0, 1], g_a, g_b)
    return _propagate_nan(np.asarray(out, dtype=float), V).reshape(batch)


def J2(S: object, g: str) -> np.ndarray:
    """E[g'(x0) g'(x1)] for x ~ N(0, S).

    Parameters
    ----------
    S : array_like, shape (..., 2, 2)
        Covariance matrices (symmetric PSD, possibly singular).
    g : {"erf", "linear", "relu"}
        Activation of both fields.

    Returns
    -------
    ndarray, shape S.shape[:-2]
        erf: (2/π)/√((1+c00)(1+c11) − c01²) (``docs/ode_theory.md`` §1.3); linear: 1;
        relu: P(x0 > 0, x1 > 0) = 1/4 + asin(ρ)/(2π), and 0 if a variance is 0.

    Raises
    ------
    ValueError
        If ``g`` is unknown or ``S`` is not (..., 2, 2).
    """
    _check_activation(g, "g", "J2")
    V, batch = _as_cov(S, 2, "J2")
    a, b, c = V[:, 0, 0], V[:, 1, 1], V[:, 0, 1]
    if g == "erf":
        out = (2.0 / _PI) / np.sqrt((1.0 + a) * (1.0 + b) - c * c)
    elif g == "linear":
        out = np.ones_like(a)
    else:
        out = np.where((a > 0) & (b > 0), (_PI - _angle2(a, b, c)) / _TWO_PI, 0.0)
    return _propagate_nan(out, V).reshape(batch)


def I3(S: object, g_a: str, g_c: str) -> np.ndarray:
    """E[g_a'(x0) · x1 · g_c(x2)] for x ~ N(0, S).

    Parameters
    ----------
    S : array_like, shape (..., 3, 3)
        Covariance matrices (symmetric PSD, possibly singular). Position 0 is the differentiated
        (student) field, position 1 enters linearly, position 2 carries g_c.
    g_a, g_c : {"erf", "linear", "relu"}
        Activation differentiated at x0 and activation applied to x2.

    Returns
    -------
    ndarray, shape S.shape[:-2]
        Closed form for all nine combinations: Stein's lemma on x1 gives
        S01 E[g_a''(x0) g_c(x2)] + S12 E[g_a'(x0) g_c'(x2)]; an erf derivative is a Gaussian tilt
        (pure erf reproduces ``docs/ode_theory.md`` §1.3), a ReLU derivative's δ-term is the
        conditional ReLU mean (module docstring D2–D3).

    Raises
    ------
    ValueError
        If an activation name is unknown or ``S`` is not (..., 3, 3).
    """
    _check_activation(g_a, "g_a", "I3")
    _check_activation(g_c, "g_c", "I3")
    V, batch = _as_cov(S, 3, "I3")
    s00, s22 = V[:, 0, 0], V[:, 2, 2]
    s01, s02, s12 = V[:, 0, 1], V[:, 0, 2], V[:, 1, 2]
    if g_a == "linear":
        out = s12 * _expect_dg(g_c, s22)
    elif g_a == "erf":
        pref, St = _tilt(V, 1)  # tilted (x1, x2)
        if g_c == "relu":
            edg = np.where(s22 > 0, 0.5, 0.0)
        else:
            edg = _expect_dg(g_c, St[:, 1, 1])
        out = pref * St[:, 0, 1] * edg
    else:  # relu derivative: defined as 0 for a zero-variance x0
        live = s00 > 0
        if g_c == "erf":
            out = s12 / np.sqrt(_TWO_PI * (1.0 + s22))
        elif g_c == "linear":
            out = 0.5 * s12
        else:
            th = _angle2(s00, s22, s02)
            ratio = np.sqrt(np.maximum(s22, 0.0) / np.where(live, s00, 1.0))
            out = (s01 * ratio * np.sin(th) + s12 * (_PI - th)) / _TWO_PI
        out = np.where(live, out, 0.0)
    return _propagate_nan(np.asarray(out, dtype=float), V).reshape(batch)


def I4(S: object, g_ab: str, g_c: str, g_d: str) -> np.ndarray:
    """E[g_ab'(x0) g_ab'(x1) g_c(x2) g_d(x3)] for x ~ N(0, S).

    Parameters
    ----------
    S : array_like, shape (..., 4, 4)
        Covariance matrices (symmetric PSD, possibly singular: positions may repeat a field,
        e.g. I4(a, a, c, c)). Positions 0, 1 are differentiated (student) fields.
    g_ab : {"erf", "linear", "relu"}
        Activation differentiated at x0 and x1.
    g_c, g_d : {"erf", "linear", "relu"}
        Activations applied to x2 and x3.

    Returns
    -------
    ndarray, shape S.shape[:-2]
        * linear g_ab: I2(S[2:, 2:]; g_c, g_d), closed form.
        * erf g_ab: Gaussian tilt, (2/π) det(𝟙 + S_{01})^(−1/2) · I2(S̃; g_c, g_d), closed form for
          every (g_c, g_d); pure erf equals the Λ formula of ``docs/ode_theory.md`` §1.3.
        * relu g_ab: expansion into orthant moments by Stein's lemma (module docstring D5–D6);
          closed form except for (g_c, g_d) ∈ {(relu, relu), (erf, erf)}, which need one
          four-variate orthant probability, evaluated by the fixed-node Plackett quadrature (D7)
          to absolute error ≤ 1e-9 (smooth in S; see the module docstring for the intrinsic
          conditioning at nearly collinear fields).

    Raises
    ------
    ValueError
        If an activation name is unknown or ``S`` is not (..., 4, 4).
    """
    _check_activation(g_ab, "g_ab", "I4")
    _check_activation(g_c, "g_c", "I4")
    _check_activation(g_d, "g_d", "I4")
    V, batch = _as_cov(S, 4, "I4")
    if g_ab == "linear":
        out = _i2(V[:, 2, 2], V[:, 3, 3], V[:, 2, 3], g_c, g_d)
    elif g_ab == "erf":
        pref, St = _tilt(V, 2)
        out = pref * _i2(St[:, 0, 0], St[:, 1, 1], St[:, 0, 1], g_c, g_d)
    else:
        out = _i4_relu(V, g_c, g_d)
    return _propagate_nan(np.asarray(out, dtype=float), V).reshape(batch)
