"""Declared parameter constraints: one mechanism, one exception type.

Every public function declares, per parameter, what it accepts (:func:`validate_params`, in the
style of scikit-learn's parameter validation, written here from scratch), and the table is
checked before any work. A violation raises :class:`InvalidParameterError` — a subclass of both
``ValueError`` and ``TypeError`` — whose message names the function, the parameter, what is
allowed and the value received, e.g.::

    The 'eta' parameter of integrate must be a finite float > 0 (or an array of them).
    Got -1 instead.

The exception keeps those four parts as attributes (``func``, ``param``, ``allowed``,
``value``) so that the command-line interfaces can say the same in terms of their flags
(``--on-divergence must be one of 'raise', 'mask'; got 'foo'``).

Constraints are small immutable objects (:class:`Integer`, :class:`Real`, :class:`Options`,
:class:`Boolean`, :class:`InstanceOf`, :class:`Seed`, :class:`ArrayLike`, ``None``). A parameter
passes when it satisfies any constraint of its list. The module holds no mutable state, so it is
safe under threads.

The helpers :func:`check_positive_int`, :func:`check_real` and :func:`check_choice` apply the
same constraints inside a function body (for checks that depend on other parameters, e.g.
``N >= K + M``), and :func:`check` applies any constraint list.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ArrayLike",
    "Boolean",
    "Callable_",
    "InstanceOf",
    "Integer",
    "InvalidParameterError",
    "ListOf",
    "Options",
    "Real",
    "Seed",
    "Shape",
    "check",
    "check_choice",
    "check_keys",
    "check_positive_int",
    "check_real",
    "validate_params",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter outside what a function accepts.

    Subclass of both ``ValueError`` and ``TypeError`` (a wrong type and a wrong value are the
    same mistake to a caller). Attributes: ``func`` (the function's name), ``param`` (the
    parameter), ``allowed`` (what is accepted, in words), ``value`` (the value received, as
    shown in the message); any may be None for errors raised with a free-form message.
    """

    def __init__(
        self,
        message: str,
        *,
        func: str | None = None,
        param: str | None = None,
        allowed: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        if param is None:  # a free-form message in the standard wording: recover its parts
            import re

            m = re.match(r"The '(\w+)' (?:parameter|field)(?: of ([\w.]+))?", message)
            if m:
                param, func = m.group(1), func or m.group(2)
        self.func = func
        self.param = param
        self.allowed = allowed
        self.value = value

    @classmethod
    def build(
        cls, func: str, param: str, allowed: str, value: object, detail: str = ""
    ) -> InvalidParameterError:
        """The standard message: ``The 'p' parameter of f must be <allowed>. Got <v> instead.``"""
        shown = _fmt(value)
        msg = f"The {param!r} parameter of {func} must be {allowed}. Got {shown} instead."
        if detail:
            msg += f" {detail}"
        return cls(msg, func=func, param=param, allowed=allowed, value=shown)


def _fmt(value: object) -> str:
    """Short, unambiguous rendering of a received value for error messages."""
    if isinstance(value, str | bytes | bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Number):
        return repr(value.item()) if isinstance(value, np.generic) else repr(value)
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything unprintable as an array is shown by its repr
        arr = None
    if arr is not None and arr.dtype != object and arr.ndim > 0:
        flat = arr.ravel()
        shown = ", ".join(repr(x.item()) for x in flat[:6])
        more = ", ..." if flat.size > 6 else ""
        return f"an array of shape {arr.shape} ([{shown}{more}])"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real_scalar(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
    )


def _interval_text(low: float | None, high: float | None, closed: str) -> str:
    lo_in = closed in ("both", "left")
    hi_in = closed in ("both", "right")
    parts = []
    if low is not None:
        parts.append(f">= {low}" if lo_in else f"> {low}")
    if high is not None:
        parts.append(f"<= {high}" if hi_in else f"< {high}")
    return " and ".join(parts)


def _outside(arr: np.ndarray, low: float | None, high: float | None, closed: str) -> np.ndarray:
    bad = np.zeros(arr.shape, dtype=bool)
    if low is not None:
        bad |= (arr < low) if closed in ("both", "left") else (arr <= low)
    if high is not None:
        bad |= (arr > high) if closed in ("both", "right") else (arr >= high)
    return bad


@dataclass(frozen=True)
class Integer:
    """An int (Python or NumPy integer, never a bool or a float such as 2.0) in [low, high]."""

    low: int | None = None
    high: int | None = None

    def accepts(self, value: object) -> bool:
        if not _is_int(value):
            return False
        return not bool(_outside(np.asarray(int(value), dtype=object), self.low, self.high,
                                 "both"))

    def describe(self) -> str:
        rng = _interval_text(self.low, self.high, "both")
        return f"an int{' ' + rng if rng else ''}"


@dataclass(frozen=True)
class Real:
    """A finite real number (not a bool or a string) in an interval; with ``array=True`` also a
    real array (any shape, every element finite and inside)."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"
    array: bool = False

    def accepts(self, value: object) -> bool:
        if _is_real_scalar(value) or (isinstance(value, np.ndarray) and value.ndim == 0
                                      and value.dtype.kind in "iuf"):
            v = float(value)
            return math.isfinite(v) and not bool(_outside(np.asarray(v), self.low, self.high,
                                                          self.closed))
        if not self.array or isinstance(value, str | bytes) or value is None:
            return False
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001
            return False
        if arr.dtype.kind not in "iuf" or arr.size == 0:
            return False
        arr = arr.astype(float)
        return bool(np.all(np.isfinite(arr))) and not bool(
            _outside(arr, self.low, self.high, self.closed).any())

    def describe(self) -> str:
        rng = _interval_text(self.low, self.high, self.closed)
        kind = "a finite float (or an array of them)" if self.array else "a finite float"
        return f"{kind}{' ' + rng if rng else ''}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (strings, typically)."""

    options: tuple

    def __init__(self, options: Iterable[Any]) -> None:
        object.__setattr__(self, "options", tuple(options))

    def accepts(self, value: object) -> bool:
        try:
            return any(type(value) is type(o) and value == o for o in self.options)
        except Exception:  # noqa: BLE001 - e.g. arrays compared with strings
            return False

    def describe(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(map(repr, self.options))


@dataclass(frozen=True)
class Boolean:
    """``True`` or ``False`` (a Python or NumPy bool; 0 and 1 are not booleans)."""

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool | np.bool_)

    def describe(self) -> str:
        return "a bool"


@dataclass(frozen=True)
class InstanceOf:
    """An instance of a type (or of one of several types)."""

    types: type | tuple[type, ...]
    name: str | None = None

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.types)

    def describe(self) -> str:
        if self.name:
            return self.name
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        return "an instance of " + " or ".join(t.__name__ for t in types)


@dataclass(frozen=True)
class Callable_:
    """Any callable."""

    def accepts(self, value: object) -> bool:
        return callable(value)

    def describe(self) -> str:
        return "a callable"


@dataclass(frozen=True)
class Seed:
    """A random seed: None, an int >= 0, a ``numpy.random.SeedSequence`` or ``Generator``."""

    def accepts(self, value: object) -> bool:
        if value is None or isinstance(value, np.random.SeedSequence | np.random.Generator):
            return True
        return _is_int(value) and int(value) >= 0

    def describe(self) -> str:
        return "None, an int >= 0, a numpy SeedSequence or a numpy Generator"


@dataclass(frozen=True)
class Shape:
    """A batch shape: an int >= 0 or a tuple of ints >= 0."""

    def accepts(self, value: object) -> bool:
        if isinstance(value, tuple):
            return all(_is_int(v) and int(v) >= 0 for v in value)
        return _is_int(value) and int(value) >= 0

    def describe(self) -> str:
        return "an int >= 0 or a tuple of ints >= 0"


@dataclass(frozen=True)
class ArrayLike:
    """A real array (list, tuple or ndarray) with the given number of dimensions, every entry
    finite; optionally non-empty."""

    ndim: int | tuple[int, ...] | None = None
    finite: bool = True
    nonempty: bool = True

    def accepts(self, value: object) -> bool:
        if isinstance(value, str | bytes | bool) or value is None:
            return False
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001
            return False
        if arr.dtype.kind not in "iuf":
            return False
        dims = (self.ndim,) if isinstance(self.ndim, int) else self.ndim
        if dims is not None and arr.ndim not in dims:
            return False
        if self.nonempty and arr.size == 0:
            return False
        return not self.finite or bool(np.all(np.isfinite(arr)))

    def describe(self) -> str:
        dims = (self.ndim,) if isinstance(self.ndim, int) else self.ndim
        d = "" if dims is None else " or ".join(f"{n}-D" for n in dims) + " "
        extra = (" non-empty" if self.nonempty else "") + (", finite" if self.finite else "")
        return f"a{extra} {d}real array".replace("a ,", "a").replace("  ", " ")


@dataclass(frozen=True)
class ListOf:
    """Constraint (same protocol as those of :mod:`statmech._validation`): a list or tuple of
    ``min_len`` to ``max_len`` items, each satisfying one of the constraints ``item``.

    Sweep parameters such as ``methods`` or ``levels`` are lists; this lets them be declared
    with the same mechanism (``check(value, name, func, [ListOf((Integer(1),), 1)])``).
    """

    item: tuple
    min_len: int = 0
    max_len: int | None = None

    def accepts(self, value: object) -> bool:
        if not isinstance(value, list | tuple):
            return False
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            return False
        return all(any((c is None and v is None) or (c is not None and c.accepts(v))
                       for c in self.item) for v in value)

    def describe(self) -> str:
        words = ["None" if c is None else c.describe() for c in self.item]
        what = " or ".join(words)
        if self.max_len is not None and self.max_len == self.min_len:
            size = f"a list of {self.min_len} items"
        elif self.min_len >= 1:
            size = "a non-empty list"
        else:
            size = "a list"
        if self.max_len is not None and self.max_len != self.min_len:
            size += f" of at most {self.max_len} items"
        return f"{size}, each {what}"


Constraint = Any  # one of the classes above, or None (meaning the value None is accepted)


def _accepts(constraint: Constraint, value: object) -> bool:
    if constraint is None:
        return value is None
    return constraint.accepts(value)


def _describe(constraints: Sequence[Constraint]) -> str:
    words = ["None" if c is None else c.describe() for c in constraints]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def check(value: object, name: str, func: str, constraints: Sequence[Constraint]) -> object:
    """Return ``value`` unchanged if it satisfies any of ``constraints``, else raise
    :class:`InvalidParameterError` naming ``func`` and ``name``."""
    for c in constraints:
        if _accepts(c, value):
            return value
    raise InvalidParameterError.build(func, name, _describe(constraints), value)


def validate_params(
    constraints: Mapping[str, Sequence[Constraint]], *, func_name: str | None = None
) -> Callable:
    """Decorator: check the declared parameters of a function before its body runs.

    Parameters
    ----------
    constraints : mapping
        Parameter name → list of constraints (a value passes if any accepts it). Parameters not
        listed are not checked here (their checks depend on other parameters and live in the
        body).
    func_name : str, optional
        Name used in messages (default: the function's ``__qualname__``).

    Examples
    --------
    >>> @validate_params({"n": [Integer(1)], "mode": [Options(("a", "b"))]})
    ... def f(n, mode="a"):
    ...     return n
    >>> f(3)
    3
    >>> f(2.5)
    Traceback (most recent call last):
    ...
    statmech._validation.InvalidParameterError: The 'n' parameter of f must be an int >= 1. Got 2.5 instead.
    """  # noqa: E501

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:  # a programming error in the declaration, caught at import
            raise RuntimeError(f"validate_params on {fn.__qualname__}: no parameters {unknown}")
        name = func_name or fn.__qualname__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise InvalidParameterError(f"{name}: {exc}", func=name) from None
            for pname, value in bound.arguments.items():
                cons = constraints.get(pname)
                if cons is not None:
                    check(value, pname, name, cons)
            return fn(*args, **kwargs)

        wrapper.__validated_params__ = dict(constraints)  # type: ignore[attr-defined]
        return wrapper

    return decorate


# ---------------------------------------------------------------- helpers used inside bodies


def check_positive_int(value: object, name: str, func: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise :class:`InvalidParameterError` unless it is an int
    >= ``minimum`` (bools and floats such as 2.0 are refused)."""
    check(value, name, func, [Integer(minimum)])
    return int(value)  # type: ignore[arg-type]


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
    Raises :class:`InvalidParameterError` otherwise (for an array, the first offending entry is
    shown).
    """
    closed = {(True, True): "both", (True, False): "left", (False, True): "right",
              (False, False): "neither"}[(low_inclusive, high_inclusive)]
    cons = Real(low, high, closed, array=allow_array)
    if cons.accepts(value):
        arr = np.asarray(value, dtype=float)
        return float(arr) if arr.ndim == 0 else arr
    shown: object = value
    if allow_array and not _is_real_scalar(value):
        try:
            arr = np.asarray(value, dtype=float)
            bad = ~np.isfinite(arr) | _outside(arr, low, high, closed)
            if arr.ndim and bad.any():
                shown = arr[bad].ravel()[0]
        except (TypeError, ValueError):
            pass
    raise InvalidParameterError.build(func, name, cons.describe(), shown)


def check_choice(value: object, name: str, func: str, choices: Iterable[str]) -> str:
    """Raise :class:`InvalidParameterError` unless ``value`` is one of ``choices``."""
    check(value, name, func, [Options(tuple(choices))])
    return value  # type: ignore[return-value]


def check_keys(options: Mapping[str, Any], allowed: Iterable[str], name: str, func: str) -> None:
    """Refuse unknown keys of an options mapping (a misspelt ``kernal=`` must not be ignored)."""
    allowed = tuple(allowed)
    unknown = [k for k in options if k not in allowed]
    if unknown:
        known = ", ".join(map(repr, allowed)) if allowed else "none"
        raise InvalidParameterError(
            f"Unknown {name} of {func}: {', '.join(map(repr, unknown))}. "
            f"Allowed: {known}.",
            func=func, param=unknown[0], allowed=f"one of {known}", value=repr(unknown[0]),
        )
