"""Gaussian-integral tensors over all fields of a teacher-student pair, as the ODEs use them.

With C = [[Q, R], [Rᵀ, T]] of shape (..., D, D), D = K + M, fields 0..K-1 are the student's (with
the student activation g) and K..D-1 the teacher's (teacher activation g̃). The ODEs of
``docs/ode_theory.md`` §1.2 only need the integrals contracted with the signed output weights
u = (−v, v*):

* ``I2u[i]    = Σ_c u_c I2(i, c)``                 (dv/dα)
* ``I3u[i, b] = Σ_c u_c I3(i, b, c)``              (dQ/dα, dR/dα)
* ``I4uu[i,k] = Σ_{c,d} u_c u_d I4(i, k, c, d)``    (η² term of dQ/dα)
* ``J2[i, k]  = E[g'(λ_i) g'(λ_k)]``               (output-noise term)

where in I2(i, c), I3(i, b, c) and I4(i, k, c, d) the function applied to field c (and d) is g for
a student field and g̃ for a teacher field, and x_b enters linearly.

Pure erf uses the closed forms of ``docs/ode_theory.md`` §1.3 written with broadcasting over the
whole covariance (no index gathering; this is the hot path of the ODE). Every other combination
gathers the covariance submatrices of all index tuples and calls
:mod:`statmech.theory.gaussian_integrals`.
"""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np

from . import gaussian_integrals as _ig
from .activations import Activation, _submatrix

__all__ = ["ContractedIntegrals", "contracted_integrals", "pairwise_I2"]

_2_PI = 2.0 / np.pi
_CHUNK_BYTES = 256 * 1024
_TRIANGLE_MIN = 4096  # I4 blocks with at least this many (c, d) entries use the c <= d path
_4_PI2 = 4.0 / np.pi**2


class ContractedIntegrals(NamedTuple):
    """The integral contractions the ODE right-hand side needs (see module docstring)."""

    I2u: np.ndarray  # (..., K)
    I3u: np.ndarray  # (..., K, D)
    I4uu: np.ndarray  # (..., K, K)
    J2: np.ndarray  # (..., K, K)


def _clip1(x: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1] in place (round-off at singular covariances), with raw ufunc calls."""
    np.maximum(x, -1.0, out=x)
    np.minimum(x, 1.0, out=x)
    return x


def _erf_contracted(C: np.ndarray, u: np.ndarray, K: int, need_j2: bool) -> ContractedIntegrals:
    # Written for speed at small K (the ODE hot path is dominated by per-call overhead there):
    # few NumPy calls, matmul instead of einsum, in-place ufuncs.
    d = 1.0 + C.diagonal(0, -2, -1)  # (..., D)
    CK = C[..., :K, :]  # (..., K, D)
    dK = d[..., :K]
    sd = np.sqrt(d)
    uc = u[..., :, None]  # (..., D, 1)
    # I2(i, c) = (2/π) asin(C_ic / sqrt(d_i d_c))
    I2 = CK / (sd[..., :K, None] * sd[..., None, :])
    I2u = _2_PI * (np.arcsin(_clip1(I2)) @ uc)[..., 0]
    # I3(a, b, c) = (2/π) [C_bc d_a − C_ab C_ac] / [d_a sqrt(d_a d_c − C_ac²)]; with
    # w_ac = u_c / (d_a sqrt(Λ3_ac)):
    #   Σ_c u_c I3(a,b,c) = (2/π)[d_a (C w_aᵀ)_b − C_ab Σ_c C_ac w_ac]
    w = u[..., None, :] / (dK[..., :, None] * np.sqrt(dK[..., :, None] * d[..., None, :] - CK * CK))
    Cw = w @ C  # (..., a, b) since C is symmetric
    s = (CK * w).sum(-1)
    I3u = _2_PI * (dK[..., :, None] * Cw - CK * s[..., :, None])
    # I4(a, b, c, d) = (4/π²) Λ4^(-1/2) asin(Λ0 / sqrt(Λ1 Λ2)), symmetric in a <-> b: evaluate
    # pairs a <= b only. With X_c = C_ac, Y_c = C_bc (over all fields c):
    #   Λ1(c) = Λ4 d_c − d_a Y_c² − d_b X_c² + 2 C_ab X_c Y_c
    #   Λ0(c, d) = Λ4 C_cd − [A1_c X_d + A2_c Y_d],  A1 = d_b X − C_ab Y,  A2 = d_a Y − C_ab X,
    # so the (c, d) matrix of Λ0 is a rank-2 update of C for each pair.
    pa, pb = _pairs(K)
    X = CK[..., pa, :]  # (..., P, D)
    Y = CK[..., pb, :]
    da, db = dK[..., pa, None], dK[..., pb, None]
    Cab = C[..., pa, pb][..., None]
    L4 = da * db - Cab * Cab  # (..., P, 1)
    A1 = db * X - Cab * Y
    A2 = da * Y - Cab * X
    r1 = 1.0 / np.sqrt(L4 * d[..., None, :] - A1 * X - A2 * Y)  # Λ1^(-1/2), (..., P, D)
    I4p = _i4_chunked(C, u, L4, A1, X, A2, Y, r1) * (_4_PI2 / np.sqrt(L4[..., 0]))
    I4uu = np.empty(C.shape[:-2] + (K, K))
    I4uu[..., pa, pb] = I4p
    I4uu[..., pb, pa] = I4p
    if need_j2:
        J2 = _2_PI / np.sqrt(dK[..., :, None] * dK[..., None, :] - C[..., :K, :K] ** 2)
    else:
        J2 = np.zeros(C.shape[:-2] + (K, K))
    return ContractedIntegrals(I2u, I3u, I4uu, J2)


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Read-only arrays: the lru_caches below share them between calls and threads, so nobody
    may modify them in place."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=32)
def _upper(D: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat positions of the c <= d entries of a D x D matrix, and their row and column indices."""
    ci, cj = np.triu_indices(D)
    flat, ci, cj = _frozen(ci * D + cj, ci, cj)
    return flat, ci, cj


_LOCAL = threading.local()  # per-thread scratch arrays (threaded executors share the module)


def _scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A reusable work array: large temporaries allocated afresh on every right-hand-side call
    are mmapped and page-faulted in each time (measured: ~2/3 of a batched call's time)."""
    cache = getattr(_LOCAL, "scratch", None)
    if cache is None or len(cache) > 16:
        cache = _LOCAL.scratch = {}
    key = (name, shape)
    buf = cache.get(key)
    if buf is None:
        buf = cache[key] = np.empty(shape)
    return buf


def _i4_block(C, u, L4, A1, X, A2, Y, r1) -> np.ndarray:
    """Σ_cd u_c u_d asin(Λ0 / sqrt(Λ1(c) Λ1(d))) for pair arrays (..., P, D), C (..., D, D).

    The summand is symmetric in (c, d): for large blocks the arcsine (the costliest step) is
    evaluated on c <= d only, off-diagonal terms counted twice (measured: -14 % instructions for
    a batch of 64 at K = M = 4, -16 % at K = M = 16; +7 % at K = M = 2, hence the threshold).
    """
    D = C.shape[-1]
    shape = X.shape + (D,)
    arg, tmp = _scratch("arg", shape), _scratch("tmp", shape)
    np.multiply(L4[..., None], C[..., None, :, :], out=arg)
    np.multiply(A1[..., :, None], X[..., None, :], out=tmp)
    arg -= tmp
    np.multiply(A2[..., :, None], Y[..., None, :], out=tmp)
    arg -= tmp
    arg *= r1[..., :, None]
    arg *= r1[..., None, :]
    if arg.size < _TRIANGLE_MIN:  # small: fewer NumPy calls beat fewer arcsines
        np.arcsin(_clip1(arg), out=arg)
        return ((arg @ u[..., None, :, None])[..., 0] @ u[..., :, None])[..., 0]
    flat, ci, cj = _upper(D)
    tri = _scratch("tri", shape[:-2] + (flat.size,))
    np.take(arg.reshape(shape[:-2] + (D * D,)), flat, axis=-1, out=tri)
    np.arcsin(_clip1(tri), out=tri)
    uu = u[..., ci] * u[..., cj]
    uu[..., ci != cj] *= 2.0
    return (tri @ uu[..., :, None])[..., 0]


def _i4_chunked(C, u, *pair_arrays) -> np.ndarray:
    """:func:`_i4_block`, split over pairs when one member's (c, d) temporaries are large.

    NumPy temporaries above glibc's trim threshold are handed back to the OS after every use and
    page-faulted in again on the next; at K = M = 16 (1.1 MB per temporary) chunks of
    ``_CHUNK_BYTES`` measured 1.3-1.7x faster. Batches of small members are not split (their
    per-chunk call overhead measured slower than the page faults saved).
    """
    P, D = pair_arrays[0].shape[-2], C.shape[-1]
    if 8 * P * D * D <= _CHUNK_BYTES:
        return _i4_block(C, u, *pair_arrays)
    batch = C.shape[:-2]
    nb = int(np.prod(batch, dtype=int))
    Cf, uf = C.reshape(nb, D, D), u.reshape(nb, D)
    flat = [a.reshape((nb,) + a.shape[-2:]) for a in pair_arrays]
    out = np.empty((nb, P))
    step = max(1, _CHUNK_BYTES // (8 * D * D))
    for m in range(nb):
        for j in range(0, P, step):
            sl = slice(j, j + step)
            out[m, sl] = _i4_block(Cf[m], uf[m], *(a[m, sl] for a in flat))
    return out.reshape(batch + (P,))


@functools.lru_cache(maxsize=64)
def _pairs(K: int) -> tuple[np.ndarray, np.ndarray]:
    pa, pb = _frozen(*np.triu_indices(K))
    return pa, pb


def _blocks(K: int, D: int) -> list[tuple[slice, bool]]:
    return [(slice(0, K), True), (slice(K, D), False)]


def _generic_contracted(
    C: np.ndarray, u: np.ndarray, K: int, student: Activation, teacher: Activation, need_j2: bool
) -> ContractedIntegrals:
    D = C.shape[-1]
    s, t = student.name, teacher.name
    a = np.arange(K)
    b = np.arange(D)

    def sub(*idx: np.ndarray) -> np.ndarray:  # submatrices of the outer product of index sets
        return _submatrix(C, *np.meshgrid(*idx, indexing="ij"))

    name = {True: s, False: t}
    I2u: np.ndarray | float = 0.0
    I3u: np.ndarray | float = 0.0
    I4uu: np.ndarray | float = 0.0
    for blk, is_student in _blocks(K, D):
        c = b[blk]
        if c.size == 0:
            continue
        uc = u[..., blk]
        I2 = _ig.I2(sub(a, c), s, name[is_student])  # (..., K, c)
        I2u = I2u + np.einsum("...ic,...c->...i", I2, uc)
        I3 = _ig.I3(sub(a, b, c), s, name[is_student])  # (..., K, D, c)
        I3u = I3u + np.einsum("...ibc,...c->...ib", I3, uc)
        for blk2, is_student2 in _blocks(K, D):
            d = b[blk2]
            if d.size == 0:
                continue
            I4 = _ig.I4(sub(a, a, c, d), s, name[is_student], name[is_student2])
            I4uu = I4uu + np.einsum("...ikcd,...c,...d->...ik", I4, uc, u[..., blk2])
    J2 = _ig.J2(sub(a, a), s) if need_j2 else np.zeros(C.shape[:-2] + (K, K))
    # D = K + M >= 1: some block is non-empty, so every sum above has become an array
    assert isinstance(I2u, np.ndarray) and isinstance(I3u, np.ndarray)
    assert isinstance(I4uu, np.ndarray)
    return ContractedIntegrals(I2u, I3u, I4uu, J2)


def contracted_integrals(
    C: np.ndarray,
    u: np.ndarray,
    K: int,
    student: Activation,
    teacher: Activation,
    *,
    need_j2: bool = True,
) -> ContractedIntegrals:
    """The integral contractions of the ODE right-hand side (``docs/ode_theory.md`` §1.2-1.3).

    Parameters
    ----------
    C : ndarray, shape (..., D, D)
        Joint covariance of student (first K) and teacher fields.
    u : ndarray, shape (..., D)
        Signed output weights (−v, v*).
    K : int
        Number of student fields.
    student, teacher : Activation
        Activations of the student and teacher units.
    need_j2 : bool
        Compute J2 (only needed with output noise).
    """
    if student.name == "erf" and teacher.name == "erf":
        return _erf_contracted(C, u, K, need_j2)
    return _generic_contracted(C, u, K, student, teacher, need_j2)


def pairwise_I2(C: np.ndarray, K: int, student: Activation, teacher: Activation) -> np.ndarray:
    """I2(a, b) = E[g_a(x_a) g_b(x_b)] for all field pairs, shape (..., D, D).

    Student fields (first K) use the student activation, teacher fields the teacher's.
    """
    D = C.shape[-1]
    if student.name == teacher.name == "erf":
        d = 1.0 + np.diagonal(C, axis1=-2, axis2=-1)
        return _2_PI * np.arcsin(np.clip(C / np.sqrt(d[..., :, None] * d[..., None, :]), -1, 1))
    if student.name == teacher.name == "linear":
        return np.array(C, dtype=float)
    names = np.array([student.name] * K + [teacher.name] * (D - K))
    out = np.empty(C.shape)
    ii, jj = np.meshgrid(np.arange(D), np.arange(D), indexing="ij")
    for na in {student.name, teacher.name}:
        for nb in {student.name, teacher.name}:
            sel = (names[ii] == na) & (names[jj] == nb)
            if not sel.any():
                continue
            ia, ib = ii[sel], jj[sel]
            out[..., ia, ib] = _ig.I2(_submatrix(C, ia, ib), na, nb)
    return out
