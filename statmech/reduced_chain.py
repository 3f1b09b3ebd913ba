r"""The exact finite-N reduced chain: online SGD as a Markov chain on (Q, R, v).

Derivation
----------
Take the update of :class:`statmech.sgd_engine.SGDModel` on a mini-batch x_1..x_B of fresh
inputs x_b ~ N(0, I_N), with d = 1 − κ/N, c_kb = v_k g'(λ_kb) Δ_b and the fields
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

with A (B×M) and B (B×K) the stacked a and b. This is the issue's |x|² = |a|² + |b_S|² +
χ²(N − M − rank S) with the part of b outside the range of S, an independent χ²(K − rank S), moved
into the χ² term: the two are equal in law, and the form used here never has to decide a
numerical rank. The square roots are symmetric eigen-decompositions (negative round-off
eigenvalues clipped): no Cholesky of the joint covariance, which becomes singular as the students
specialise. The Wishart matrix is drawn by its Bartlett decomposition; it needs
N − M − K >= B.

The chain therefore simulates online SGD *exactly* at finite N (up to floating point), for a cost
per step independent of N. Weights are reconstructed at the end by
:func:`statmech.weights_from_order_parameters` (exact in law for rotation-invariant initial
weights; see that module). All random numbers are drawn with NumPy per member in blocks of
:data:`REDUCED_BLOCK_STEPS` steps and moved to the backend, so the chain's streams are the same
on every backend.
"""

from __future__ import annotations

import numpy as np

from ._linalg import bartlett_factor, sym_pow
from .backend import Backend
from .sgd_engine import Engine, SGDModel

__all__ = ["REDUCED_BLOCK_STEPS", "ReducedEngine"]

REDUCED_BLOCK_STEPS = 256


class ReducedEngine(Engine):
    """The exact reduced chain (module docstring) for E members.

    Parameters
    ----------
    be : Backend
    model : SGDModel
    seeds : list of SeedSequence
    Q, R, T, v, v_star : ndarray
        Initial order parameters, shapes (E, K, K), (E, K, M), (E, M, M), (E, K), (E, M).
    """

    block_steps = REDUCED_BLOCK_STEPS
    host_random = True
    #: ``False`` replaces the Gram matrix G by the identity (|x|²/N ≡ 1, cross terms 0): the
    #: plausible-but-wrong chain that the tests use as a negative control (by subclassing).
    exact_norm = True

    def __init__(self, be: Backend, model: SGDModel, seeds: list, Q: np.ndarray,
                 R: np.ndarray, T: np.ndarray, v: np.ndarray, v_star: np.ndarray) -> None:
        super().__init__(be, model, seeds)
        dt = model.dtype
        self.T = np.asarray(T, dtype=np.float64)
        self._Th = be.asarray(sym_pow(self.T, 0.5), dt)
        self._Tmh = be.asarray(sym_pow(self.T, -0.5), dt)
        self.Q = be.asarray(Q, dt)
        # state: R̃ = R T^{-½}, so that λ = R̃ a + F b and S = Q − R̃ R̃ᵀ; since ρ T^{-½} = a, the
        # update R' = R + (η/(BN)) Σ c ρᵀ reads R̃' = R̃ + (η/(BN)) Σ c aᵀ (no T per step)
        self.Rt = be.asarray(np.asarray(R, dtype=np.float64) @ sym_pow(self.T, -0.5), dt)
        self.v = be.asarray(v, dt)
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

    @property
    def R(self):
        """R = R̃ T^½ (backend array)."""
        return self.xp.matmul(self.Rt, self._Th)

    def _draw_block(self) -> None:
        """Host draws for the next block, stored step-major: arrays (Bk, E, ...)."""
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

        ``ab`` (E, B, M + K) stacks a and b; the result has shape (E, B, K).
        """
        xp, mT = self.xp, self._mT
        F = self._psd_factor(self.Q - xp.matmul(self.Rt, mT(self.Rt)))
        return xp.matmul(ab, mT(xp.concat([self.Rt, F], axis=2)))

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
        return (self._student_fields(self.xp.concat([a, b], axis=2)),
                self.xp.matmul(a, self._Th))

    def update(self, lam, rho, G, z=None) -> None:
        """Apply one SGD step given the fields and the batch Gram G = x_b·x_b'/N (E, B, B).

        The exact update of (Q, R, v) in the module docstring; ``G=None`` means the identity.
        """
        xp, m = self.xp, self.model
        y = xp.matmul(self.g_t(rho), self.v_star)  # (E, B, 1)
        if z is not None:
            y = y + m.noise * z[..., None]
        self._apply(lam, xp.matmul(rho, self._Tmh), y, None if G is None else self._g_scale * G)

    def _apply(self, lam, a, y, G) -> None:
        """The update from student fields λ (E, B, K), teacher normals a = ρ T^{-½} (E, B, M),
        labels y (E, B, 1) and the pre-scaled Gram matrix G' = ``_g_scale``·G (E, B, B) (None:
        the identity).

        With c' = (η/(BN)) cᵀ: R̃ += c' a, Q += c'λ + (c'λ)ᵀ + (η/B) c' G c (module docstring,
        R̃ = R T^{-½}); g'’s constant factor is folded into ``_c_r`` and ``_g_scale``. For B = 1
        the products are outer products, done as broadcasts.
        """
        xp, mT = self.xp, self._mT
        g_l, dg_l = self.g_dg_s(lam)
        delta = y - xp.matmul(g_l, self.v[:, :, None])  # (E, B, 1)
        c = dg_l * (self.v[:, None, :] * delta)  # (E, B, K)
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
            self.Q = d * d * self.Q + d * (cl + mT(cl)) + quad
            self.Rt = d * self.Rt + ca
        else:
            self.Q = self.Q + cl + mT(cl) + quad
            self.Rt = self.Rt + ca
        if self.model.train_second_layer:
            dv = self._c_v * xp.matmul(mT(g_l), delta)[:, :, 0]
            self.v = self._decay * self.v + dv if self._decay != 1.0 else self.v + dv

    def step_with(self, a, b, G, z=None) -> None:
        """One step from standard normals a (E, B, M), b (E, B, K) and the Gram G (E, B, B)."""
        lam, rho = self.fields(a, b)
        self.update(lam, rho, G, z)

    def _step(self, s: int) -> None:
        blk = self._blocks
        self._apply(self._student_fields(blk["ab"][s, ...]), blk["a"][s, ...], blk["y"][s, ...],
                    None if blk["G"] is None else blk["G"][s, ...])

    def order_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Host (Q, R, T, v)."""
        be = self.be
        Q = be.to_numpy(self.Q).astype(np.float64)
        return (0.5 * (Q + np.swapaxes(Q, -1, -2)),
                be.to_numpy(self.Rt).astype(np.float64) @ sym_pow(self.T, 0.5),
                self.T.copy(), be.to_numpy(self.v).astype(np.float64))

    def max_qkk(self) -> np.ndarray:
        """Host max_k Q_kk per member; NaN for a member whose R or v is not finite."""
        xp = self.xp
        q = xp.max(xp.linalg.diagonal(self.Q), axis=1)
        q = q + 0.0 * (xp.sum(self.v, axis=1) + xp.sum(xp.sum(self.Rt, axis=2), axis=1))
        return self.be.to_numpy(q).astype(np.float64)

    def _freeze(self, mask: np.ndarray) -> None:
        """Frozen members: Q = R = 0 and v = 0 (then λ ≡ 0 and nothing moves)."""
        xp = self.xp
        keep = self._mask_array(~mask)
        with np.errstate(all="ignore"):
            self.Q = xp.where(keep[:, None, None], self.Q, xp.zeros_like(self.Q))
            self.Rt = xp.where(keep[:, None, None], self.Rt, xp.zeros_like(self.Rt))
            self.v = xp.where(keep[:, None], self.v, xp.zeros_like(self.v))

