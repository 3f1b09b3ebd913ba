"""Settings objects of :func:`statmech.simulate` besides the model: the initial student and how
the arrays are computed.

* :class:`StudentInit`: given initial weights, or the scale of Gaussian ones, and the initial
  second-layer weights v = ``v`` + ``v_scale`` · N(0, 1) per unit.
* :class:`BackendOptions`: array library, device, floating-point precision and how many
  members are advanced together.

Both are frozen and validated on construction (errors name the field, the allowed range and
the value); ``simulate`` also accepts the short forms (an array of weights for ``init``, a
library name for ``backend``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import Integer, InvalidParameterError, Options, Real, check
from .backend import _DTYPES, _TEST_BACKENDS, BACKENDS

__all__ = ["BackendOptions", "StudentInit"]


def _short(value: Any) -> str:
    if value is None or np.ndim(value) == 0:
        return repr(value if value is None or isinstance(value, str) else float(value))
    return f"<array {np.shape(value)}>"


@dataclass(frozen=True, repr=False)
class StudentInit:
    """The initial student of :func:`statmech.simulate` (each member from its own stream).

    Parameters
    ----------
    weights : array (K, N) or (E, K, N), optional
        Initial first-layer weights (checked against K, N and the ensemble by ``simulate``).
        Default: rows ~ N(0, scale² I_N).
    scale : float
        Standard deviation of the default Gaussian weights, > 0 (ignored with ``weights``).
    v : float or array (K,) or (E, K)
        Initial second-layer weights (default 1: the soft committee machine).
    v_scale : float
        Standard deviation >= 0 of Gaussian noise added to ``v`` per unit and member.
    mask : bool array (K, N) or (E, K, N), optional
        Fixed masks: unit k sees input i only if ``mask[k, i]`` (sparse training, retraining a
        pruned student). Weights off the mask are zero from the start and stay zero
        (``docs/masked_theory.md`` §1); ``method="full"`` only.

    Examples
    --------
    >>> from statmech import StudentInit
    >>> StudentInit(scale=0.1, v_scale=0.5)
    StudentInit(scale=0.1, v=1.0, v_scale=0.5)
    """

    weights: Any = None
    scale: float = 1.0
    v: Any = 1.0
    v_scale: float = 0.0
    mask: Any = None

    def __post_init__(self) -> None:
        func = "StudentInit"
        check(self.scale, "scale", func, [Real(0, None, "neither")])
        check(self.v_scale, "v_scale", func, [Real(0)])
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "v_scale", float(self.v_scale))
        if self.mask is not None:
            m = np.asarray(self.mask)
            if m.dtype != bool or m.ndim not in (2, 3):
                raise InvalidParameterError.build(
                    func, "mask", "a boolean array of shape (K, N) or (E, K, N)",
                    f"{m.dtype} array of shape {m.shape}")
            m = m.copy()
            m.flags.writeable = False
            object.__setattr__(self, "mask", m)

    def __repr__(self) -> str:
        head = "" if self.weights is None else f"weights={_short(self.weights)}, "
        tail = "" if self.mask is None else f", mask={_short(self.mask)}"
        return (f"StudentInit({head}scale={self.scale:g}, v={_short(self.v)}, "
                f"v_scale={self.v_scale:g}{tail})")


@dataclass(frozen=True)
class BackendOptions:
    """How :func:`statmech.simulate` computes: array library, device, precision, chunking.

    Parameters
    ----------
    name : {"numpy", "torch", "cupy"}
        Array library (:func:`statmech.get_backend`).
    device : str or int, optional
        torch device string or CuPy GPU index.
    dtype : {"float64", "float32"}
        Floating-point precision of the SGD steps.
    chunk_size : int, optional
        Members advanced together (default: as many as keep the working set within 512 MiB,
        and within the GPU's free memory).

    Examples
    --------
    >>> from statmech import BackendOptions
    >>> BackendOptions("torch", dtype="float32")
    BackendOptions(name='torch', device=None, dtype='float32', chunk_size=None)
    """

    name: str = "numpy"
    device: Any = None
    dtype: str = "float64"
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        func = "BackendOptions"
        check(self.name, "name", func, [Options(BACKENDS + _TEST_BACKENDS)])
        check(self.dtype, "dtype", func, [Options(_DTYPES[::-1])])
        check(self.chunk_size, "chunk_size", func, [None, Integer(1)])
