r"""Exact, batched sampling of determinantal point processes (DPPs and k-DPPs).

A symmetric positive semi-definite (PSD) likelihood kernel :math:`L` (n × n) over the items
{0, …, n−1} defines

* the **L-ensemble DPP**: :math:`P(S) = \det(L_S) / \det(I + L)` for every subset S;
* the **k-DPP**: :math:`P(S) = \det(L_S) / e_k(\lambda)` for :math:`|S| = k`, where
  :math:`e_k(\lambda) = \sum_{|J| = k} \prod_{n \in J} \lambda_n` is the k-th elementary
  symmetric polynomial (ESP) of the eigenvalues of L (the normaliser is :math:`e_k`, because
  :math:`\sum_{|S|=k} \det L_S = e_k(\lambda)`).

The pruning theory uses them to choose which hidden units (nodes) survive; :func:`sample_k_dpp`,
:func:`sample_dpp`, the cached :class:`KDPP` and the exact marginals :func:`inclusion_probabilities`
and :func:`log_normaliser` are the public interface.

Algorithm (the spectral sampler of Kulesza & Taskar 2012)
---------------------------------------------------------
1. **Eigendecomposition** :math:`L = \sum_n \lambda_n v_n v_n^T` (``eigh``, batched over a stack
   of kernels, once per kernel and cached by :class:`KDPP`). Eigenvalues
   :math:`\lambda_n \le \mathrm{tol} = n\,\varepsilon\,\lambda_{\max}` are round-off and count as
   exact zeros; their number fixes the kernel's *numerical rank*. A k-DPP with k above it has no
   subset of positive probability and is refused with a ``ValueError``.
2. **ESP table in log space.** With :math:`\mu_n = \lambda_n / \lambda_{\max}` the table
   :math:`E_{m,l} = \log e_l(\mu_1, \dots, \mu_m)` follows from
   :math:`e_l^{(m)} = e_l^{(m-1)} + \mu_m e_{l-1}^{(m-1)}`, i.e.
   ``E[m, l] = logaddexp(E[m-1, l], log μ_m + E[m-1, l-1])`` with ``E[m, 0] = 0`` and
   ``log 0 = -inf`` (``logaddexp`` handles ``-inf`` exactly, so no NaN ever appears).
3. **Phase 1: choose k eigenvectors.** A k-DPP is the mixture of projection DPPs over index sets
   J, |J| = k, with :math:`P(J) \propto \prod_{n \in J} \lambda_n`. J is drawn backwards,
   m = n, …, 1 with r eigenvectors still to pick: m is *excluded* with probability
   :math:`e_r^{(m-1)} / e_r^{(m)} = \exp(E_{m-1,r} - E_{m,r})` (a difference of logs, so
   a ratio that is always in [0, 1]). For the ordinary DPP the eigenvectors are kept independently
   with probability :math:`\lambda_n / (1 + \lambda_n)`.
4. **Phase 2: sample the projection DPP** :math:`K = V V^T` (V: the chosen eigenvectors, n × k)
   by the chain rule. The first item is drawn with probability :math:`\|V_i\|^2 / k`; each later
   item with probability proportional to the squared residual norm :math:`d_i` of row
   :math:`V_i` after projecting out the rows already drawn. The residuals are updated by
   Gram–Schmidt in the k-dimensional column space (equivalently, an incremental Cholesky
   factorisation of :math:`K_S`): after drawing j at step t, the residual of row j,
   :math:`r = V_j - \sum_{s<t} c_{s,j} q_s`, gives the unit vector :math:`q_t = r/\|r\|`, the
   coefficients :math:`c_t = V q_t` and :math:`d \leftarrow d - c_t^2`. That is one n × k
   product per step, O(nk² + k³) per draw, and only the t coefficients of item j are read
   back. Negative residuals (round-off) are clipped to 0 and the probabilities are renormalised
   by their actual sum, never by k − t, so the "probabilities do not sum to 1" failure cannot
   occur; an item already drawn has residual exactly 0 and is never drawn twice (should every
   residual vanish numerically, the next item is drawn uniformly among those not yet drawn).

Phases 1 and 2 are vectorised over the batch of kernels *and* the ``size`` draws per kernel: only
O(n + k) sequential steps are taken, each an array operation over all draws. Everything is
float64.

Why log space
-------------
DPPy 0.3.3 evaluates the ESP table in linear float64. :math:`e_k(\lambda)` overflows for large
kernels with large eigenvalues (the unnormalised hidden-unit Gram :math:`W W^T` with K = d = 500
has :math:`\log_{10} e_{250} \approx 790`) and underflows for ill-conditioned ones (a geometric
spectrum 1e-12…1e4 with n = 300, k = 200). The ratio in phase 1 then becomes inf/inf or 0/0 = NaN,
too few eigenvectors are chosen and DPPy raises "probabilities do not sum to 1" -- or, worse,
silently returns biased samples (n = 2000, k = 1000). Rescaling L (a k-DPP is invariant under
L → cL) rescues some of these kernels, but no single scale rescues all of them. In log space every
entry of the table is finite or exactly ``-inf`` for all kernels, and normalising by
:math:`\lambda_{\max}` makes the k-DPP sampler invariant under :math:`L \to cL` up to round-off
(as the k-DPP itself is): the same seed gives the same samples for L and cL.

Backends and random numbers
---------------------------
The default backend is NumPy. ``backend="torch"`` (or a
:class:`statmech.simulation.backend.Backend`) runs the eigendecomposition and phase 2 through the
backend's array namespace (batched ``eigh`` and ``matmul`` on its device, e.g. a GPU); the ESP
tables and phase 1 (O(nk) scalars per kernel) stay on the host in NumPy. The random numbers always
come from one ``numpy.random.Generator`` built from ``seed``, so a given seed gives the same samples
on every backend, except where round-off differences between the backends' eigendecompositions move
a uniform across a threshold (rare). torch is imported only through
:mod:`statmech.simulation.backend`, and only when asked for.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._resources import check_memory
from .._validation import InvalidParameterError, Seed, _fmt, check, check_positive_int
from ..simulation.backend import Backend, get_backend

__all__ = ["KDPP", "inclusion_probabilities", "log_normaliser", "sample_dpp", "sample_k_dpp"]

#: Relative tolerance for the symmetry of L: max|L - Lᵀ| <= SYMMETRY_RTOL · max|L| (L is then
#: replaced by its symmetric part).
SYMMETRY_RTOL = 1e-8
#: Relative tolerance for positive semi-definiteness: the smallest eigenvalue of L must be
#: >= -PSD_RTOL · (largest eigenvalue). Eigenvalues in [-PSD_RTOL λ_max, n ε λ_max] are round-off
#: and count as exact zeros.
PSD_RTOL = 1e-8
_EPS = float(np.finfo(np.float64).eps)
# float64 elements of one (draws, k, n) work array in phase 2: 2 MiB keeps a chunk of draws in
# cache (measured: 2-3x faster than one chunk of all draws for 100 × n=200 and 10 × n=2000)
_WORK_BUDGET = 2**18
_GPU_WORK_BUDGET = 2**26  # the same on a GPU (512 MiB): few, large steps
_CHECK_BUDGET = 2**18  # float64 elements per chunk of kernels in the symmetry check


# --------------------------------------------------------------------------------------------
# parameter checks
# --------------------------------------------------------------------------------------------
def _bad(param: str, func: str, message: str) -> InvalidParameterError:
    """An InvalidParameterError with a free-form message naming ``param`` of ``func``."""
    return InvalidParameterError(message, func=func, param=param)


def _as_kernels(L: Any, func: str) -> tuple[np.ndarray, bool]:
    """L as a float64 stack (B, n, n), exactly symmetric, and whether a stack was given."""
    msg = (f"The 'L' parameter of {func} must be a finite, symmetric, positive semi-definite "
           "matrix of shape (n, n) or a stack of them of shape (B, n, n), n >= 1")
    if type(L).__module__.split(".")[0] == "torch":  # a torch tensor, possibly on a GPU
        L = L.detach().cpu().numpy()
    if isinstance(L, str | bytes) or L is None:
        raise _bad("L", func, f"{msg}. Got {_fmt(L)} instead.")
    try:
        raw = np.asarray(L)
        if np.iscomplexobj(raw):
            raise TypeError
        a = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise _bad("L", func, f"{msg}. Got {_fmt(L)} instead.") from None
    if a.ndim not in (2, 3) or a.shape[-1] != a.shape[-2] or a.shape[-1] == 0 or a.size == 0:
        raise _bad("L", func, f"{msg}. Got an array of shape {a.shape} instead.")
    batched = a.ndim == 3
    a = a if batched else a[None]
    B = a.shape[0]
    scale, asym = np.empty(B), np.empty(B)
    step = max(1, _CHECK_BUDGET // a[0].size)
    for lo in range(0, B, step):  # chunks of kernels: the temporaries stay in cache
        c = a[lo:lo + step]
        scale[lo:lo + step] = np.maximum(np.max(c, axis=(1, 2)), -np.min(c, axis=(1, 2)))
        # L - Lᵀ is antisymmetric, so its max is max |L - Lᵀ| (NaN propagates)
        with np.errstate(invalid="ignore"):  # inf - inf: reported just below
            asym[lo:lo + step] = np.max(c - np.swapaxes(c, 1, 2), axis=(1, 2))
    if not np.all(np.isfinite(scale)):
        b = int(np.argmin(np.isfinite(scale)))
        where = f" (kernel {b} of the stack)" if batched else ""
        raise _bad("L", func, f"{msg}. It contains NaN or infinite entries{where}.")
    bad = asym > SYMMETRY_RTOL * scale
    if np.any(bad):
        b = int(np.argmax(bad))
        where = f" Kernel {b} of the stack" if batched else " It"
        raise _bad("L", func,
            f"{msg} (relative symmetry tolerance {SYMMETRY_RTOL:g}).{where} has "
            f"max |L - Lᵀ| = {asym[b]:.3g} with max |L| = {scale[b]:.3g}."
        )
    if np.any(asym > 0):  # the symmetric part (only where L was not exactly symmetric)
        a = 0.5 * (a + np.swapaxes(a, 1, 2))
    return a, batched


def _shape(L: Any) -> tuple:
    """np.shape(L), or () for inputs without one (strings, ragged lists: refused later)."""
    if isinstance(L, str | bytes):
        return ()
    try:
        return tuple(np.shape(L))
    except (TypeError, ValueError):
        return ()


def _check_k(k: Any, n: int, func: str, *, allow_none: bool = False) -> int | None:
    if k is None and allow_none:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        extra = " or None (the ordinary DPP)" if allow_none else ""
        raise _bad("k", func,
            f"The 'k' parameter of {func} must be an int with 0 <= k <= n = {n} (the number of "
            f"items){extra}. Got {_fmt(k)} instead."
        )
    return int(k)


def _as_generator(seed: Any, func: str) -> np.random.Generator:
    """``seed`` (checked by the shared :class:`~statmech._validation.Seed` constraint) as a
    Generator; a Generator is used as it is."""
    check(seed, "seed", func, [Seed()])
    return np.random.default_rng(seed)


def _resolve_backend(backend: Any, func: str) -> Backend:
    if backend is None:
        return get_backend("numpy")
    if isinstance(backend, Backend):
        be = backend
    elif isinstance(backend, str):
        be = get_backend(backend)
    else:
        raise _bad("backend", func,
            f"The 'backend' parameter of {func} must be None, 'numpy', 'torch', 'cupy' or a "
            f"statmech.simulation.backend.Backend. Got {_fmt(backend)} instead."
        )
    if be.name not in ("numpy", "torch", "cupy"):
        raise _bad("backend", func,
            f"The 'backend' parameter of {func} must be 'numpy', 'torch' or 'cupy'. "
            f"Got {be.name!r} instead."
        )
    return be


# --------------------------------------------------------------------------------------------
# log-space elementary symmetric polynomials
# --------------------------------------------------------------------------------------------
def _log_esp_table(logmu: np.ndarray, k: int) -> np.ndarray:
    """``E[m, b, l] = log e_l(μ_1..μ_m)`` of kernel b, for 0 <= m <= n, 0 <= l <= k.

    ``logmu`` (B, n) holds log μ (``-inf`` for zero eigenvalues). Entries with l > m, or with l
    above the number of nonzero μ among the first m, are exactly ``-inf``. Layout (n+1, B, k+1):
    each step of the recursion works on one contiguous (B, k+1) block.
    """
    B, n = logmu.shape
    E = np.full((n + 1, B, k + 1), -np.inf)
    E[:, :, 0] = 0.0
    lm = np.ascontiguousarray(logmu.T)[:, :, None]  # (n, B, 1)
    tmp = np.empty((B, k))
    for m in range(1, n + 1):
        top = min(m, k)  # e_l^{(m)} = 0 for l > m
        if top == 0:
            continue
        prev = E[m - 1]
        t = tmp[:, :top]
        np.add(lm[m - 1], prev[:, :top], out=t)
        np.logaddexp(prev[:, 1:top + 1], t, out=E[m, :, 1:top + 1])
    return E


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(x) along ``axis``; ``-inf`` (no NaN, no warning) where every term is ``-inf``."""
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


# --------------------------------------------------------------------------------------------
# phase 1: choice of the eigenvectors
# --------------------------------------------------------------------------------------------
_BLOCK = 64  # steps of phase 1 per block of uniforms
_SCALAR_DRAWS = 4  # at most this many draws: phase 1 in plain Python (no array overhead)


def _select_eigenvectors(flat: np.ndarray, step: int, pos: np.ndarray, k: int, n: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Phase 1 of the k-DPP: a mask (M, n) with k eigenvectors per draw, P(J) ∝ Π_J λ.

    ``flat`` is the flattened log ESP table, ``step`` the distance between E[m, b, r] and
    E[m-1, b, r], ``pos[r]`` the position of E[n, b, k] for draw r. Going down from m = n with
    ``rem`` eigenvectors still to choose, m is *excluded* with probability
    exp(E[m-1, rem] - E[m, rem]) (1 when rem = 0, 0 when e_rem^(m-1) = 0). The uniforms come in
    blocks of shape (_BLOCK, M), drawn as the steps reach them, so the vectorised and the scalar
    paths use the same numbers and give the same result.
    """
    M = pos.shape[0]
    blocks: list[np.ndarray] = []

    def uniforms(i: int) -> np.ndarray:
        while len(blocks) <= i // _BLOCK:
            blocks.append(rng.random((_BLOCK, M)))
        return blocks[i // _BLOCK][i % _BLOCK]

    sel = np.zeros((M, n), dtype=bool)
    if M <= _SCALAR_DRAWS:
        for r in range(M):
            p, rem = int(pos[r]), k
            for i in range(n):
                if rem == 0:
                    break
                if uniforms(i)[r] >= math.exp(flat[p - step] - flat[p]):
                    sel[r, n - 1 - i] = True
                    rem -= 1
                    p -= 1
                p -= step
            if rem:  # cannot happen: the log-space recursion is exact about zeros
                raise RuntimeError("internal error in the k-DPP eigenvector selection")
        return sel
    pos = pos.copy()
    rem = np.full(M, k, dtype=np.int64)
    for i in range(n):
        take = uniforms(i) >= np.exp(flat[pos - step] - flat[pos])
        sel[:, n - 1 - i] = take
        rem -= take
        pos -= step + take
        if not rem.any():
            break
    if rem.any():  # cannot happen: the log-space recursion is exact about zeros
        raise RuntimeError("internal error in the k-DPP eigenvector selection")
    return sel


# --------------------------------------------------------------------------------------------
# phase 2: the projection-DPP chain rule (backend-generic)
# --------------------------------------------------------------------------------------------
def _projection_chain(Vt: Any, u: Any, active: np.ndarray | None, xp: Any) -> Any:
    """Chain-rule sampling of projection DPPs, batched over rows.

    Step t draws item j with probability ∝ d_j (the squared residual norms, clipped at 0 and
    renormalised by their sum), then Gram–Schmidt in the k-dimensional column space: the
    residual of row V_j, ``r = V_j - Σ_{s<t} c_s[j] q_s``, gives the unit vector ``q_t`` and
    ``c_t = V q_t`` (the t-th column of the Cholesky factor of K restricted to the drawn
    items), and ``d ← d - c_t²``. Per step that is one (n × k) product and a (t × k) one:
    O(nk² + k³) per draw, and only the t coefficients of item j are read back.

    Parameters
    ----------
    Vt : array (M, k, n)
        Row r holds the k chosen (orthonormal) eigenvectors of draw r as rows; draws with fewer
        eigenvectors are padded with zero rows.
    u : array (M, k)
        Uniforms in [0, 1), one per step.
    active : ndarray of int (k,), optional
        ``active[t]`` = number of leading draws that take a step t (draws sorted by decreasing
        cardinality). None: all M draws take all k steps.

    Returns
    -------
    array of int64 (M, k)
        Item t of draw r in column t (unspecified beyond the draw's cardinality).
    """
    M, k, n = Vt.shape
    if xp is np:  # plain NumPy calls (also NumPy < 2.1: no device=, cumulative_sum, clip(min=))
        kw: dict = {}
        arange = np.arange

        def cumsum(a: Any) -> Any:
            return np.cumsum(a, axis=1)

        def clip0(a: Any) -> Any:
            return np.maximum(a, 0.0)
    else:
        kw = {"device": Vt.device}

        def arange(m: int) -> Any:
            return xp.arange(m, **kw)

        def cumsum(a: Any) -> Any:
            return xp.cumulative_sum(a, axis=1)

        def clip0(a: Any) -> Any:
            return xp.clip(a, min=0.0)
    out = xp.zeros((M, k), dtype=xp.int64, **kw)
    if k == 0 or M == 0:
        return out
    d = xp.sum(Vt * Vt, axis=1)  # squared residual norms of the rows V_i
    C = xp.empty((M, k - 1, n), dtype=Vt.dtype, **kw)  # c_t = V q_t
    Q = xp.empty((M, k - 1, k), dtype=Vt.dtype, **kw)  # orthonormal q_t
    for t in range(k):
        Ma = M if active is None else int(active[t])
        if Ma == 0:
            break
        w = clip0(d[:Ma])
        cdf = cumsum(w)
        tot = cdf[:, -1]
        bad = tot <= 0.0
        if bool(xp.any(bad)):  # every residual is round-off: draw uniformly among the rest
            avail = xp.ones((Ma, n), dtype=Vt.dtype, **kw)
            if t > 0:
                avail[arange(Ma)[:, None], out[:Ma, :t]] = 0.0
            w = xp.where(bad[:, None], avail, w)
            cdf = cumsum(w)
            tot = cdf[:, -1]
        # x < tot strictly, and the first index with cdf > x has positive weight
        x = xp.minimum(u[:Ma, t] * tot, xp.nextafter(tot, xp.zeros_like(tot)))
        j = xp.count_nonzero(cdf <= x[:, None], axis=1)
        j = xp.where(j < n, j, xp.full_like(j, n - 1))
        out[:Ma, t] = j
        if t == k - 1:
            break
        ar = arange(Ma)
        r = Vt[ar, :, j]
        if t > 0:
            r = r - xp.matmul(C[ar, :t, j][:, None, :], Q[:Ma, :t, :])[:, 0, :]
        norm = xp.sqrt(xp.sum(r * r, axis=1))
        q = r / xp.where(norm > 0.0, norm, xp.full_like(norm, math.inf))[:, None]
        Q[:Ma, t, :] = q
        c = xp.matmul(q[:, None, :], Vt[:Ma])[:, 0, :]
        C[:Ma, t, :] = c
        d[:Ma] = d[:Ma] - c * c
        d[ar, j] = 0.0  # exactly: j is never drawn again
    return out


# --------------------------------------------------------------------------------------------
# the cached sampler
# --------------------------------------------------------------------------------------------
class KDPP:
    r"""Exact (k-)DPP sampler for one kernel or a stack of kernels, with cached spectra.

    The eigendecomposition of every kernel is computed once, in the constructor; the log-space
    ESP tables (for the largest k asked for so far) are computed on first use and kept. Repeated
    :meth:`sample`, :meth:`sample_dpp`, :meth:`inclusion_probabilities` and
    :meth:`log_normaliser` calls on the same kernels therefore only pay for the sampling itself.
    See the module docstring for the algorithm.

    Parameters
    ----------
    L : array_like, shape (n, n) or (B, n, n)
        Symmetric PSD likelihood kernel(s) (NumPy array, nested lists or a torch tensor).
        Asymmetry up to ``SYMMETRY_RTOL`` (relative) is removed by symmetrisation; eigenvalues
        down to ``-PSD_RTOL · λ_max`` are accepted as round-off.
    backend : {None, "numpy", "torch", "cupy"} or Backend, optional
        Where the eigendecomposition and the projection phase run (default NumPy).

    Attributes
    ----------
    n : int
        Number of items.
    batched : bool
        Whether a stack of kernels was given (results then have a leading axis B).
    eigenvalues : ndarray, shape (n,) or (B, n)
        Eigenvalues in ascending order, with those ``<= tol`` set to exactly 0.
    tol : float or ndarray (B,)
        ``n · eps · λ_max``: eigenvalues at or below it count as zeros.
    rank : int or ndarray of int (B,)
        Numerical rank: the number of eigenvalues above ``tol``.

    Raises
    ------
    ValueError
        If L is not a finite, square, symmetric, PSD matrix (or stack of them).

    Notes
    -----
    Memory: the eigenvectors (B n² floats, like L) and the ESP tables, B (n+1)(k+1) floats.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((6, 6))
    >>> dpp = KDPP(X @ X.T / 6)
    >>> dpp.sample(3, size=4, seed=1).shape
    (4, 3)
    >>> bool(np.isclose(dpp.inclusion_probabilities(3).sum(), 3.0))
    True
    """

    def __init__(self, L: Any, *, backend: Any = None) -> None:
        self._setup(L, backend, "KDPP")

    @classmethod
    def _build(cls, L: Any, backend: Any, func: str) -> KDPP:
        self = cls.__new__(cls)
        self._setup(L, backend, func)
        return self

    def _setup(self, L: Any, backend: Any, func: str) -> None:
        be = _resolve_backend(backend, func)
        shape = _shape(L)
        if len(shape) in (2, 3) and all(isinstance(d, int) for d in shape):
            # float64 copy of L, its symmetric part, the eigenvectors and eigh's workspace
            nb = shape[0] if len(shape) == 3 else 1
            est = 4 * 8 * nb * shape[-1] * shape[-2]
            sizes = {"L": f"shape {shape}"}
            check_memory(est, func, sizes, what="the eigendecomposition of L",
                         hint="Use fewer or smaller kernels per call.")
            if be.is_gpu:
                check_memory(3 * 8 * nb * shape[-1] ** 2, func, sizes, backend=be,
                             what="the eigendecomposition of L on the GPU")
        a, batched = _as_kernels(L, func)
        B, n, _ = a.shape
        if be.name == "numpy":
            w, U = np.linalg.eigh(a)
        else:
            w_dev, U = be.xp.linalg.eigh(be.asarray(a))
            w = be.to_numpy(w_dev)
        lam_max = w[:, -1]
        bad = w[:, 0] < -PSD_RTOL * np.maximum(lam_max, 0.0)
        if np.any(bad):
            b = int(np.argmax(bad))
            where = f" Kernel {b} of the stack" if batched else " It"
            raise _bad("L", func,
                f"The 'L' parameter of {func} must be a finite, symmetric, positive "
                f"semi-definite matrix (relative tolerance {PSD_RTOL:g} on negative "
                f"eigenvalues).{where} has smallest eigenvalue {w[b, 0]:.6g} and largest "
                f"{lam_max[b]:.6g}."
            )
        tol = n * _EPS * np.maximum(lam_max, 0.0)
        nonzero = w > tol[:, None]
        scale = np.where(lam_max > 0.0, lam_max, 1.0)
        with np.errstate(divide="ignore"):
            self._logmu = np.where(nonzero, np.log(np.where(nonzero, w, 1.0) / scale[:, None]),
                                   -np.inf)
        self._lam = np.where(nonzero, w, 0.0)
        self._logscale = np.log(scale)
        self._tol = tol
        self._rank = nonzero.sum(axis=1)
        self._be = be
        self._U = U  # eigenvectors as columns, on the backend's device
        self._B, self._n, self._batched = B, n, batched
        self._prefix: np.ndarray | None = None  # log ESP table of prefixes
        self._suffix: np.ndarray | None = None  # log ESP table of suffixes (marginals)
        self._func = func

    def __repr__(self) -> str:
        rank = (f"{int(self._rank[0])}" if not self._batched else
                f"{int(self._rank.min())}..{int(self._rank.max())}")
        return (f"KDPP(n={self._n}, kernels={self._B if self._batched else 1}, rank={rank}, "
                f"backend={self._be.name!r})")

    # -- properties ------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of items."""
        return self._n

    @property
    def batched(self) -> bool:
        """Whether a stack of kernels was given."""
        return self._batched

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues, ascending, with those <= ``tol`` set to 0: (n,) or (B, n)."""
        return self._lam.copy() if self._batched else self._lam[0].copy()

    @property
    def tol(self) -> float | np.ndarray:
        """Zero threshold n·eps·λ_max of each kernel."""
        return self._tol.copy() if self._batched else float(self._tol[0])

    @property
    def rank(self) -> int | np.ndarray:
        """Numerical rank of each kernel: the number of eigenvalues above ``tol``."""
        return self._rank.copy() if self._batched else int(self._rank[0])

    def _unbatch(self, x: np.ndarray) -> Any:
        return x if self._batched else x[0]

    # -- ESP tables ------------------------------------------------------------------------
    def _prefix_table(self, k: int) -> np.ndarray:
        # local variable and grow-only assignment: a KDPP shared by threads never hands one
        # thread a smaller table that another thread stored in between
        table = self._prefix
        if table is None or table.shape[2] <= k:
            table = _log_esp_table(self._logmu, k)
            cur = self._prefix
            if cur is None or cur.shape[2] < table.shape[2]:
                self._prefix = table
        return table

    def _suffix_table(self, k: int) -> np.ndarray:
        """``R[j, b, l] = log e_l`` of the *last* j normalised eigenvalues of kernel b."""
        table = self._suffix
        if table is None or table.shape[2] <= k:
            table = _log_esp_table(np.ascontiguousarray(self._logmu[:, ::-1]), k)
            cur = self._suffix
            if cur is None or cur.shape[2] < table.shape[2]:
                self._suffix = table
        return table

    def _check_rank(self, k: int, func: str) -> None:
        bad = self._rank < k
        if np.any(bad):
            b = int(np.argmax(bad))
            which = f"kernel {b} of the stack has" if self._batched else "the kernel has"
            raise _bad("k", func,
                f"The 'k' parameter of {func} is {k}, but {which} numerical rank "
                f"{int(self._rank[b])} (eigenvalues <= n·eps·λ_max = {self._tol[b]:.3g} count "
                f"as zero), so det(L_S) = 0 for every S with |S| = {k}. Use k <= "
                f"{int(self._rank[b])}, or add jitter to the diagonal (L + δ·I with δ of order "
                "1e-10 · λ_max or more) if the rank deficiency is not meant."
            )

    # -- sampling --------------------------------------------------------------------------
    def sample(self, k: int, size: int = 1, seed: Any = None) -> np.ndarray:
        r"""Draw ``size`` sets of exactly k items per kernel, :math:`P(S) \propto \det L_S`.

        Parameters
        ----------
        k : int
            Cardinality, 0 <= k <= numerical rank of every kernel.
        size : int, default 1
            Number of independent draws per kernel (they share the cached spectrum).
        seed : None, int, SeedSequence or Generator
            Random stream (NumPy); the same seed gives the same samples.

        Returns
        -------
        ndarray of int64, shape (size, k) or (B, size, k)
            Item indices, each row sorted ascending, k distinct items per row.

        Examples
        --------
        >>> KDPP(np.diag([1.0, 2.0, 3.0, 4.0])).sample(2, size=3, seed=0).shape
        (3, 2)
        """
        func = "KDPP.sample" if self._func == "KDPP" else self._func
        k = _check_k(k, self._n, func)
        size = check_positive_int(size, "size", func)
        rng = _as_generator(seed, func)
        self._check_rank(k, func)
        n, nb = self._n, self._B
        check_memory(8 * nb * (size * (3 * k + 2) + (n + 1) * (k + 1)), func,
                     {"size": size, "k": k, "L": f"{nb} kernel(s) of {n} items"},
                     what="the draws and the ESP table", hint="Draw fewer sets per call.")
        return self._unbatch(self._sample_k(k, size, rng))

    def _sample_k(self, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
        B, n = self._B, self._n
        M = B * size
        if k == 0:
            return np.zeros((B, size, 0), dtype=np.int64)
        E = self._prefix_table(k)
        K1 = E.shape[2]
        # position of E[m, b, k] in the flat table for m = n, per draw
        pos = np.repeat(np.arange(B, dtype=np.int64) * K1, size) + (n * B * K1 + k)
        sel = _select_eigenvectors(E.reshape(-1), B * K1, pos, k, n, rng)
        J = np.nonzero(sel)[1].reshape(M, k)  # ascending eigen-indices, k per draw
        u = rng.random((M, k))
        out = self._phase2(J, u, None)
        out.sort(axis=1)
        return out.reshape(B, size, k)

    def _phase2(self, J: np.ndarray, u: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
        """Items of every draw (M, kmax); draw r = kernel r // size, eigenvectors J[r]."""
        be, xp = self._be, self._be.xp
        M, kmax = J.shape
        size = M // self._B
        n = self._n
        out = np.zeros((M, kmax), dtype=np.int64)
        if kmax == 0:
            return out
        kid = np.repeat(np.arange(self._B, dtype=np.int64), size)
        order = None
        if counts is not None:  # sort draws by decreasing cardinality; active draws = a prefix
            order = np.argsort(-counts, kind="stable")
            J, u, kid, counts = J[order], u[order], kid[order], counts[order]
        budget = _GPU_WORK_BUDGET if be.is_gpu else _WORK_BUDGET
        rows = max(1, budget // (kmax * n))
        for lo in range(0, M, rows):
            hi = min(M, lo + rows)
            active = None
            if counts is not None:
                c = counts[lo:hi]
                active = np.count_nonzero(c[None, :] > np.arange(kmax)[:, None], axis=1)
            if be.name == "numpy":
                Vt = self._U[kid[lo:hi, None], :, J[lo:hi]]  # (rows, kmax, n): V_J transposed
                if counts is not None:
                    Vt *= (np.arange(kmax)[None, :] < c[:, None])[:, :, None]
                res = _projection_chain(Vt, u[lo:hi], active, np)
            else:
                kid_d = be.asarray(kid[lo:hi], dtype="int64")
                J_d = be.asarray(J[lo:hi], dtype="int64")
                Vt = self._U[kid_d[:, None], :, J_d]
                if counts is not None:
                    mask = be.asarray(np.arange(kmax)[None, :] < c[:, None])
                    Vt = Vt * mask[:, :, None]
                res = be.to_numpy(_projection_chain(Vt, be.asarray(u[lo:hi]), active, xp))
            out[lo:hi] = res
        if order is not None:
            inv = np.empty_like(order)
            inv[order] = np.arange(M)
            out = out[inv]
        return out

    def sample_dpp(self, size: int = 1, seed: Any = None) -> list:
        r"""Draw ``size`` sets per kernel from the L-ensemble DPP, :math:`P(S) \propto \det L_S`.

        Eigenvector n is kept independently with probability :math:`\lambda_n/(1+\lambda_n)`,
        then the projection DPP of the kept eigenvectors is sampled (module docstring).

        Parameters
        ----------
        size : int, default 1
            Number of draws per kernel.
        seed : None, int, SeedSequence or Generator

        Returns
        -------
        list
            For one kernel a list of ``size`` int64 arrays (sorted, variable length); for a stack
            a list over kernels of such lists.

        Examples
        --------
        >>> draws = KDPP(np.eye(4)).sample_dpp(size=2, seed=0)
        >>> len(draws), draws[0].dtype
        (2, dtype('int64'))
        """
        func = "KDPP.sample_dpp" if self._func == "KDPP" else self._func
        size = check_positive_int(size, "size", func)
        rng = _as_generator(seed, func)
        B, n = self._B, self._n
        check_memory(17 * B * size * n, func, {"size": size, "L": f"{B} kernel(s) of {n} items"},
                     what="the eigenvector selections (B·size·n uniforms and indices)",
                     hint="Draw fewer sets per call.")
        M = B * size
        p = self._lam / (1.0 + self._lam)  # λ/(1+λ), exactly 0 for numerical zeros
        sel = rng.random((B, size, n)) < p[:, None, :]
        sel = sel.reshape(M, n)
        counts = sel.sum(axis=1)
        kmax = int(counts.max())
        # kept eigenvectors first (ascending), then padding
        J = np.argsort(~sel, axis=1, kind="stable")[:, :kmax]
        u = rng.random((M, kmax))
        out = self._phase2(J, u, counts)
        res = [np.sort(out[r, :counts[r]]) for r in range(M)]
        per_kernel = [res[b * size:(b + 1) * size] for b in range(B)]
        return per_kernel if self._batched else per_kernel[0]

    # -- exact quantities ------------------------------------------------------------------
    def log_normaliser(self, k: int | None) -> float | np.ndarray:
        r"""log of the normaliser: :math:`\log e_k(\lambda)`, or :math:`\log\det(I+L)` for None.

        Eigenvalues at or below ``tol`` count as zeros, so the result is ``-inf`` for k above
        the numerical rank. Computed in log space: finite far beyond float64's range.

        Examples
        --------
        >>> float(KDPP(np.diag([1.0, 2.0, 3.0])).log_normaliser(2))  # log(2 + 3 + 6)
        2.3978952727983707
        """
        func = "KDPP.log_normaliser" if self._func == "KDPP" else self._func
        k = _check_k(k, self._n, func, allow_none=True)
        if k is None:
            out = np.sum(np.log1p(self._lam), axis=1)
        elif k == 0:
            out = np.zeros(self._B)
        else:
            out = self._prefix_table(k)[self._n, :, k] + k * self._logscale
        return out if self._batched else float(out[0])

    def inclusion_probabilities(self, k: int | None) -> np.ndarray:
        r"""Exact marginals :math:`P(i \in S)` of the k-DPP (or of the DPP for ``k=None``).

        .. math::

            P(i \in S) = \sum_n V_{in}^2\, \pi_n, \qquad
            \pi_n = \frac{\lambda_n\, e_{k-1}(\lambda_{-n})}{e_k(\lambda)}
            \quad\Big(\text{DPP: } \pi_n = \frac{\lambda_n}{1+\lambda_n}\Big),

        where :math:`\pi_n` is the probability that eigenvector n is chosen in phase 1 and
        :math:`\lambda_{-n}` are the other eigenvalues. :math:`e_{k-1}(\lambda_{-n}) =
        \sum_a e_a(\lambda_{<n})\, e_{k-1-a}(\lambda_{>n})` is evaluated from the prefix and
        suffix ESP tables with a log-sum-exp (all terms positive, no cancellation).

        Returns
        -------
        ndarray, shape (n,) or (B, n)
            Sums to k (DPP: the expected cardinality).

        Examples
        --------
        >>> KDPP(np.diag([1.0, 1.0, 2.0])).inclusion_probabilities(1)
        array([0.25, 0.25, 0.5 ])
        """
        func = "KDPP.inclusion_probabilities" if self._func == "KDPP" else self._func
        k = _check_k(k, self._n, func, allow_none=True)
        n = self._n
        if k is None:
            pi = self._lam / (1.0 + self._lam)
        elif k == 0:
            return self._unbatch(np.zeros((self._B, n)))
        else:
            self._check_rank(k, func)
            P = self._prefix_table(k)
            R = self._suffix_table(k - 1)
            # e_a(μ_1..μ_{i}) · e_{k-1-a}(μ_{i+2}..μ_n) for eigenvalue i (0-based), a = 0..k-1
            terms = P[:n, :, :k] + R[n - 1::-1, :, k - 1::-1]  # (n, B, k)
            loo = _logsumexp(terms, axis=2)
            pi = np.exp(self._logmu + loo.T - P[n, :, k][:, None])
        if self._be.name == "numpy":
            probs = np.matmul(self._U * self._U, pi[:, :, None])[:, :, 0]
        else:
            be = self._be
            probs = be.to_numpy(be.xp.matmul(self._U * self._U, be.asarray(pi)[:, :, None]))
            probs = probs[:, :, 0]
        return self._unbatch(np.clip(probs, 0.0, 1.0))


# --------------------------------------------------------------------------------------------
# functional interface
# --------------------------------------------------------------------------------------------
def sample_k_dpp(L: Any, k: int, size: int = 1, seed: Any = None, *,
                 backend: Any = None) -> np.ndarray:
    r"""Exact samples of the k-DPP with kernel L: :math:`P(S) = \det(L_S)/e_k(\lambda)`, |S| = k.

    One eigendecomposition per kernel serves all ``size`` draws; use :class:`KDPP` to reuse it
    across calls. Numerically robust for ill-conditioned kernels and for normalisers far outside
    float64's range (log-space ESPs; see the module docstring).

    Parameters
    ----------
    L : array_like, shape (n, n) or (B, n, n)
        Symmetric PSD kernel, or a stack of B kernels sampled independently.
    k : int
        Number of items per set, 0 <= k <= the numerical rank of every kernel.
    size : int, default 1
        Draws per kernel.
    seed : None, int, SeedSequence or Generator
        Random stream (NumPy); the same seed and kernels give the same samples.
    backend : {None, "numpy", "torch", "cupy"} or Backend, optional
        Array backend of the linear algebra (default NumPy).

    Returns
    -------
    ndarray of int64, shape (size, k) or (B, size, k)
        Item indices; every row holds k distinct items in ascending order.

    Raises
    ------
    ValueError
        For an invalid L (not square, not symmetric, not finite, not PSD), k not an int in
        [0, n] or above a kernel's numerical rank, size < 1, or an invalid seed or backend.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((5, 5))
    >>> sample_k_dpp(X @ X.T, 2, size=3, seed=0).shape
    (3, 2)
    >>> sample_k_dpp(np.stack([np.eye(4), 2 * np.eye(4)]), 3, seed=0).shape
    (2, 1, 3)
    """
    func = "sample_k_dpp"
    size = check_positive_int(size, "size", func)
    rng = _as_generator(seed, func)
    shape = _shape(L)
    if len(shape) in (2, 3) and shape[-1] >= 1:
        _check_k(k, shape[-1], func)  # cheap checks before the eigendecomposition
    dpp = KDPP._build(L, backend, func)
    return dpp.sample(k, size, rng)


def sample_dpp(L: Any, size: int = 1, seed: Any = None, *, backend: Any = None) -> list:
    r"""Exact samples of the L-ensemble DPP: :math:`P(S) = \det(L_S) / \det(I + L)`.

    Parameters
    ----------
    L : array_like, shape (n, n) or (B, n, n)
        Symmetric PSD kernel(s). Unlike the k-DPP, the DPP is not invariant under L → cL.
    size : int, default 1
        Draws per kernel.
    seed : None, int, SeedSequence or Generator
    backend : {None, "numpy", "torch", "cupy"} or Backend, optional

    Returns
    -------
    list
        One kernel: a list of ``size`` sorted int64 arrays of variable length. A stack: a list
        over the B kernels of such lists.

    Examples
    --------
    >>> draws = sample_dpp(np.diag([0.0, 1.0, 1e9]), size=3, seed=0)
    >>> [int(2 in s) for s in draws], [int(0 in s) for s in draws]
    ([1, 1, 1], [0, 0, 0])
    """
    func = "sample_dpp"
    size = check_positive_int(size, "size", func)
    rng = _as_generator(seed, func)
    return KDPP._build(L, backend, func).sample_dpp(size, rng)


def inclusion_probabilities(L: Any, k: int | None, *, backend: Any = None) -> np.ndarray:
    r"""Exact marginals :math:`P(i \in S)` of the k-DPP with kernel L (``k=None``: the DPP).

    .. math::

        P(i \in S) = \frac{1}{e_k(\lambda)} \sum_n V_{in}^2\, \lambda_n\,
        e_{k-1}(\lambda_1, \dots, \lambda_{n-1}, \lambda_{n+1}, \dots)

    computed in log space (see :meth:`KDPP.inclusion_probabilities`). For ``k=None`` it is the
    diagonal of the marginal kernel :math:`K = L (I + L)^{-1}`.

    Returns
    -------
    ndarray, shape (n,) or (B, n)
        Each row sums to k.

    Examples
    --------
    >>> inclusion_probabilities(np.eye(4), 2)
    array([0.5, 0.5, 0.5, 0.5])
    """
    func = "inclusion_probabilities"
    shape = _shape(L)
    if len(shape) in (2, 3) and shape[-1] >= 1:
        _check_k(k, shape[-1], func, allow_none=True)
    return KDPP._build(L, backend, func).inclusion_probabilities(k)


def log_normaliser(L: Any, k: int | None, *, backend: Any = None) -> float | np.ndarray:
    r""":math:`\log e_k(\lambda(L)) = \log \sum_{|S|=k} \det L_S` (``k=None``: log det(I + L)).

    Finite whenever k <= the numerical rank, even where :math:`e_k` itself over- or underflows
    float64; ``-inf`` above the rank.

    Returns
    -------
    float, or ndarray (B,) for a stack of kernels.

    Examples
    --------
    >>> round(log_normaliser(1e3 * np.eye(500), 250), 4)  # log C(500, 250) + 250 log 1000
    2070.1788
    """
    func = "log_normaliser"
    shape = _shape(L)
    if len(shape) in (2, 3) and shape[-1] >= 1:
        _check_k(k, shape[-1], func, allow_none=True)
    return KDPP._build(L, backend, func).log_normaliser(k)
