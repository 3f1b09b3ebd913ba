"""The training settings of online SGD in the teacher–student model: one validated object.

:class:`SGDModel` holds what defines the learning dynamics beyond the network sizes and the
initial state: the activation(s), the learning rates η and η_v, whether the second layer is
trained, the output-noise level σ, the weight decay κ and the mini-batch size B
(``docs/ode_theory.md`` §1.1–1.2). :func:`statmech.integrate`, :func:`statmech.ode_rhs`,
:func:`statmech.simulate`, the fixed-point functions, the sweep computations and the CLI all take
it (``model=``), and the keyword style (``eta=0.5, noise=0.1``) is a thin convenience that builds
one through :func:`resolve_model`, so the settings are defined and checked in one place.

Array-valued fields (η, η_v, σ, κ, B) broadcast against each other and against a batch of
initial order parameters, as in :func:`statmech.integrate`; :func:`statmech.simulate` and the
fixed-point functions need scalars (:meth:`SGDModel.require_scalar`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import (
    ArrayLike,
    Boolean,
    Integer,
    InvalidParameterError,
    Real,
    check,
)
from .generalization import resolve_activations

__all__ = ["SGDModel", "MODEL_DEFAULTS", "MODEL_FIELDS", "resolve_model"]

#: Declared constraints of the single-valued checks of each field (the batch size and the
#: activation have their own checks, :func:`_check_batch_size` and ``resolve_activations``).
MODEL_PARAMS: dict[str, list] = {
    "eta": [Real(0.0, None, "neither", array=True)],
    "eta_v": [None, Real(0.0, None, "left", array=True)],
    "train_second_layer": [Boolean()],
    "noise": [Real(0.0, None, "left", array=True)],
    "weight_decay": [Real(0.0, None, "left", array=True)],
}
#: The same for calls that take one setting (:func:`statmech.simulate`, the fixed points).
SCALAR_MODEL_PARAMS: dict[str, list] = {
    "eta": [Real(0.0, None, "neither")],
    "eta_v": [None, Real(0.0, None, "left")],
    "train_second_layer": [Boolean()],
    "noise": [Real(0.0, None, "left")],
    "weight_decay": [Real(0.0, None, "left")],
}


def _check_batch_size(batch_size: Any, func: str) -> np.ndarray:
    """``batch_size`` as an int array (any shape), every entry an int >= 1 (no bools, no floats
    such as 2.0 or 2.7)."""
    if isinstance(batch_size, bool | np.bool_):
        ok = False
    elif isinstance(batch_size, np.ndarray | list | tuple):
        arr = np.asarray(batch_size) if ArrayLike().accepts(batch_size) else None
        ok = arr is not None and arr.dtype.kind in "iu" and bool(np.all(arr >= 1))
    else:
        ok = Integer(1).accepts(batch_size)
    if not ok:
        raise InvalidParameterError.build(
            func, "batch_size", "an int >= 1 (or an integer array of them)", batch_size)
    return np.asarray(batch_size, dtype=np.int64)


def _frozen(value: Any, dtype: Any) -> Any:
    """A scalar as a Python number, an array as a read-only copy."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return arr.item()
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


def _meta(symbol: str, help: str, group: str) -> dict[str, str]:
    """Field metadata: the symbol, a one-line help (the CLI's) and the CLI option group."""
    return {"symbol": symbol, "help": help, "group": group}


@dataclass(frozen=True, eq=False, repr=False)
class SGDModel:
    """Online-SGD settings of a two-layer student learning from a teacher (validated, frozen).

    Parameters
    ----------
    eta : float or array
        First-layer learning rate η > 0 (update (η/√N)·v g'(λ) Δ x per sample).
    activation : str or (str, str)
        ``"erf"`` (default), ``"linear"``, ``"relu"``, or a (student, teacher) pair.
    eta_v : float or array, optional
        Second-layer learning rate η_v >= 0 (default: η); used only if ``train_second_layer``.
    train_second_layer : bool
        Train the second-layer weights v (otherwise v stays at its initial value; v = v* = 1 is
        the soft committee machine).
    noise : float or array
        Output-noise standard deviation σ >= 0 of the teacher's labels.
    weight_decay : float or array
        κ >= 0: each step multiplies the weights (and v) by 1 − κ/N.
    batch_size : int or int array
        Mini-batch size B >= 1 of fresh samples per step (gradient averaged; the η² terms of
        the ODEs are divided by B).

    Examples
    --------
    >>> from statmech import SGDModel
    >>> m = SGDModel(eta=0.5, noise=0.1)
    >>> m
    SGDModel(eta=0.5, noise=0.1)
    >>> m.replace(batch_size=4).batch_size
    4
    """

    eta: float | np.ndarray = field(metadata=_meta("η", "learning rate η", "learning"))
    activation: str | tuple[str, str] = field(default="erf", metadata=_meta(
        "g", "erf, linear or relu; or STUDENT:TEACHER such as relu:erf", "model"))
    eta_v: float | np.ndarray | None = field(default=None, metadata=_meta(
        "η_v", "second-layer learning rate (default: eta)", "learning"))
    train_second_layer: bool = field(default=False, metadata=_meta(
        "", "train v too (otherwise the soft committee machine, v fixed)", "model"))
    noise: float | np.ndarray = field(default=0.0, metadata=_meta(
        "σ", "output-noise std. dev. σ", "learning"))
    weight_decay: float | np.ndarray = field(default=0.0, metadata=_meta(
        "κ", "weight decay κ", "learning"))
    batch_size: int | np.ndarray = field(default=1, metadata=_meta(
        "B", "mini-batch size B", "learning"))

    def __post_init__(self) -> None:
        self._validate("SGDModel")

    def _validate(self, func: str) -> None:
        for name in ("eta", "eta_v", "train_second_layer", "noise", "weight_decay"):
            check(getattr(self, name), name, func, MODEL_PARAMS[name])
        B = _check_batch_size(self.batch_size, func)
        student, teacher = resolve_activations(self.activation, func)
        activation: Any = (student.name if student.name == teacher.name
                           else (student.name, teacher.name))
        values = {"eta": _frozen(self.eta, float),
                  "eta_v": None if self.eta_v is None else _frozen(self.eta_v, float),
                  "train_second_layer": bool(self.train_second_layer),
                  "noise": _frozen(self.noise, float),
                  "weight_decay": _frozen(self.weight_decay, float),
                  "batch_size": _frozen(B, np.int64), "activation": activation}
        try:
            np.broadcast_shapes(*(np.shape(values[k]) for k in
                                  ("eta", "noise", "weight_decay", "batch_size")),
                                np.shape(values["eta_v"]) if values["eta_v"] is not None else ())
        except ValueError:
            raise InvalidParameterError(
                f"The array-valued settings of {func} do not broadcast together: "
                + ", ".join(f"{k} {np.shape(values[k])}" for k in
                            ("eta", "eta_v", "noise", "weight_decay", "batch_size")) + ".",
                func=func, param="eta", allowed="shapes that broadcast together",
                value=str(np.shape(values["eta"]))) from None
        for name, value in values.items():
            object.__setattr__(self, name, value)

    # --- derived values -------------------------------------------------------------------
    @property
    def activations(self) -> tuple[str, str]:
        """(student, teacher) activation names."""
        a = self.activation
        return (a, a) if isinstance(a, str) else (a[0], a[1])

    @property
    def learning_rate_v(self) -> float | np.ndarray:
        """η_v as used: ``eta_v``, or η when it is not given."""
        return self.eta if self.eta_v is None else self.eta_v

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The broadcast shape of the array-valued fields (``()`` for scalars)."""
        return np.broadcast_shapes(*(np.shape(getattr(self, k)) for k in
                                     ("eta", "noise", "weight_decay", "batch_size")),
                                   np.shape(self.learning_rate_v))

    def require_scalar(self, func: str) -> SGDModel:
        """This model, if every field is a scalar; otherwise an error naming ``func`` and the
        first array-valued field (``simulate`` and the fixed points take one setting)."""
        for name in ("eta", "eta_v", "noise", "weight_decay", "batch_size"):
            if np.ndim(getattr(self, name)) != 0:
                raise InvalidParameterError.build(
                    func, name, "a scalar (one model per call; sweep over arrays with "
                    "statmech.integrate or a sweep)", getattr(self, name))
        return self

    def replace(self, **changes: Any) -> SGDModel:
        """A copy with some fields changed (validated again)."""
        return resolve_model("SGDModel.replace", self, changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python values (arrays as nested lists), e.g. for a sweep
        configuration or a JSON record."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SGDModel):
            return NotImplemented
        return all(np.array_equal(getattr(self, f.name), getattr(other, f.name))
                   if f.name != "activation" else self.activation == other.activation
                   for f in dataclasses.fields(self))

    def __hash__(self) -> int:
        return hash(tuple(np.asarray(getattr(self, f.name)).tobytes()
                          if isinstance(getattr(self, f.name), np.ndarray)
                          else getattr(self, f.name) for f in dataclasses.fields(self)))

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "eta" and f.default is not dataclasses.MISSING and \
                    np.array_equal(value, f.default) and np.shape(value) == np.shape(f.default):
                continue
            shown = (f"<array {np.shape(value)}>" if isinstance(value, np.ndarray)
                     and value.size > 4 else
                     repr(value.tolist() if isinstance(value, np.ndarray) else value))
            parts.append(f"{f.name}={shown}")
        return f"SGDModel({', '.join(parts)})"


#: The field names of :class:`SGDModel`, in order (the keywords of the convenience style).
MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SGDModel))
#: The default of every field that has one (all but η): the defaults of the sweeps and the CLI.
MODEL_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(SGDModel)
                                  if f.default is not dataclasses.MISSING}


def resolve_model(func: str, model: Any = None, options: Mapping[str, Any] | None = None,
                  scalar: bool = False) -> SGDModel:
    """The :class:`SGDModel` of a call: ``model`` with the keyword ``options`` applied on top.

    ``options`` are :class:`SGDModel` fields given as keywords (the convenience style,
    ``integrate(op, eta=0.5)``); with ``model`` given they override its fields. Errors name
    ``func`` and the offending keyword: an unknown keyword, a missing η, or a bad value.
    ``scalar``: every setting must be a single value (:meth:`SGDModel.require_scalar`).
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(MODEL_FIELDS))
    if unknown:
        raise InvalidParameterError(
            f"{func} got an unexpected keyword argument {unknown[0]!r}: the model settings are "
            f"{', '.join(MODEL_FIELDS)} (or model=statmech.SGDModel(...)).",
            func=func, param=unknown[0], allowed=", ".join(MODEL_FIELDS), value=unknown[0])
    if model is not None and not isinstance(model, SGDModel):
        raise InvalidParameterError.build(func, "model", "a statmech.SGDModel (or None)", model)
    if model is None and "eta" not in options:
        raise InvalidParameterError(
            f"{func} needs the learning rate: pass eta=... (or model=statmech.SGDModel(eta=...)).",
            func=func, param="eta", allowed="a float > 0", value="missing")
    if scalar:
        for name, value in options.items():
            if name in SCALAR_MODEL_PARAMS:
                check(value, name, func, SCALAR_MODEL_PARAMS[name])
    if model is not None and not options:
        return model.require_scalar(func) if scalar else model
    values = {} if model is None else {f: getattr(model, f) for f in MODEL_FIELDS}
    values.update(options)
    obj = object.__new__(SGDModel)
    for name in MODEL_FIELDS:
        default = SGDModel.__dataclass_fields__[name].default
        object.__setattr__(obj, name, values.get(name, default))
    obj._validate(func)
    return obj.require_scalar(func) if scalar else obj
