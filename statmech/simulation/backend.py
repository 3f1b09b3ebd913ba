"""Array backends and random streams for the simulations: NumPy (default), torch and CuPy.

Array code is written once against the array API standard; :func:`get_backend` returns a
:class:`Backend` whose ``xp`` is the standard namespace of the library (``numpy`` itself, or
``array_api_compat``'s wrappers for torch and CuPy, from the ``array-api-compat`` package). The
standard has no random numbers, so the backend adds a small shim: one generator per ensemble
member, seeded from ``numpy.random.SeedSequence(seed).spawn(...)``. Member i's stream is the
child with spawn key (i,), whatever the ensemble size or chunking, so a member's draws are
bit-identical for a given seed, backend, device and dtype. (Arithmetic on GPUs may still differ in
the last bits between batch shapes: cuBLAS and friends pick kernels by shape.) Across backends
(and between CPU and CUDA in torch) the streams differ and agree only in distribution.

torch and CuPy are imported lazily here and nowhere else in :mod:`statmech`. CuPy counts as
available only when ``cupy.is_available()`` (the package imports without a GPU).

Besides the three user-facing backends, ``get_backend("array-api-strict")`` returns the strict
reference namespace (package ``array-api-strict``, a test dependency). It runs on the CPU through
NumPy and exists to check that the simulation code uses only standard calls; its random numbers
are NumPy's (same streams as the ``"numpy"`` backend) and its ``erf`` goes through SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf as _scipy_erf

from .._validation import check_choice

__all__ = ["BACKENDS", "Backend", "cupy_available", "get_backend", "member_seeds"]


def cupy_available() -> bool:
    """Whether CuPy is installed *and* finds a usable GPU (``cupy.is_available()``)."""
    import importlib.util

    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    return bool(cupy.is_available())

BACKENDS = ("numpy", "torch", "cupy")
_TEST_BACKENDS = ("array-api-strict",)
_DTYPES = ("float32", "float64")


def member_seeds(seed: int | np.random.SeedSequence, members: range | int) -> list:
    """SeedSequences of ensemble members: child i of ``SeedSequence(seed)`` has spawn key (i,).

    ``members`` is a count (members 0..n-1) or a range (e.g. one chunk of a larger ensemble);
    member i gets the same sequence in every case.
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    idx = range(members) if isinstance(members, int) else members
    return [
        np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (i,))
        for i in idx
    ]


@dataclass(frozen=True)
class Backend:
    """An array namespace plus per-member random streams on one device.

    Attributes
    ----------
    name : {"numpy", "torch", "cupy"}
    xp : module
        Array-API namespace of the library.
    device : object
        Device arrays are created on (``"cpu"`` for NumPy).
    """

    name: str
    xp: Any
    device: Any

    def dtype(self, name: str) -> Any:
        """The backend dtype for ``"float32"`` or ``"float64"``."""
        check_choice(name, "dtype", "Backend.dtype", _DTYPES)
        return getattr(self.xp, name)

    def asarray(self, x: Any, dtype: str = "float64") -> Any:
        """Copy array-like ``x`` to this backend and device."""
        if self.name == "numpy":
            return np.asarray(x, dtype=dtype)
        if self.name == "array-api-strict":
            return self.xp.asarray(np.asarray(x, dtype=dtype))
        if self.name == "cupy":
            import cupy

            with cupy.cuda.Device(self.device):
                return cupy.asarray(np.asarray(x, dtype=dtype))
        # a copy: torch warns on (and must not share) read-only NumPy buffers
        return self.xp.asarray(np.array(x, dtype=dtype), device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy copy of a backend array."""
        if self.name == "numpy":
            return np.asarray(x)
        if self.name == "torch":
            return x.detach().cpu().numpy()
        if self.name == "array-api-strict":
            return np.from_dlpack(x).copy()
        import cupy

        return cupy.asnumpy(x)

    @property
    def is_gpu(self) -> bool:
        """Whether arrays live on a GPU (CuPy, or torch on CUDA)."""
        return self.name == "cupy" or (self.name == "torch" and self.device.type == "cuda")

    def erf(self, x: Any) -> Any:
        """The error function, elementwise (not part of the array API standard)."""
        if self.name == "numpy":
            return _scipy_erf(x)
        if self.name == "torch":
            import torch

            return torch.special.erf(x)
        if self.name == "cupy":
            import cupyx.scipy.special

            return cupyx.scipy.special.erf(x)
        return self.xp.asarray(_scipy_erf(np.from_dlpack(x)))

    def normal_block(self, generators: list, shape: tuple[int, ...], dtype: str = "float64"):
        """Standard normals of shape ``(len(generators), *shape)``, row e from generator e.

        Each member's draws depend only on its own generator and ``shape``, never on how many
        members are drawn together.
        """
        E = len(generators)
        if self.name in ("numpy", "array-api-strict"):
            out = np.empty((E,) + tuple(shape), dtype=dtype)
            for e, gen in enumerate(generators):
                gen.standard_normal(out=out[e], dtype=dtype)
            return out if self.name == "numpy" else self.xp.asarray(out)
        if self.name == "torch":
            import torch

            out = torch.empty((E,) + tuple(shape), dtype=self.dtype(dtype), device=self.device)
            for e, gen in enumerate(generators):
                torch.randn(shape, generator=gen, out=out[e])
            return out
        import cupy

        with cupy.cuda.Device(self.device):
            return cupy.stack([g.standard_normal(shape, dtype=dtype) for g in generators])

    def generators(self, seeds: list) -> list:
        """One generator per SeedSequence, on this backend's device."""
        if self.name in ("numpy", "array-api-strict"):
            return [np.random.default_rng(s) for s in seeds]
        state = [int(s.generate_state(1, np.uint64)[0]) for s in seeds]
        if self.name == "torch":
            import torch

            return [torch.Generator(device=self.device).manual_seed(v) for v in state]
        import cupy

        with cupy.cuda.Device(self.device):
            return [cupy.random.default_rng(v) for v in state]

    def standard_normal(self, generator: Any, shape: tuple[int, ...], dtype: str = "float64"):
        """Standard normal draws of ``shape`` from one member's generator."""
        if self.name == "numpy":
            return generator.standard_normal(shape, dtype=dtype)
        if self.name == "array-api-strict":
            return self.xp.asarray(generator.standard_normal(shape, dtype=dtype))
        if self.name == "torch":
            import torch

            return torch.randn(shape, generator=generator, dtype=self.dtype(dtype),
                               device=self.device)
        return generator.standard_normal(shape, dtype=dtype)


def _torch_backend(device: Any) -> Backend:
    try:
        import torch
        from array_api_compat import torch as xp_torch
    except ImportError:
        raise ValueError(
            "The 'backend' parameter is 'torch' but torch (or array-api-compat) is not installed. "
            "Install it with `pip install torch==2.13.0` (CPU) and "
            "`pip install 'statmech-pruning[torch]'`."
        ) from None
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"The 'device' parameter asks for {device!r}, but torch finds no CUDA device here. "
            "Use device='cpu' (or leave it unset)."
        )
    return Backend("torch", xp_torch, dev)


def _cupy_backend(device: Any) -> Backend:
    try:
        import cupy
        from array_api_compat import cupy as xp_cupy
    except ImportError:
        raise ValueError(
            "The 'backend' parameter is 'cupy' but CuPy (or array-api-compat) is not installed. "
            "Install the extra matching your CUDA: `pip install 'statmech-pruning[cuda12]'` or "
            "`[cuda13]`."
        ) from None
    if not cupy.is_available():
        raise ValueError(
            "The 'backend' parameter is 'cupy' but no usable CUDA GPU was found "
            "(cupy.is_available() is False). Use backend='numpy' or 'torch'."
        )
    return Backend("cupy", xp_cupy, 0 if device is None else int(device))


def _strict_backend() -> Backend:
    try:
        import array_api_strict
    except ImportError:
        raise ValueError(
            "The 'backend' parameter is 'array-api-strict' but that package is not installed "
            "(`pip install array-api-strict`; it is a test dependency)."
        ) from None
    return Backend("array-api-strict", array_api_strict, array_api_strict.Device("CPU_DEVICE"))


def get_backend(name: str = "numpy", device: Any = None) -> Backend:
    """The :class:`Backend` called ``name``: ``"numpy"`` (default), ``"torch"`` or ``"cupy"``.

    ``"array-api-strict"`` (for tests of portability; see the module docstring) is accepted too.

    Parameters
    ----------
    name : str
        Backend name.
    device : str or int, optional
        torch: a device string (default ``"cuda"`` if available, else ``"cpu"``); CuPy: a GPU
        index (default 0). Ignored for NumPy.

    Raises
    ------
    ValueError
        For an unknown name, a backend that is not installed, or a GPU that is not there.

    Examples
    --------
    >>> be = get_backend("numpy")
    >>> gens = be.generators(member_seeds(0, 2))
    >>> be.standard_normal(gens[0], (3,)).shape
    (3,)
    """
    if name in _TEST_BACKENDS:
        return _strict_backend()
    check_choice(name, "backend", "get_backend", BACKENDS)
    if name == "numpy":
        return Backend("numpy", np, "cpu")
    if name == "torch":
        return _torch_backend(device)
    return _cupy_backend(device)
