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

from .backend import Backend
from .sgd_engine import Engine, SGDModel

__all__ = ["REDUCED_BLOCK_STEPS", "ReducedEngine"]

REDUCED_BLOCK_STEPS = 256


def _sym_pow(T: np.ndarray, power: float) -> np.ndarray:
    """T^power for a batch (E, M, M) of symmetric PSD matrices (pseudo-inverse powers)."""
    w, V = np.linalg.eigh(0.5 * (T + np.swapaxes(T, -1, -2)))
    w = np.clip(w, 0.0, None)
    if power < 0:
        tol = w.max(axis=-1, keepdims=True) * T.shape[-1] * np.finfo(float).eps * 10
        r = np.where(w > tol, np.where(w > tol, w, 1.0) ** power, 0.0)
    else:
        r = w**power
    return (V * r[..., None, :]) @ np.swapaxes(V, -1, -2)


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
        self.Q = be.asarray(Q, dt)
        self.R = be.asarray(R, dt)
        self.T = np.asarray(T, dtype=np.float64)
        self.v = be.asarray(v, dt)
        self.v_star = be.asarray(v_star, dt)[:, None, :]  # (E, 1, M)
        self._Th = be.asarray(_sym_pow(self.T, 0.5), dt)
        self._Tmh = be.asarray(_sym_pow(self.T, -0.5), dt)
        N, M, K, B = model.N, model.M, model.K, model.batch_size
        self._dof = N - M - K
        c = 1.0 / (B * N)
        self._c_r = model.eta * c
        self._c_q2 = model.eta**2 * c / B
        self._c_v = model.eta_v * c
        self._blocks: dict = {}

    def _draw_block(self) -> None:
        m, be = self.model, self.be
        Bk, B, K, M = self.block_steps, m.batch_size, m.K, m.M
        E = self.E
        a = np.empty((E, Bk, B, M))
        b = np.empty((E, Bk, B, K))
        nw = B * (B - 1) // 2
        chi = np.empty((E, Bk, B))
        off = np.empty((E, Bk, nw))
        for e, gen in enumerate(self._input_gens):
            gen.standard_normal(out=a[e])
            gen.standard_normal(out=b[e])
            chi[e] = gen.chisquare(self._dof - np.arange(B), size=(Bk, B))
            if nw:
                gen.standard_normal(out=off[e])
        dt = m.dtype
        blk = {"a": be.asarray(a, dt), "b": be.asarray(b, dt)}
        if not self.exact_norm:
            blk["G"] = None
        elif B == 1:
            nrm = (np.sum(a * a, axis=-1) + np.sum(b * b, axis=-1) + chi) / m.N  # (E, Bk, 1)
            blk["G"] = be.asarray(nrm[..., None], dt)  # (E, Bk, 1, 1)
        else:
            L = np.zeros((E, Bk, B, B))
            idx = np.arange(B)
            L[..., idx, idx] = np.sqrt(chi)
            rows, cols = np.tril_indices(B, -1)
            L[..., rows, cols] = off
            G = (a @ np.swapaxes(a, -1, -2) + b @ np.swapaxes(b, -1, -2)
                 + L @ np.swapaxes(L, -1, -2)) / m.N
            blk["G"] = be.asarray(G, dt)
        z = self._noise_block((Bk, B))
        blk["z"] = z
        self._blocks = blk

    def fields(self, a, b):
        """Local fields (λ, ρ), shapes (E, B, K) and (E, B, M), from standard normals a, b.

        ρ = T^½ a and λ = R T^{-½} a + F b with F = V diag(√s), S = Q − R T⁻¹Rᵀ = V diag(s) Vᵀ
        (module docstring); negative round-off eigenvalues of S are clipped to 0.
        """
        xp = self.xp
        mT = xp.permute_dims
        La = xp.matmul(self.R, self._Tmh)  # R T^{-1/2}, (E, K, M)
        S = self.Q - xp.matmul(La, mT(La, (0, 2, 1)))
        S = 0.5 * (S + mT(S, (0, 2, 1)))
        s, V = xp.linalg.eigh(S)
        s = xp.where(s > 0, s, xp.zeros_like(s))
        F = V * xp.sqrt(s)[:, None, :]
        rho = xp.matmul(a, self._Th)  # (E, B, M); T^½ is symmetric
        lam = xp.matmul(a, mT(La, (0, 2, 1))) + xp.matmul(b, mT(F, (0, 2, 1)))
        return lam, rho

    def update(self, lam, rho, G, z=None) -> None:
        """Apply one SGD step given the fields and the batch Gram G = x_b·x_b'/N (E, B, B).

        The exact update of (Q, R, v) in the module docstring; ``G=None`` means the identity.
        """
        xp, m = self.xp, self.model
        mT = xp.permute_dims
        g_l = self.g_s(lam)
        y = xp.sum(self.v_star * self.g_t(rho), axis=2)  # (E, B)
        if z is not None:
            y = y + m.noise * z
        delta = y - xp.sum(self.v[:, None, :] * g_l, axis=2)
        c = self.v[:, None, :] * self.dg_s(lam) * delta[:, :, None]  # (E, B, K)
        ct = mT(c, (0, 2, 1))
        d = m.decay
        cl = xp.matmul(ct, lam)
        cGc = xp.matmul(ct, c) if G is None else xp.matmul(ct, xp.matmul(G, c))
        lin = self._c_r * (cl + mT(cl, (0, 2, 1)))
        if m.weight_decay > 0:
            self.Q = d * d * self.Q + d * lin + self._c_q2 * cGc
            self.R = d * self.R + self._c_r * xp.matmul(ct, rho)
        else:
            self.Q = self.Q + lin + self._c_q2 * cGc
            self.R = self.R + self._c_r * xp.matmul(ct, rho)
        if m.train_second_layer:
            dv = self._c_v * xp.sum(g_l * delta[:, :, None], axis=1)
            self.v = d * self.v + dv if m.weight_decay > 0 else self.v + dv

    def step_with(self, a, b, G, z=None) -> None:
        """One step from standard normals a (E, B, M), b (E, B, K) and the Gram G (E, B, B)."""
        lam, rho = self.fields(a, b)
        self.update(lam, rho, G, z)

    def _step(self, s: int) -> None:
        blk = self._blocks
        G = None if blk["G"] is None else blk["G"][:, s, ...]
        z = None if blk["z"] is None else blk["z"][:, s, ...]
        self.step_with(blk["a"][:, s, ...], blk["b"][:, s, ...], G, z)

    def order_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Host (Q, R, T, v)."""
        be = self.be
        Q = be.to_numpy(self.Q).astype(np.float64)
        return (0.5 * (Q + np.swapaxes(Q, -1, -2)), be.to_numpy(self.R).astype(np.float64),
                self.T.copy(), be.to_numpy(self.v).astype(np.float64))

    def max_qkk(self) -> np.ndarray:
        """Host max_k Q_kk per member."""
        xp = self.xp
        q = xp.max(xp.linalg.diagonal(self.Q), axis=1)
        return self.be.to_numpy(q).astype(np.float64)

    def _freeze(self, mask: np.ndarray) -> None:
        """Frozen members: Q = R = 0 and v = 0 (then λ ≡ 0 and nothing moves)."""
        xp = self.xp
        keep = self._mask_array(~mask)
        with np.errstate(all="ignore"):
            self.Q = xp.where(keep[:, None, None], self.Q, xp.zeros_like(self.Q))
            self.R = xp.where(keep[:, None, None], self.R, xp.zeros_like(self.R))
            self.v = xp.where(keep[:, None], self.v, xp.zeros_like(self.v))

