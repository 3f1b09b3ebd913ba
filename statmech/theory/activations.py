"""Activation functions of the committee machine and their Gaussian integrals.

Three activations are provided (``docs/ode_theory.md`` §1.3-1.4):

============ ====================  ==========================
name         g(x)                  g'(x)
============ ====================  ==========================
``"erf"``    erf(x/√2)             √(2/π)·exp(−x²/2)
``"linear"`` x                     1
``"relu"``   max(x, 0)             1{x > 0}  (0 at x = 0)
============ ====================  ==========================

For jointly Gaussian fields x ~ N(0, C), the ODEs need (first arguments differentiated)

* I2(a, b)       = E[g(x_a) g(x_b)]
* J2(a, b)       = E[g'(x_a) g'(x_b)]
* I3(a, b, c)    = E[g'(x_a) · x_b · g(x_c)]
* I4(a, b, c, d) = E[g'(x_a) g'(x_b) g(x_c) g(x_d)]

Each :class:`Activation` evaluates them for index tuples into a covariance ``C`` of shape
``(..., D, D)``; the indices broadcast against each other like NumPy arrays. Where the fields in
non-differentiated positions use a different activation (a ReLU teacher seen by an erf student),
pass it as ``other``/``other_c``/``other_d``. The entry-level formulas live in
:mod:`statmech.theory.gaussian_integrals` (closed forms where they exist, otherwise a deterministic
quadrature, absolute accuracy ≤ 1e-9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from .._validation import InvalidParameterError, check_choice
from . import gaussian_integrals as _ig

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]

_SQRT2 = np.sqrt(2.0)
_SQRT2_PI = np.sqrt(2.0 / np.pi)


def _submatrix(C: Any, *indices: Any) -> np.ndarray:
    """Gather covariance submatrices for broadcast index tuples.

    ``C`` has shape (..., D, D); the result has shape (..., *broadcast(indices).shape, n, n) with
    n = len(indices), entry [..., t, p, q] = C[..., idx_p[t], idx_q[t]].
    """
    C = np.asarray(C, dtype=float)
    if C.ndim < 2 or C.shape[-1] != C.shape[-2]:
        raise InvalidParameterError(
            "The 'C' parameter must be a square covariance of shape (..., D, D). "
            f"Got shape {C.shape}."
        )
    D = C.shape[-1]
    idx = np.broadcast_arrays(*[np.asarray(i) for i in indices])
    for i in idx:
        if not np.issubdtype(i.dtype, np.integer) or np.any((i < 0) | (i >= D)):
            raise ValueError(f"Field indices must be integers in [0, {D - 1}]. Got {i!r}.")
    stacked = np.stack(idx, axis=-1)
    n = stacked.shape[-1]
    rows = np.broadcast_to(stacked[..., :, None], stacked.shape[:-1] + (n, n))
    cols = np.broadcast_to(stacked[..., None, :], stacked.shape[:-1] + (n, n))
    return C[..., rows, cols]


@dataclass(frozen=True)
class Activation:
    """One activation function: its value, derivative and Gaussian integrals.

    Use the module-level instances through :func:`get_activation` (``"erf"``, ``"linear"``,
    ``"relu"``); instances compare equal by name.
    """

    name: str

    def g(self, x: Any) -> np.ndarray:
        """The activation g(x)."""
        x = np.asarray(x, dtype=float)
        if self.name == "erf":
            return erf(x / _SQRT2)
        if self.name == "linear":
            return x.copy()
        return np.maximum(x, 0.0)

    def dg(self, x: Any) -> np.ndarray:
        """The derivative g'(x) (for ReLU: 1{x > 0}, so 0 at x = 0)."""
        x = np.asarray(x, dtype=float)
        if self.name == "erf":
            return _SQRT2_PI * np.exp(-0.5 * x * x)
        if self.name == "linear":
            return np.ones_like(x)
        return (x > 0).astype(float)

    # --- Gaussian integrals over index tuples -------------------------------------------
    def I2(self, C: Any, a: Any, b: Any, other: Activation | str | None = None) -> np.ndarray:
        """E[g(x_a) h(x_b)], h = ``other`` (default: this activation);
        ``docs/ode_theory.md`` §1.3."""
        h = get_activation(other) if other is not None else self
        return _ig.I2(_submatrix(C, a, b), self.name, h.name)

    def J2(self, C: Any, a: Any, b: Any) -> np.ndarray:
        """E[g'(x_a) g'(x_b)]; ``docs/ode_theory.md`` §1.3."""
        return _ig.J2(_submatrix(C, a, b), self.name)

    def I3(
        self, C: Any, a: Any, b: Any, c: Any, other: Activation | str | None = None
    ) -> np.ndarray:
        """E[g'(x_a) x_b h(x_c)] with h = ``other`` (default: this activation); §1.3."""
        h = get_activation(other) if other is not None else self
        return _ig.I3(_submatrix(C, a, b, c), self.name, h.name)

    def I4(
        self,
        C: Any,
        a: Any,
        b: Any,
        c: Any,
        d: Any,
        other_c: Activation | str | None = None,
        other_d: Activation | str | None = None,
    ) -> np.ndarray:
        """E[g'(x_a) g'(x_b) h_c(x_c) h_d(x_d)] (h default: this activation); §1.3."""
        hc = get_activation(other_c) if other_c is not None else self
        hd = get_activation(other_d) if other_d is not None else self
        return _ig.I4(_submatrix(C, a, b, c, d), self.name, hc.name, hd.name)


ACTIVATIONS: dict[str, Activation] = {n: Activation(n) for n in ("erf", "linear", "relu")}


def get_activation(
    activation: Activation | str, name: str = "activation", func: str = "statmech"
) -> Activation:
    """Return the :class:`Activation` for a name (``"erf"``, ``"linear"``, ``"relu"``).

    Raises ``ValueError`` naming the parameter ``name`` of ``func`` for an unknown activation.
    """
    if isinstance(activation, Activation):
        return activation
    return ACTIVATIONS[check_choice(activation, name, func, ACTIVATIONS)]
