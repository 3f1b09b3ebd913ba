"""Shared machinery of the two online-SGD simulation engines (full-N and reduced chain).

Both engines advance E independent members in lock-step, one SGD step at a time, with the
array code written once against the array API (:mod:`statmech.simulation.backend`). Random numbers
are
drawn per member in blocks of a fixed number of steps that depends only on (N, B) and the engine,
never on E, so a member's stream (and hence its trajectory) is the same whatever the ensemble
size or the chunking of the ensemble into batches.

Each member's ``SeedSequence`` (spawn key (i,), :func:`statmech.simulation.backend.member_seeds`)
has
children (i, 0) for the initial weights / order parameters, (i, 1) for the inputs (or fields),
(i, 2) for the label noise and (i, 3) for the weight reconstruction of the reduced chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .backend import Backend, get_backend

STREAM_INIT, STREAM_INPUTS, STREAM_NOISE, STREAM_RECONSTRUCT = 0, 1, 2, 3

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_SQRT2_PI = math.sqrt(2.0 / math.pi)


def child_seed(ss: np.random.SeedSequence, stream: int) -> np.random.SeedSequence:
    """The child of a member's SeedSequence for one of the ``STREAM_*`` purposes."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (stream,))


class BackendActivation(NamedTuple):
    """An activation on backend arrays: g, and (g, g'/dg_scale) in one pass.

    Returning g' up to the constant ``dg_scale`` lets the engines fold that constant into their
    learning-rate coefficients (one array operation less per step).
    """

    g: Callable
    g_and_dg: Callable
    dg_scale: float


def backend_activation(name: str, be: Backend) -> BackendActivation:
    """The activation ``name`` on backend arrays (same definitions as :mod:`activations`).

    erf: g(x) = erf(x/√2), g'(x) = √(2/π) exp(−x²/2) (dg_scale = √(2/π)); linear: x, 1;
    relu: max(x, 0), 1[x > 0].
    """
    xp = be.xp
    if name == "erf":
        def erf_g_dg(x):
            u = x * _INV_SQRT2
            return be.erf(u), xp.exp(-(u * u))

        return BackendActivation(lambda x: be.erf(x * _INV_SQRT2), erf_g_dg, _SQRT2_PI)
    if name == "linear":
        return BackendActivation(lambda x: x, lambda x: (x, xp.ones_like(x)), 1.0)
    if name == "relu":
        def relu_g_dg(x):
            pos = x > 0
            return xp.where(pos, x, 0.0), xp.astype(pos, x.dtype)

        return BackendActivation(lambda x: xp.maximum(x, 0.0), relu_g_dg, 1.0)
    raise ValueError(f"unknown activation {name!r}")  # pragma: no cover - validated upstream


@dataclass(frozen=True)
class EngineSettings:
    """Sizes and scalar model parameters shared by the engines (from :func:`statmech.simulate`
    and its validated :class:`statmech.SGDModel`).

    One SGD step on a mini-batch of B fresh samples (``docs/ode_theory.md`` §1.1), d = 1 − κ/N:
    w_k ← d w_k + (η/(B√N)) Σ_b v_k g'(λ_kb) Δ_b x_b and
    v_k ← d v_k + (η_v/(BN)) Σ_b g(λ_kb) Δ_b, with Δ_b = Σ_m v*_m g(ρ_mb) + σ ζ_b − Σ_k v_k g(λ_kb).
    """

    N: int
    K: int
    M: int
    eta: float
    eta_v: float
    noise: float
    weight_decay: float
    batch_size: int
    train_second_layer: bool
    student: str
    teacher: str
    dtype: str

    @property
    def decay(self) -> float:
        """d = 1 − κ/N."""
        return 1.0 - self.weight_decay / self.N


class Engine:
    """Block-wise stepping, divergence freezing and bookkeeping common to both engines.

    Subclasses set ``block_steps`` and implement ``_draw_block(gens)``, ``_step(s)``,
    ``order_parameters()`` (host (Q, R, T, v)) and ``_freeze(mask)``.
    """

    block_steps: int = 1
    #: Draw random numbers with NumPy on the host (and copy them to the backend) rather than
    #: with the backend's own generators.
    host_random: bool = False

    def __init__(self, be: Backend, model: EngineSettings, seeds: list) -> None:
        self.be = be
        self.xp = be.xp
        self.model = model
        self.E = len(seeds)
        self.seeds = seeds
        student = backend_activation(model.student, be)
        self.g_dg_s, self._dg_scale = student.g_and_dg, student.dg_scale  # g'/dg_scale
        self.g_t = backend_activation(model.teacher, be).g
        probe = be.asarray(np.zeros((1, 1, 1)))
        self._mT = (lambda x: x.mT) if hasattr(probe, "mT") else (
            lambda x: be.xp.permute_dims(x, (0, 2, 1)))  # matrix transpose of (E, r, c)
        self._rng_be = get_backend("numpy") if self.host_random else be
        self._gens: tuple | None = None  # created on the first block (step_with needs none)
        self._pos = self.block_steps  # forces a draw on the first step
        self.frozen = np.zeros(self.E, dtype=bool)

    def advance(self, n: int, progress: Any = None) -> None:
        """Take ``n`` SGD steps on every member."""
        while n > 0:
            if self._pos == self.block_steps:
                self._draw_block()
                self._pos = 0
            m = min(n, self.block_steps - self._pos)
            for s in range(self._pos, self._pos + m):
                self._step(s)
            self._pos += m
            n -= m
            if progress is not None:
                progress.update(m)

    @property
    def _input_gens(self) -> list:
        return self._generators()[0]

    @property
    def _noise_gens(self) -> list | None:
        return self._generators()[1]

    def _generators(self) -> tuple:
        if self._gens is None:
            rb, seeds = self._rng_be, self.seeds
            self._gens = (
                rb.generators([child_seed(s, STREAM_INPUTS) for s in seeds]),
                rb.generators([child_seed(s, STREAM_NOISE) for s in seeds])
                if self.model.noise > 0 else None,
            )
        return self._gens

    def _noise_block(self, shape: tuple[int, ...]) -> Any:
        """Label-noise standard normals (E, *shape) from the members' noise streams."""
        if self._noise_gens is None:
            return None
        return self.be.normal_block(self._noise_gens, shape, self.model.dtype)

    def freeze(self, mask: np.ndarray) -> None:
        """Stop members (diverged): their state is reset to a finite inert value."""
        new = mask & ~self.frozen
        if new.any():
            self.frozen |= new
            self._freeze(new)

    # subclass hooks
    def _draw_block(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, s: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _freeze(self, mask: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def order_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _mask_array(self, mask: np.ndarray) -> Any:
        """A boolean member mask as a backend array."""
        return self.xp.asarray(self.be.asarray(mask.astype(float)) > 0.5)
