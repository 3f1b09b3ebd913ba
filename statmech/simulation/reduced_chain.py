r"""The exact finite-N reduced chain: online SGD as a Markov chain on (Q, R, v).

Derivation
----------
Take the update of :class:`statmech.simulation.sgd_engine.EngineSettings` on a mini-batch
x_1..x_B of fresh inputs x_b ~ N(0, I_N), with d = 1 − κ/N, c_kb = v_k g'(λ_kb) Δ_b and the fields
λ_b = W x_b/√N, ρ_b = W* x_b/√N::

    W' = d W + (η/(B√N)) Σ_b c_b x_bᵀ.

Multiplying by W*ᵀ/N and by W'ᵀ/N gives, with the Gram matrix G_bb' = x_b·x_b'/N,

    R' = d R + (η/(BN)) Σ_b c_b ρ_bᵀ
    Q' = d² Q + d (η/(BN)) Σ_b (c_b λ_bᵀ + λ_b c_bᵀ) + (η²/(B²N)) Σ_bb' G_bb' c_b c_b'ᵀ
    v' = d v + (η_v/(BN)) Σ_b g(λ_b) Δ_b.

So one step depends on the weights only through the joint law of (λ_b, ρ_b, G), which is fixed
by (Q, R, T). Write W*/√N = T^½ O with O (M×N) orthonormal rows, and the student's part
orthogonal to the teacher span Z = W − R T⁻¹ W*, ZZᵀ/N = S = Q − R T⁻¹ Rᵀ, as Z/√N = F P with
F Fᵀ = S (F = V diag(√s) from the eigen-decomposition S = V diag(s) Vᵀ) and P (K×N) orthonormal
rows orthogonal to O (when S is singular, pad P with any further orthonormal rows; they meet a
zero column of F). With a = O x ~ N(0, I_M) and b = P x ~ N(0, I_K), independent,

    ρ = T^½ a,    λ = R T⁻¹ ρ + F b = R T^{-½} a + F b,

and the remainder of x, orthogonal to all M + K rows of O and P, is an independent standard
normal vector in N − M − K dimensions. Hence, for the batch,

    N·G = A Aᵀ + B Bᵀ + Wishart_B(N − M − K, I_B)          (B = 1: |a|² + |b|² + χ²(N − M − K)),

with A (B×M) and B (B×K) the stacked a and b. This is the decomposition |x|² = |a|² + |b_S|² +
χ²(N − M − rank S) with the part of b outside the range of S, an independent χ²(K − rank S), moved
into the χ² term: the two are equal in law, and the form used here never has to decide a
numerical rank. The square roots are symmetric eigen-decompositions (negative round-off
eigenvalues clipped): no Cholesky of the joint covariance, which becomes singular as the students
specialise. The Wishart matrix is drawn by its Bartlett decomposition; it needs
N − M − K >= B. This is the *eigh path*: it re-derives F from S at every step, and it serves
B > 1 and the explicit-normal interface (:meth:`ReducedEngine.fields`, ``update``,
``step_with``).

The carried factor (B = 1)
--------------------------
For B = 1 the chain carries F instead of re-deriving it from S (a batched ``eigh`` per step).
Keep the frame explicit: W/√N = R̃ O + F P with R̃ = R T^{-½}, and P a list of orthonormal rows
orthogonal to O, of which the first K + j are *in use* (fixed by the past) and F (K × (K + D))
has zero columns from K + j on. Given the past, the next input x is independent of the frame, so
its coordinates a = O x (M) and b_i = P_i x (i < K + j) are independent standard normals, and its
remainder x_⊥, orthogonal to O and to the rows in use, is an independent standard normal vector
in N − M − K − j dimensions. Write x_⊥ = r u with r = |x_⊥|, r² ~ χ²(N − M − K − j), and u a
unit vector orthogonal to O and the rows in use; take u as the next row P_{K+j}. Then

    x = Oᵀ a + Σ_{i<K+j} b_i P_iᵀ + r P_{K+j}ᵀ,     λ = R̃ a + Σ_{i<K+j} F_i b_i

(F_i the i-th column), and W'/√N = d W/√N + (η/N) c xᵀ is again of the frame form, with

    [R̃' | F'] = d [R̃ | F] + (η/N) c wᵀ,     w = (a, b_0, …, b_{K+j−1}, r, 0, …, 0),

column K + j of F' being (η/N) r c (it was zero, so the decay d does not touch it). Nothing else
about u matters: the following input is fresh, and its coordinates in the extended frame are
again independent standard normals. Since the columns of F from K + j on are zero, λ = [R̃ | F] w
as well (the entry r meets a zero column). The norm comes out right without a separate term:
|w|² = |x|², and Q = WWᵀ/N = R̃R̃ᵀ + FFᵀ (orthonormal rows) obeys

    Q' = d² Q + d (η/N)(c λᵀ + λ cᵀ) + (η²/N)(|x|²/N) c cᵀ,

the update above with G = |x|²/N ~ χ²(N)/N; R = W W*ᵀ/N = R̃ T^½. The label
y = v*·g(T^½ a) + σζ depends on a and the noise only, so whole blocks of labels are computed at
once. The draws: per step K + D + M standard normals (a, then b_0..b_{K+D−1}) and one
χ²(N − M − K − D) variate X; step j (0 <= j < D) uses

    r² = Σ_{i=K+j}^{K+D−1} b_i² + X  ~  χ²(D − j) + χ²(N − M − K − D) = χ²(N − M − K − j),

the b_i with i >= K + j being independent of everything the step otherwise uses (they meet zero
columns of F). Every D steps F is *compressed*: with the thin QR decomposition Fᵀ = 𝒬ℛ
(𝒬 (K+D)×K with orthonormal columns, ℛ K×K), F P = ℛᵀ (𝒬ᵀ P), and the K rows 𝒬ᵀP are orthonormal
and orthogonal to O; so F becomes [ℛᵀ | 0] (K + D columns, the last D zero) with K rows in use,
and FFᵀ = ℛᵀℛ is unchanged up to round-off. The signs are fixed so that diag ℛ >= 0: then ℛᵀ is
the Cholesky factor of FFᵀ whenever that is non-singular, whichever factor F and whichever LAPACK
conventions came in. The first F is the K×K factor of S from the eigh path (its P: K orthonormal
rows orthogonal to O spanning Z, padded when S is singular), made lower triangular the same way,
so the path does not depend on a backend's eigenvector conventions. Weight decay multiplies every
coordinate by d (and v); a new coordinate starts at zero.

The frame must fit in ℝ^N: just before a compression M + K + D rows are in use, so the chunk
length D satisfies D <= N − M − K. The rule (:func:`factor_chunk`): D is the largest power of two
<= min(:data:`FACTOR_CHUNK_MAX`, N − M − K), so D divides :data:`REDUCED_BLOCK_STEPS` and step j
of a chunk is step s mod D of a block. When D = N − M − K the χ² variate has 0 degrees of freedom
and is 0 (not drawn); the last step of a chunk still has r² ~ χ²(1). N − M − K < 1 (not allowed
by :func:`statmech.simulate`) falls back to the eigh path. Entering the factor representation at
step s of a block with j = s mod D > 0 (after ``step_with``, which works on (Q, R̃, v)) leaves the
columns K..K+j−1 of F zero but in use: exact as well. The streams of a member depend only on
(N, B, K, M), never on E or the backend; they differ from the eigh path's. Per step there is no
decomposition (one QR of a (K + D)×K matrix per D steps), and Q = R̃R̃ᵀ + FFᵀ is a Gram matrix, PSD
by construction; it is formed only when read.

The chain therefore simulates online SGD *exactly* at finite N (up to floating point), for a cost
per step independent of N. Weights are reconstructed at the end by
:func:`statmech.weights_from_order_parameters` (exact in law for rotation-invariant initial
weights; see that module). All random numbers are drawn with NumPy per member in blocks of
:data:`REDUCED_BLOCK_STEPS` steps and moved to the backend, so the chain's streams are the same
on every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._linalg import bartlett_factor, sym_pow
from .backend import Backend
from .sgd_engine import Engine, EngineSettings

__all__ = ["FACTOR_CHUNK_MAX", "REDUCED_BLOCK_STEPS", "ReducedEngine", "factor_chunk",
           "reduced_working_bytes"]

REDUCED_BLOCK_STEPS = 256
#: Longest chunk D of the carried-factor path (B = 1) between two compressions of F; a power of
#: two that divides :data:`REDUCED_BLOCK_STEPS`.
FACTOR_CHUNK_MAX = 16


def factor_chunk(N: int, M: int, K: int, max_chunk: int = FACTOR_CHUNK_MAX) -> int:
    """Chunk length D of the carried-factor path: the largest power of two <= min(max_chunk,
    N − M − K), or 0 when N − M − K < 1 (then the eigh path is used).

    Parameters
    ----------
    N, M, K : int
        Input dimension, teacher and student hidden units.
    max_chunk : int
        Upper bound on D (a power of two dividing :data:`REDUCED_BLOCK_STEPS`).

    Returns
    -------
    int
        D, with M + K + D <= N (the frame of the module docstring fits in ℝ^N).
    """
    room = min(int(max_chunk), int(N) - int(M) - int(K))
    return 0 if room < 1 else 1 << (room.bit_length() - 1)


def reduced_working_bytes(K: int, M: int, N: int, B: int,
                          block_steps: int = REDUCED_BLOCK_STEPS) -> int:
    """Working bytes per member of :class:`ReducedEngine` (random block, labels and state), an
    upper estimate for the chunking of :func:`statmech.simulate`.

    Counted in float64 numbers per step of a block. B = 1 (carried factor, D =
    :func:`factor_chunk`, w of length K + M + D): the host w, one temporary of its size and the
    two backend arrays (4 (K + M + D)), the label temporaries (3M) and a few per-step scalars (8).
    B > 1 (eigh path): the host a, b and their step-major copies (4B(K + M)), the Bartlett
    factors, the Gram matrix and its temporaries (6B²), the labels (3BM) and 2B more. Plus the
    state, a few (K + M + D)² arrays. Checked against tracemalloc's peak for NumPy (E = 1000,
    N = 500): 187 kB per member measured for K = M = 2, B = 1 (this estimate: 205 kB), 386 kB for
    K = 20, M = 5, B = 1 (437 kB), 217 kB for K = M = 2, B = 3 (259 kB).
    """
    D = factor_chunk(N, M, K) if B == 1 else 0
    if D:
        per_step = 4 * (K + M + D) + 3 * M + 8
    else:
        per_step = 4 * B * (K + M) + 6 * B * B + 3 * B * M + 2 * B
    return 8 * block_steps * per_step + 8 * 4 * (K + M + D) ** 2


class ReducedEngine(Engine):
    """The exact reduced chain (module docstring) for E members.

    For batch size 1 (and ``exact_norm``, ``factor_path`` true, N − M − K >= 1) :meth:`advance`
    runs the carried-factor path: the state is [R̃ | F] (E, K, M + K + D) and v, and Q = R̃R̃ᵀ + FFᵀ
    is formed only when read. Otherwise, and always for :meth:`fields`, :meth:`update` and
    :meth:`step_with`, the eigh path with the state (Q, R̃, v). The engine switches between the two
    representations when needed (exact in law either way).

    Parameters
    ----------
    be : Backend
    model : EngineSettings
    seeds : list of SeedSequence
    Q, R, T, v, v_star : ndarray
        Initial order parameters, shapes (E, K, K), (E, K, M), (E, M, M), (E, K), (E, M).
    """

    block_steps = REDUCED_BLOCK_STEPS
    host_random = True
    #: ``False`` replaces the Gram matrix G by the identity (|x|²/N ≡ 1, cross terms 0): the
    #: plausible-but-wrong chain that the tests use as a negative control (by subclassing). It
    #: runs on the eigh path.
    exact_norm = True
    #: ``False`` runs B = 1 on the eigh path too (benchmarks and tests compare the two).
    factor_path = True
    #: Upper bound on the chunk length D (:func:`factor_chunk`).
    factor_chunk_max = FACTOR_CHUNK_MAX

    def __init__(self, be: Backend, model: EngineSettings, seeds: list, Q: np.ndarray,
                 R: np.ndarray, T: np.ndarray, v: np.ndarray, v_star: np.ndarray) -> None:
        super().__init__(be, model, seeds)
        dt = model.dtype
        self.T = np.asarray(T, dtype=np.float64)
        self._Th = be.asarray(sym_pow(self.T, 0.5), dt)
        self._Tmh = be.asarray(sym_pow(self.T, -0.5), dt)
        # eigh-path state (None while the factor path holds the state in _X, _vr)
        self._Q = be.asarray(Q, dt)
        # R̃ = R T^{-½}, so that λ = R̃ a + F b and S = Q − R̃ R̃ᵀ; since ρ T^{-½} = a, the
        # update R' = R + (η/(BN)) Σ c ρᵀ reads R̃' = R̃ + (η/(BN)) Σ c aᵀ (no T per step)
        self._Rt = be.asarray(np.asarray(R, dtype=np.float64) @ sym_pow(self.T, -0.5), dt)
        self._v = be.asarray(v, dt)
        # factor-path state: [R̃ | F] (E, K, M + K + D) and v as rows (E, 1, K)
        self._X = None
        self._vr = None
        self.v_star = be.asarray(v_star, dt)[:, :, None]  # (E, M, 1)
        N, M, K, B = model.N, model.M, model.K, model.batch_size
        self._dof = N - M - K
        c = 1.0 / (B * N)
        k = self._dg_scale  # g' = k · dg_l: c = k · c_l with c_l = dg_l v Δ
        self._c_r = k * model.eta * c  # so that c_r c_lᵀ = (η/(BN)) cᵀ
        self._g_scale = k * model.eta / B  # and c_r c_lᵀ G' c_l = (η²/(B²N)) cᵀGc
        self._c_v = model.eta_v * c
        self._blocks: dict = {}
        self._decay = model.decay
        self._eye = be.asarray(np.eye(K), dt)
        self._floor = float(np.finfo(dt).eps) * max(
            1.0, float(np.max(np.diagonal(Q, axis1=-2, axis2=-1), initial=0.0)))
        use = B == 1 and self.exact_norm and self.factor_path
        self._D = factor_chunk(N, M, K, self.factor_chunk_max) if use else 0
        if self._D:
            self._chi_dof = N - M - K - self._D  # >= 0; 0: the χ² variate is 0
            self._zpad = be.asarray(np.zeros((self.E, K, self._D)), dt)

    # --- state, in either representation ---------------------------------------------------

    @property
    def chunk(self) -> int:
        """D, the chunk length of the carried-factor path (0: :meth:`advance` uses eigh)."""
        return self._D

    @property
    def Q(self):
        """Q (backend array, E×K×K); on the factor path R̃R̃ᵀ + FFᵀ, symmetrised."""
        if self._X is None:
            return self._Q
        Q = self.xp.matmul(self._X, self._mT(self._X))
        return 0.5 * (Q + self._mT(Q))

    @property
    def Rt(self):
        """R̃ = R T^{-½} (backend array, a copy on the factor path)."""
        if self._X is None:
            return self._Rt
        return self.xp.asarray(self._X[:, :, : self.model.M], copy=True)

    @property
    def R(self):
        """R = R̃ T^½ (backend array)."""
        return self.xp.matmul(self.Rt, self._Th)

    @property
    def v(self):
        """v (backend array, E×K; a copy on the factor path, which updates v in place)."""
        if self._X is None:
            return self._v
        return self.xp.asarray(self.xp.reshape(self._vr, (self.E, self.model.K)), copy=True)

    @property
    def F(self):
        """A copy of the carried factor F (E, K, K + D) on the factor path, else None."""
        if self._X is None:
            return None
        return self.xp.asarray(self._X[:, :, self.model.M:], copy=True)

    def _to_factor(self) -> None:
        """Switch to the factor representation: F from the eigh factor of S, D zero columns."""
        if self._X is not None:
            return
        xp, mT = self.xp, self._mT
        F = self._tri_factor(self._psd_factor(self._Q - xp.matmul(self._Rt, mT(self._Rt))))
        self._X = xp.concat([self._Rt, F, self._zpad], axis=2)  # a new array
        # a copy: the factor path updates v in place, and _v may share the caller's memory
        self._vr = xp.asarray(xp.reshape(self._v, (self.E, 1, self.model.K)), copy=True)
        self._Q = self._Rt = self._v = None

    def _to_eigh(self) -> None:
        """Switch to the (Q, R̃, v) representation of the eigh path."""
        if self._X is None:
            return
        self._Q, self._Rt, self._v = self.Q, self.Rt, self.v
        self._X = self._vr = None

    # --- stepping --------------------------------------------------------------------------

    def advance(self, n: int, progress: Any = None) -> None:
        """Take ``n`` SGD steps on every member (the factor path for B = 1, module docstring)."""
        if not self._D:
            self._to_eigh()
            super().advance(n, progress)
            return
        self._to_factor()
        D, Bk = self._D, self.block_steps
        while n > 0:
            if self._pos == Bk:
                self._draw_block()
                self._pos = 0
            m = min(n, D - self._pos % D)  # to the end of the chunk at most
            self._factor_steps(self._pos, self._pos + m)
            self._pos += m
            n -= m
            if self._pos % D == 0:
                self._compress()
            if progress is not None:
                progress.update(m)

    def _new_norm2(self, tail: np.ndarray, chi2: np.ndarray, used: np.ndarray) -> np.ndarray:
        """r², the squared length of the new coordinate (module docstring): the sum ``tail`` of
        the squared normals b_i that meet zero columns of F, plus the χ²(N − M − K − D) variate
        ``chi2``. (``used``, |a|² + Σ_{i<K+j} b_i², is not needed.)

        Host arrays of shape (steps, E). A hook for the tests' deliberately wrong variants.
        """
        return tail + chi2

    def _draw_factor_block(self) -> None:
        """Host draws of the factor path for the next block: the vectors w (module docstring),
        unscaled (fields, labels) and pre-scaled by ``_c_r`` (update), stored step-major
        (Bk, E, 1, M + K + D) on the backend, and the labels (Bk, E, 1, 1)."""
        m, be, xp = self.model, self.be, self.xp
        Bk, K, M, D, E = self.block_steps, m.K, m.M, self._D, self.E
        width = M + K + D
        w = np.empty((Bk, E, width))
        chi2 = np.zeros((Bk, E))
        for e, gen in enumerate(self._input_gens):  # per member: Bk·width normals, Bk χ²
            w[:, e, :] = gen.standard_normal((Bk, width))
            if self._chi_dof > 0:
                chi2[:, e] = gen.chisquare(self._chi_dof, Bk)
        new = M + K + np.arange(Bk) % D  # column of the new coordinate at each step
        spare = (np.arange(width)[None, :] >= new[:, None]).astype(np.float64)  # (Bk, width)
        sq = w * w
        tail = np.einsum("sew,sw->se", sq, spare)  # Σ b_i² over the spare columns
        r = np.sqrt(self._new_norm2(tail, chi2, np.sum(sq, axis=-1) - tail))
        del sq
        w *= (1.0 - spare)[:, None, :]
        w[np.arange(Bk), :, new] = r
        dt = m.dtype
        wb = be.asarray(w[:, :, None, :], dt)
        blk = {"w": wb, "wc": self._c_r * wb}
        # the teacher side does not depend on the student: labels for the whole block at once
        y = xp.matmul(self.g_t(xp.matmul(wb[..., :M], self._Th)), self.v_star)  # (Bk, E, 1, 1)
        if self._noise_gens is not None:  # host draws, (E, Bk, 1)
            z = self._rng_be.normal_block(self._noise_gens, (Bk, 1), "float64")
            y = y + m.noise * be.asarray(np.ascontiguousarray(np.swapaxes(z, 0, 1)),
                                         dt)[..., None]
        blk["y"] = y
        self._blocks = blk

    def _factor_steps(self, s0: int, s1: int) -> None:
        """Steps s0..s1−1 of the current block on the factor path (within one chunk).

        λ = [R̃ | F] w, c_l = dg_l v Δ, [R̃ | F] ← d [R̃ | F] + c_l ⊗ (c_r w) and
        v ← d v + (η_v/N) g(λ) Δ, in place (module docstring).
        """
        xp, mT, g_dg = self.xp, self._mT, self.g_dg_s
        blk = self._blocks
        w, wc, y = blk["w"], blk["wc"], blk["y"]
        X, vr = self._X, self._vr
        d = self._decay
        decay = d != 1.0
        train, c_v = self.model.train_second_layer, self._c_v
        for s in range(s0, s1):
            lam = xp.matmul(w[s, ...], mT(X))  # (E, 1, K)
            g_l, dg_l = g_dg(lam)
            delta = y[s, ...] - xp.matmul(g_l, mT(vr))  # (E, 1, 1)
            c = dg_l * (vr * delta)  # (E, 1, K)
            if decay:
                X *= d
            X += mT(c) * wc[s, ...]  # (E, K, 1) * (E, 1, M + K + D)
            if train:
                if decay:
                    vr *= d
                vr += c_v * (delta * g_l)

    def _tri_factor(self, F):
        """The lower-triangular K×K factor L = ℛᵀ with L Lᵀ = F Fᵀ, from the thin QR
        decomposition Fᵀ = 𝒬ℛ (F: E×K×n, n >= K), the signs chosen so that diag L >= 0.

        For F Fᵀ non-singular L is its Cholesky factor, so it does not depend on which factor F
        (an eigh factor, or the LAPACK's sign conventions) came in: the factor path is then the
        same function of the draws on every backend. A non-finite F gives a non-finite L
        (LAPACK propagates NaN and inf).
        """
        xp, mT = self.xp, self._mT
        Rf = xp.linalg.qr(mT(F))[1]  # (E, K, K), upper triangular
        neg = xp.astype(xp.linalg.diagonal(Rf) < 0.0, Rf.dtype)
        return mT(Rf * (1.0 - 2.0 * neg)[:, :, None])

    def _compress(self) -> None:
        """F (E, K, K + D) → [L | 0] with L Lᵀ = F Fᵀ (:meth:`_tri_factor`; module docstring)."""
        M, X = self.model.M, self._X
        self._X = self.xp.concat([X[:, :, :M], self._tri_factor(X[:, :, M:]), self._zpad],
                                 axis=2)

    def _draw_block(self) -> None:
        """Host draws for the next block, stored step-major: arrays (Bk, E, ...)."""
        if self._D:
            self._draw_factor_block()
            return
        m, be, xp = self.model, self.be, self.xp
        Bk, B, K, M = self.block_steps, m.batch_size, m.K, m.M
        E = self.E
        a = np.empty((E, Bk, B, M))
        b = np.empty((E, Bk, B, K))
        L = np.empty((E, Bk, B, B))  # Bartlett factors of the Wishart(N − M − K) parts
        for e, gen in enumerate(self._input_gens):
            gen.standard_normal(out=a[e])
            gen.standard_normal(out=b[e])
            L[e] = bartlett_factor(gen, self._dof, B, (Bk,))
        dt = m.dtype

        def put(arr):  # (E, Bk, ...) host -> (Bk, E, ...) backend, contiguous per step
            return be.asarray(np.ascontiguousarray(np.swapaxes(arr, 0, 1)), dt)

        blk = {"a": put(a), "ab": put(np.concatenate([a, b], axis=-1))}
        if not self.exact_norm:
            blk["G"] = None
        elif B == 1:  # N·G = |a|² + |b|² + χ²(N − M − K)
            nrm = np.sum(a * a, axis=-1) + np.sum(b * b, axis=-1) + L[..., 0] ** 2  # (E, Bk, 1)
            blk["G"] = put((self._g_scale / m.N) * nrm[..., None])  # (Bk, E, 1, 1), pre-scaled
        else:
            G = (a @ np.swapaxes(a, -1, -2) + b @ np.swapaxes(b, -1, -2)
                 + L @ np.swapaxes(L, -1, -2)) / m.N
            blk["G"] = put(self._g_scale * G)
        # the teacher side does not depend on the student: labels for the whole block at once
        y = xp.matmul(self.g_t(xp.matmul(blk["a"], self._Th)), self.v_star)  # (Bk, E, B, 1)
        if self._noise_gens is not None:  # host draws, (E, Bk, B)
            z = self._rng_be.normal_block(self._noise_gens, (Bk, B), "float64")
            y = y + m.noise * put(z)[..., None]
        blk["y"] = y
        self._blocks = blk

    def _student_fields(self, ab):
        """λ = R̃ a + F b = [R̃ | F] (a, b) with F Fᵀ = S = Q − R̃ R̃ᵀ (module docstring).

        ``ab`` (E, B, M + K) stacks a and b; the result has shape (E, B, K). Eigh path.
        """
        xp, mT = self.xp, self._mT
        F = self._psd_factor(self._Q - xp.matmul(self._Rt, mT(self._Rt)))
        return xp.matmul(ab, mT(xp.concat([self._Rt, F], axis=2)))

    def _psd_factor(self, S):
        """A factor F with F Fᵀ = S for a batch of symmetric PSD matrices, singular included.

        K = 1: √S. K = 2: the closed-form symmetric root
        √S = (S + √det S · 𝟙)/√(tr S + 2√det S), with tr S + 2√det S floored at
        ε·max(1, max Q_kk(0)) so that an S that is zero up to round-off gives F ≈ 0 (error
        O(√ε), the accuracy of any square root of round-off).
        K >= 3: F = V diag(√s) from ``eigh``, which reads one triangle (Q stays exactly
        symmetric: its updates are symmetric term by term). Negative round-off (det S < 0,
        eigenvalues < 0) is clipped to 0. No Cholesky: S becomes singular as the students
        specialise.
        """
        xp, K = self.xp, self.model.K
        if K == 1:
            return xp.sqrt(xp.maximum(S, 0.0))
        if K == 2:
            a, b, d = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
            r = xp.sqrt(xp.maximum(a * d - b * b, 0.0))
            t = xp.sqrt(xp.maximum(a + d + 2.0 * r, self._floor))
            return (S + r[:, None, None] * self._eye) / t[:, None, None]
        s, V = xp.linalg.eigh(S)
        return V * xp.sqrt(xp.maximum(s, 0.0))[:, None, :]

    def fields(self, a, b):
        """Local fields (λ, ρ), shapes (E, B, K) and (E, B, M), from standard normals a, b.

        ρ = T^½ a and λ = R T^{-½} a + F b with F Fᵀ = S = Q − R T⁻¹Rᵀ (module docstring).
        """
        self._to_eigh()
        return (self._student_fields(self.xp.concat([a, b], axis=2)),
                self.xp.matmul(a, self._Th))

    def update(self, lam, rho, G, z=None) -> None:
        """Apply one SGD step given the fields and the batch Gram G = x_b·x_b'/N (E, B, B).

        The exact update of (Q, R, v) in the module docstring; ``G=None`` means the identity.
        """
        self._to_eigh()
        xp, m = self.xp, self.model
        y = xp.matmul(self.g_t(rho), self.v_star)  # (E, B, 1)
        if z is not None:
            y = y + m.noise * z[..., None]
        self._apply(lam, xp.matmul(rho, self._Tmh), y, None if G is None else self._g_scale * G)

    def _apply(self, lam, a, y, G) -> None:
        """The update from student fields λ (E, B, K), teacher normals a = ρ T^{-½} (E, B, M),
        labels y (E, B, 1) and the pre-scaled Gram matrix G' = ``_g_scale``·G (E, B, B) (None:
        the identity). Eigh path.

        With c' = (η/(BN)) cᵀ: R̃ += c' a, Q += c'λ + (c'λ)ᵀ + (η/B) c' G c (module docstring,
        R̃ = R T^{-½}); g'’s constant factor is folded into ``_c_r`` and ``_g_scale``. For B = 1
        the products are outer products, done as broadcasts.
        """
        xp, mT = self.xp, self._mT
        g_l, dg_l = self.g_dg_s(lam)
        delta = y - xp.matmul(g_l, self._v[:, :, None])  # (E, B, 1)
        c = dg_l * (self._v[:, None, :] * delta)  # (E, B, K)
        ct = self._c_r * mT(c)  # (E, K, B)
        if self.model.batch_size == 1:
            cl, ca, quad = ct * lam, ct * a, ct * c
            quad = quad * self._g_scale if G is None else G * quad
        else:
            cl, ca = xp.matmul(ct, lam), xp.matmul(ct, a)
            quad = (xp.matmul(ct, c) * self._g_scale if G is None
                    else xp.matmul(ct, xp.matmul(G, c)))
        if self._decay != 1.0:
            d = self._decay
            self._Q = d * d * self._Q + d * (cl + mT(cl)) + quad
            self._Rt = d * self._Rt + ca
        else:
            self._Q = self._Q + cl + mT(cl) + quad
            self._Rt = self._Rt + ca
        if self.model.train_second_layer:
            dv = self._c_v * xp.matmul(mT(g_l), delta)[:, :, 0]
            self._v = self._decay * self._v + dv if self._decay != 1.0 else self._v + dv

    def step_with(self, a, b, G, z=None) -> None:
        """One step from standard normals a (E, B, M), b (E, B, K) and the Gram G (E, B, B)."""
        lam, rho = self.fields(a, b)
        self.update(lam, rho, G, z)

    def _step(self, s: int) -> None:
        blk = self._blocks
        self._apply(self._student_fields(blk["ab"][s, ...]), blk["a"][s, ...], blk["y"][s, ...],
                    None if blk["G"] is None else blk["G"][s, ...])

    # --- reading and freezing --------------------------------------------------------------

    def order_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Host (Q, R, T, v); on the factor path Q = R̃R̃ᵀ + FFᵀ is formed in float64."""
        be, Th = self.be, sym_pow(self.T, 0.5)
        if self._X is not None:
            X = be.to_numpy(self._X).astype(np.float64)
            Q = X @ np.swapaxes(X, -1, -2)
            Rt = X[:, :, : self.model.M]
        else:
            Q = be.to_numpy(self._Q).astype(np.float64)
            Rt = be.to_numpy(self._Rt).astype(np.float64)
        return (0.5 * (Q + np.swapaxes(Q, -1, -2)), Rt @ Th, self.T.copy(),
                be.to_numpy(self.v).astype(np.float64))

    def max_qkk(self) -> np.ndarray:
        """Host max_k Q_kk per member; NaN for a member whose R or v is not finite."""
        xp = self.xp
        if self._X is not None:  # Q_kk = |row k of [R̃ | F]|², which includes R̃
            q = xp.max(xp.sum(self._X * self._X, axis=2), axis=1)
            q = q + 0.0 * xp.sum(xp.sum(self._vr, axis=2), axis=1)
        else:
            q = xp.max(xp.linalg.diagonal(self._Q), axis=1)
            q = q + 0.0 * (xp.sum(self._v, axis=1) + xp.sum(xp.sum(self._Rt, axis=2), axis=1))
        return self.be.to_numpy(q).astype(np.float64)

    def _freeze(self, mask: np.ndarray) -> None:
        """Frozen members: Q = R = 0 and v = 0 (then λ ≡ 0 and nothing moves)."""
        xp = self.xp
        keep = self._mask_array(~mask)
        with np.errstate(all="ignore"):
            if self._X is not None:
                self._X = xp.where(keep[:, None, None], self._X, xp.zeros_like(self._X))
                self._vr = xp.where(keep[:, None, None], self._vr, xp.zeros_like(self._vr))
                return
            self._Q = xp.where(keep[:, None, None], self._Q, xp.zeros_like(self._Q))
            self._Rt = xp.where(keep[:, None, None], self._Rt, xp.zeros_like(self._Rt))
            self._v = xp.where(keep[:, None], self._v, xp.zeros_like(self._v))
