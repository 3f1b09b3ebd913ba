"""Full-N online SGD of E explicit teacher–student pairs, batched on an array backend.

Each member holds its weights A = [W; W*] (K + M rows of length N) on the backend. One step
draws B fresh inputs x ~ N(0, I_N) per member, computes all K + M local fields with one batched
matrix product, and applies the update of
:class:`statmech.simulation.sgd_engine.EngineSettings` to W (and v).
Per step and member this costs about (4K + 2M)·N·B flops plus N·B Gaussian draws
(``docs/ode_theory.md`` §4.1); the draws dominate on the CPU. Inputs are drawn per member in blocks
of :func:`full_block_steps` steps.
"""

from __future__ import annotations

import math

import numpy as np

from .backend import Backend
from .sgd_engine import Engine, EngineSettings

__all__ = ["FullEngine"]


def full_block_steps(N: int, B: int, gpu: bool = False) -> int:
    """Steps per random-number block of the full-N engine (independent of E).

    2¹⁶ numbers per member and block on the CPU; 2¹⁸ on a GPU, where each member's draw is a
    kernel launch and larger blocks amortise it.
    """
    return max(1, (2**18 if gpu else 2**16) // (B * N))


class FullEngine(Engine):
    """Batched full-N SGD.

    Parameters
    ----------
    be : Backend
    model : EngineSettings
    seeds : list of SeedSequence
        One per member.
    W, W_star : ndarray (E, K, N), (E, M, N)
        Initial student and teacher weights (host arrays).
    v, v_star : ndarray (E, K), (E, M)
    mask : bool ndarray (E, K, N), optional
        Fixed masks: after every step the student weights off the mask are set back to zero
        (``W`` must already vanish there), i.e. the update of unit k is (η/√N) v_k g' Δ m_k ⊙ x.
    """

    def __init__(self, be: Backend, model: EngineSettings, seeds: list, W: np.ndarray,
                 W_star: np.ndarray, v: np.ndarray, v_star: np.ndarray,
                 mask: np.ndarray | None = None) -> None:
        self.block_steps = full_block_steps(model.N, model.batch_size, be.is_gpu)
        super().__init__(be, model, seeds)
        dt, K = model.dtype, model.K
        self.A = be.asarray(np.concatenate([W, W_star], axis=1), dt)  # (E, K+M, N)
        self.W = self.A[:, :K, :]  # a view: updates write into A
        self.v = be.asarray(v, dt)
        self.v_star = be.asarray(v_star, dt)[:, :, None]  # (E, M, 1)
        self._inv_sqrt_n = 1.0 / math.sqrt(model.N)
        B = model.batch_size
        self._c_w = self._dg_scale * model.eta / (B * math.sqrt(model.N))  # g' = scale·dg_l
        self._c_v = model.eta_v / (B * model.N)
        self._decay = model.decay
        self._X = None
        self._Z = None
        self._mask = None if mask is None else be.asarray(mask, dt)

    def _draw_block(self) -> None:
        m = self.model
        self._X = self.be.normal_block(self._input_gens, (self.block_steps, m.batch_size, m.N),
                                       m.dtype)
        self._Z = self._noise_block((self.block_steps, m.batch_size))

    def step_with(self, x, z=None) -> None:
        """One SGD step on given inputs x (E, B, N) and label noise z (E, B) (None: no noise)."""
        xp, m, K, mT = self.xp, self.model, self.model.K, self._mT
        f = xp.matmul(x, mT(self.A)) * self._inv_sqrt_n  # (E, B, K+M): all fields at once
        lam = f[:, :, :K]
        g_l, dg_l = self.g_dg_s(lam)
        y = xp.matmul(self.g_t(f[:, :, K:]), self.v_star)  # (E, B, 1)
        if z is not None:
            y = y + m.noise * z[:, :, None]
        delta = y - xp.matmul(g_l, self.v[:, :, None])  # (E, B, 1)
        coef = dg_l * ((self._c_w * self.v)[:, None, :] * delta)  # (E, B, K)
        if self._decay != 1.0:
            self.W *= self._decay
        if m.batch_size == 1:
            self.W += mT(coef) * x  # (E, K, 1) * (E, 1, N): an outer product per member
        else:
            self.W += xp.matmul(mT(coef), x)  # (E, K, B) @ (E, B, N)
        if self._mask is not None:
            self.W *= self._mask  # only the kept weights move (the others were 0 before)
        if m.train_second_layer:
            dv = self._c_v * xp.matmul(mT(g_l), delta)[:, :, 0]
            self.v = self._decay * self.v + dv if self._decay != 1.0 else self.v + dv

    def _step(self, s: int) -> None:
        self.step_with(self._X[:, s, ...], None if self._Z is None else self._Z[:, s, ...])

    def order_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Host (Q, R, T, v) from the current weights (Gram matrices / N)."""
        xp, K = self.xp, self.model.K
        G = self.be.to_numpy(xp.matmul(self.A, xp.permute_dims(self.A, (0, 2, 1)))).astype(
            np.float64) / self.model.N
        return (G[:, :K, :K], G[:, :K, K:], G[:, K:, K:],
                self.be.to_numpy(self.v).astype(np.float64))

    def max_qkk(self) -> np.ndarray:
        """Host max_k Q_kk per member (cheap divergence check); NaN for a member whose v is not
        finite (an overflowing second layer diverges too, while Q may still be finite)."""
        xp = self.xp
        q = xp.max(xp.sum(self.W * self.W, axis=2), axis=1) / self.model.N
        q = q + 0.0 * xp.sum(self.v, axis=1)  # + 0 if v is finite, NaN otherwise
        return self.be.to_numpy(q).astype(np.float64)

    def weights_into(self, W: np.ndarray, W_star: np.ndarray, v: np.ndarray) -> None:
        """Write the host (W, W*, v) into given float64 arrays (no intermediate copies: the
        final weights of a large ensemble are the bulk of :func:`simulate`'s memory)."""
        K = self.model.K
        A = self.be.to_numpy(self.A)
        W[...] = A[:, :K]
        W_star[...] = A[:, K:]
        v[...] = self.be.to_numpy(self.v)

    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Host (W, W*, v)."""
        K = self.model.K
        A = self.be.to_numpy(self.A).astype(np.float64)
        return A[:, :K].copy(), A[:, K:].copy(), self.be.to_numpy(self.v).astype(np.float64)

    def _freeze(self, mask: np.ndarray) -> None:
        """Zero the student weights and v of frozen members: λ = 0 and v = 0 keep them at 0."""
        xp = self.xp
        keep = self._mask_array(~mask)
        with np.errstate(all="ignore"):
            self.A[:, : self.model.K, :] = xp.where(keep[:, None, None], self.W,
                                                     xp.zeros_like(self.W))
            self.v = xp.where(keep[:, None], self.v, xp.zeros_like(self.v))
