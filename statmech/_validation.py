"""Parameter checks shared by the public functions.

Messages follow the scikit-learn pattern: they name the parameter, the allowed range and the
value that was given, e.g. ``The 'eta' parameter of integrate must be a finite float > 0. Got -1
instead.``
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np


def _fmt(value: object) -> str:
    arr = np.asarray(value) if not isinstance(value, str) else None
    if arr is not None and arr.ndim > 0:
        flat = arr.ravel()
        shown = ", ".join(repr(x.item()) for x in flat[:6])
        more = ", ..." if flat.size > 6 else ""
        return f"an array of shape {arr.shape} ([{shown}{more}])"
    return repr(value)


def check_positive_int(value: object, name: str, func: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` unless it is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"The {name!r} parameter of {func} must be an int >= {minimum}. "
            f"Got {_fmt(value)} instead."
        )
    return int(value)


def check_real(
    value: object,
    name: str,
    func: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_array: bool = False,
) -> np.ndarray | float:
    """Check a real scalar (or array, if ``allow_array``) lies in the given interval.

    Returns a float, or a float64 array when ``allow_array`` and the input has dimensions.
    """
    lo = "" if low is None else (f">= {low}" if low_inclusive else f"> {low}")
    hi = "" if high is None else (f"<= {high}" if high_inclusive else f"< {high}")
    rng = " and ".join(s for s in (lo, hi) if s)
    kind = "a finite float (or an array of them)" if allow_array else "a finite float"
    msg = f"The {name!r} parameter of {func} must be {kind}{' ' + rng if rng else ''}."
    if isinstance(value, bool | str) or value is None:
        raise ValueError(f"{msg} Got {_fmt(value)} instead.")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{msg} Got {_fmt(value)} instead.") from None
    if arr.ndim > 0 and not allow_array:
        raise ValueError(f"{msg} Got {_fmt(value)} instead.")
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= (arr < low) if low_inclusive else (arr <= low)
    if high is not None:
        bad |= (arr > high) if high_inclusive else (arr >= high)
    if np.any(bad):
        shown = arr[bad].ravel()[0] if arr.ndim else value
        raise ValueError(f"{msg} Got {_fmt(shown)} instead.")
    return float(arr) if arr.ndim == 0 else arr


def check_choice(value: object, name: str, func: str, choices: Iterable[str]) -> str:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"The {name!r} parameter of {func} must be one of {', '.join(map(repr, choices))}. "
            f"Got {_fmt(value)} instead."
        )
    return value
