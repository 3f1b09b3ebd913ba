"""Shared machinery of the pruning methods: the layer, the results, ``keep`` parsing, the
shared part of the method interface and the registry.

One layer is pruned: its incoming weights W (H × D, one row per unit), optional biases b (H,), and
its units' outgoing weights W_out (C × H). In the teacher–student setting W is the student's first
layer (K × N) and W_out = vᵀ (1 × K). *Edge* methods zero entries of W (a mask, the same shape);
*node* methods remove whole units (rows of W, entries of b, columns of W_out). The two kinds have
their own base classes and contracts: :class:`~statmech.pruning.edge_method.EdgeMethod` and
:class:`~statmech.pruning.node_method.NodeMethod`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._validation import (
    Boolean,
    InvalidParameterError,
    _fmt,
    check_positive_int,
    validate_params,
)
from ..theory.order_parameters import OrderParameters

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..theory.activations import Activation

__all__ = ["Layer", "PruningResult", "PruneTheory", "PruningMethod", "parse_keep",
           "PRUNING_METHODS", "register", "get_method", "method_names"]


@dataclass(frozen=True)
class Layer:
    """A layer to prune, with optional data statistics (NumPy float64 arrays).

    Attributes
    ----------
    W : ndarray (H, D)
        Incoming weights, one row per unit.
    W_out : ndarray (C, H)
        Outgoing weights of the units (the next layer's columns); ``vᵀ`` for a committee machine.
    bias : ndarray (H,) or None
    act_cov : ndarray (H, H) or None
        Uncentred covariance of the units' activations E[g(λ_k) g(λ_l)] (on data, or I2 in
        theory); used by reweighting, the RBF DPP kernel and spectral pruning.
    pre_cov : ndarray (H, H) or None
        Covariance of the pre-activations E[λ_k λ_l] (the linear DPP kernel; W Ĉ Wᵀ on data).
    input_cov : ndarray (D, D) or None
        Input covariance Ĉ (the DPP-edge kernel diag(w) Ĉ diag(w)); None means the identity.
    act_mean : ndarray (H,) or None
        Mean activations; removed units' mean outputs are folded into ``bias_out`` if given.
    bias_out : ndarray (C,) or None
        The next layer's bias.
    """

    W: np.ndarray
    W_out: np.ndarray
    bias: np.ndarray | None = None
    act_cov: np.ndarray | None = None
    pre_cov: np.ndarray | None = None
    input_cov: np.ndarray | None = None
    act_mean: np.ndarray | None = None
    bias_out: np.ndarray | None = None

    def __repr__(self) -> str:
        stats = [n for n in ("bias", "act_cov", "pre_cov", "input_cov", "act_mean", "bias_out")
                 if getattr(self, n) is not None]
        return (f"Layer(H={self.H}, D={self.D}, C={self.C}, statistics="
                f"[{', '.join(stats)}])")

    @property
    def H(self) -> int:
        """Number of units."""
        return self.W.shape[0]

    @property
    def D(self) -> int:
        """Input dimension."""
        return self.W.shape[1]

    @property
    def C(self) -> int:
        """Number of outputs of the next layer."""
        return self.W_out.shape[0]

    def n_params(self) -> int:
        """Parameters of the layer: W, b, W_out and bias_out."""
        return (self.H * self.D + (0 if self.bias is None else self.H) + self.C * self.H
                + (0 if self.bias_out is None else self.C))

    @classmethod
    def from_arrays(cls, W: Any, W_out: Any, func: str = "prune", **stats: Any) -> Layer:
        """Validate and build a layer: W (H, D), W_out (C, H) or a vector v (H,)."""
        W = _finite(W, "W", func, ndim=2)
        W_out = _finite(W_out, "W_out", func)
        if W_out.ndim == 1:
            W_out = W_out[None, :]
        if W_out.ndim != 2 or W_out.shape[1] != W.shape[0]:
            raise InvalidParameterError(
                f"The 'W_out' parameter of {func} must have shape (C, {W.shape[0]}) "
                             f"or ({W.shape[0]},) to match W's {W.shape[0]} units. "
                             f"Got {W_out.shape}.")
        H, D = W.shape
        shapes = {"bias": (H,), "act_cov": (H, H), "pre_cov": (H, H), "input_cov": (D, D),
                  "act_mean": (H,), "bias_out": (W_out.shape[0],)}
        out = {}
        for name, value in stats.items():
            if value is None:
                out[name] = None
                continue
            arr = _finite(value, name, func)
            if arr.shape != shapes[name]:
                raise InvalidParameterError(f"The {name!r} parameter of {func} must have shape "
                                 f"{shapes[name]}. Got {arr.shape}.")
            out[name] = arr
        return cls(W=W, W_out=W_out, **out)


def _finite(value: Any, name: str, func: str, ndim: int | None = None) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a finite real array. "
                         f"Got {_fmt(value)} instead.") from None
    if ndim is not None and arr.ndim != ndim:
        raise InvalidParameterError(f"The {name!r} parameter of {func} must be a {ndim}-D array. "
                         f"Got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be finite (no NaN or inf).")
    return arr


def parse_keep(keep: Any, total: int, what: str, func: str) -> int:
    """``keep`` as a count in [1, total]: an int, or a fraction in (0, 1] rounded up.

    Bools are rejected; fractions f give ⌈f·total⌉ (at least 1).
    """
    msg = (f"The 'keep' parameter of {func} must be an int in [1, {total}] ({what}) or a float "
           f"fraction in (0, 1].")
    if isinstance(keep, bool | np.bool_) or not isinstance(keep, numbers.Real):
        raise InvalidParameterError(f"{msg} Got {_fmt(keep)} instead.")
    if isinstance(keep, numbers.Integral):
        if not 1 <= keep <= total:
            raise InvalidParameterError(f"{msg} Got {keep} instead.")
        return int(keep)
    f = float(keep)
    if not (math.isfinite(f) and 0.0 < f <= 1.0):
        raise InvalidParameterError(f"{msg} Got {f!r} instead.")
    return max(1, min(total, math.ceil(f * total - 1e-9)))


@dataclass(frozen=True, eq=False)
class PruningResult:
    """Explicitly pruned copies of a layer, one per mask (leading dimension n_masks).

    Attributes
    ----------
    method, variant : str
    kind : {"edge", "node"}
    keep : int
        Edges kept per unit (edge methods, the same for every unit unless the variant says
        otherwise) or units kept (node methods).
    mask : ndarray of bool (n_masks, H, D)
        Edge methods: the kept entries of W. Node methods: all-True rows for kept units.
    kept : ndarray of int (n_masks, k) or None
        Node methods: the kept units (sorted).
    W : ndarray (n_masks, H', D)
        Pruned incoming weights (H' = k for node methods: removed units are gone).
    W_out : ndarray (n_masks, C, H')
        Outgoing weights (reweighted / reconstructed when the method does that).
    bias, bias_out : ndarray or None
    n_params : ndarray of int (n_masks,)
        Parameters left: non-zero-mask entries of W, biases of kept units, W_out, bias_out.
    backend : Backend or None
        Where the arrays live (``prune(..., backend=...)``); None for NumPy.
    """

    method: str
    variant: str
    kind: str
    keep: int
    mask: np.ndarray
    kept: np.ndarray | None
    W: np.ndarray
    W_out: np.ndarray
    bias: np.ndarray | None
    bias_out: np.ndarray | None
    n_params: np.ndarray
    info: dict = field(default_factory=dict)
    backend: Any = None  # the statmech Backend holding the arrays (None: NumPy)

    def __repr__(self) -> str:
        shape = tuple(int(d) for d in self.W.shape)
        params = np.asarray(self.n_params)
        kept = (f"{int(params.min())}" if params.size and params.min() == params.max()
                else f"{int(params.min())}..{int(params.max())}" if params.size else "?")
        be = "numpy" if self.backend is None else getattr(self.backend, "name", "?")
        return (f"PruningResult(method={self.method!r}, variant={self.variant!r}, "
                f"keep={self.keep}, n_masks={shape[0]}, W={shape}, params kept={kept}, "
                f"backend={be!r})")

    @property
    def n_masks(self) -> int:
        """Number of pruned copies."""
        return self.W.shape[0]

    def host(self, name: str) -> np.ndarray:
        """The field ``name`` (``"W"``, ``"W_out"``, ``"mask"``, ...) as a NumPy array, copied
        from the backend that holds it (itself for NumPy results)."""
        value = getattr(self, name)
        return np.asarray(value if self.backend is None else self.backend.to_numpy(value))

    def order_parameters(self, W_star: Any, v_star: Any = None) -> OrderParameters:
        """Order parameters of the pruned students against a teacher (batched over masks).

        Q′ = W′W′ᵀ/N, R′ = W′W*ᵀ/N, T = W*W*ᵀ/N, v′ = W_out′ (C must be 1); for node methods
        the removed units are gone (K′ = k).
        """
        if self.W_out.shape[1] != 1:
            raise InvalidParameterError(
                "PruningResult.order_parameters needs a single output (C = 1); "
                             f"this layer has C = {self.W_out.shape[1]}.")
        Ws = np.asarray(W_star, dtype=float)
        W = self.host("W").astype(float)
        W_out = self.host("W_out").astype(float)
        N = W.shape[-1]
        if Ws.ndim != 2 or Ws.shape[1] != N:
            raise InvalidParameterError(
                f"The 'W_star' parameter of PruningResult.order_parameters must "
                             f"have shape (M, {N}). Got {Ws.shape}.")
        Q = W @ np.swapaxes(W, -1, -2) / N
        R = W @ Ws.T / N
        T = Ws @ Ws.T / N
        M = Ws.shape[0]
        vs = np.ones(M) if v_star is None else np.broadcast_to(np.asarray(v_star, float), (M,))
        return OrderParameters(Q=Q, R=R, T=np.broadcast_to(T, (self.n_masks, M, M)),
                               v=W_out[:, 0, :], v_star=np.broadcast_to(vs, (self.n_masks, M)))


@dataclass(frozen=True)
class PruneTheory:
    """Theory of one method at one level (see :func:`statmech.prune_theory`).

    Attributes
    ----------
    Q, R : ndarray
        Expected pruned order parameters, K × K and K × M (node methods: removed units' rows and
        columns weighted by their inclusion probabilities).
    v : ndarray (K,)
        Expected outgoing weights E[v′] (zero weight on units never kept).
    mean_eg : float
        E[ε_g(Q′, R′, v′)] over masks (node methods: exact expectation; edge methods: the N → ∞
        value, where Q′ concentrates and the Jensen gap vanishes).
    eg_of_mean : float
        ε_g(E[Q′], E[R′], E[v′]); ``jensen_gap = mean_eg − eg_of_mean``.
    std_eg : float
        Spread of ε_g across masks (0 for deterministic methods and for edge methods at N → ∞).
    exact : bool
        False when the node expectation or spread came from sampled kept sets.
    kept : OrderParameters or None
        Node methods: the kept units' order parameters for the most probable kept set (for
        retraining; with the reweighted v).
    """

    method: str
    variant: str
    keep: float
    Q: np.ndarray
    R: np.ndarray
    v: np.ndarray
    mean_eg: float
    eg_of_mean: float
    std_eg: float
    exact: bool
    kept: OrderParameters | None = None
    info: dict = field(default_factory=dict)

    @property
    def jensen_gap(self) -> float:
        """E[ε_g(Q′)] − ε_g(E[Q′])."""
        return self.mean_eg - self.eg_of_mean


class PruningMethod:
    """What every pruning method shares; subclass :class:`~statmech.pruning.edge_method.EdgeMethod`
    or :class:`~statmech.pruning.node_method.NodeMethod`, never this class directly.

    A method is one class: the explicit operator on a :class:`Layer` (:func:`statmech.prune`),
    its theory in order-parameter space (:func:`statmech.prune_theory`) and how it is shown and
    listed (so that every list of methods derives from the registry, :func:`method_names`). The
    numbered contracts in the docstrings of ``EdgeMethod`` and ``NodeMethod`` say what a subclass
    provides. This class holds the shared class attributes and their checks:

    1. Required class attributes, non-empty strings: ``name`` (the registry key and the
       ``method=`` argument), ``label`` (legend text), ``color`` and ``marker`` (Matplotlib; one
       look everywhere, no two methods alike).
    2. Optional class attributes and their defaults: ``variants`` (a non-empty tuple of distinct
       strings, the first the default; ``("default",)``), ``options`` (``{}``: the keyword
       options of ``prune``/``prune_theory``, name -> list of :mod:`statmech._validation`
       constraints, an empty list meaning the method checks the value itself; any other keyword
       is refused), ``in_gallery`` (False: one of the seed paper's methods that the gallery and
       the comparisons show), ``order`` (100: display order) and ``reconstructs`` (False:
       whether the method rebuilds the next layer from the kept units by itself, so that a
       separate reweighting step does not apply).
    3. ``kind`` (``"edge"`` or ``"node"``) comes from the base class; a subclass must not set it.

    These are checked when a subclass is defined (``__init_subclass__``): a class that breaks
    its contract raises a :class:`TypeError` naming the missing piece. An intermediate class that
    is not a method itself is declared ``class MyBase(EdgeMethod, abstract=True)``; it is
    checked in its concrete subclasses and cannot be instantiated. A method is listed by
    :func:`register` (one line at the end of its module) and its module is imported by
    ``statmech/pruning/__init__.py``.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    color: ClassVar[str]
    marker: ClassVar[str]
    kind: ClassVar[str]
    variants: ClassVar[tuple[str, ...]] = ("default",)
    in_gallery: ClassVar[bool] = False
    order: ClassVar[int] = 100
    reconstructs: ClassVar[bool] = False
    options: ClassVar[dict[str, list]] = {}
    #: Methods a concrete subclass must define (set by ``EdgeMethod`` and ``NodeMethod``).
    required_hooks: ClassVar[tuple[str, ...]] = ()
    #: True for this class, the kind bases and classes declared with ``abstract=True``.
    _abstract: ClassVar[bool] = True

    def __init_subclass__(cls, *, kind: str | None = None, abstract: bool = False,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:  # EdgeMethod / NodeMethod: the kind bases
            old = _KIND_BASES.get(kind)
            if (cls.__bases__ != (PruningMethod,) or kind not in KINDS or (
                    old is not None and old.__qualname__ != cls.__qualname__)):
                raise TypeError(f"Only EdgeMethod and NodeMethod declare a kind; "
                                f"{cls.__qualname__} cannot declare kind={kind!r}.")
            cls.kind = kind
            cls._abstract = True
            _KIND_BASES[kind] = cls
            return
        cls._abstract = bool(abstract)
        if not abstract:
            _check_contract(cls)

    def __new__(cls, *args: Any, **kwargs: Any) -> PruningMethod:
        if cls._abstract:
            raise TypeError(f"{cls.__qualname__} is an abstract pruning-method class; "
                            "instantiate a concrete subclass.")
        return super().__new__(cls)

    def check_options(self, options: dict[str, Any], func: str) -> None:
        """Refuse unknown option names and values outside their declared constraints."""
        from .._validation import check, check_keys

        check_keys(options, self.options, f"options for method {self.name!r}", func)
        for key, value in options.items():
            if self.options[key]:
                check(value, key, func, self.options[key])

    def check_variant(self, variant: str | None, func: str) -> str:
        """The variant name (default: the first)."""
        if variant is None:
            return self.variants[0]
        if not isinstance(variant, str) or variant not in self.variants:
            raise InvalidParameterError(
                f"The 'variant' parameter of {func} for method {self.name!r} must be "
                             f"one of {', '.join(map(repr, self.variants))}. "
                             f"Got {_fmt(variant)} instead.")
        return variant

    # -- implemented by the kind bases (EdgeMethod, NodeMethod) --------------------------------
    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:
        """``n_masks`` pruned copies of ``layer`` keeping ``keep`` (edges per unit or units);
        the kind base's contract says who implements it and what it returns."""
        raise NotImplementedError  # pragma: no cover - abstract

    def prune_layer(self, layer: Layer, keep: Any, variant: str, *, n_masks: int = 1,
                    seed: Any = None, reweight: str | None = None, backend: Any = None,
                    func: str = "prune", **options: Any) -> PruningResult:
        """What :func:`statmech.prune` runs once the arguments are validated: ``keep`` (a count or
        a fraction) parsed for this kind, reweighting and backends applied around
        :meth:`prune`. Provided by ``EdgeMethod`` and ``NodeMethod``; not overridden."""
        raise NotImplementedError  # pragma: no cover - abstract

    def theory(self, op: OrderParameters, keep: Any, variant: str, *, reweight: str | None,
               student: Activation, teacher: Activation, N: int | None = None,
               weights: Any = None, teacher_weights: Any = None, seed: Any = 0,
               n_samples: int = 4000, func: str = "prune_theory",
               **options: Any) -> PruneTheory:
        """What :func:`statmech.prune_theory` runs once the arguments are validated: the
        expected pruned order parameters and errors (:class:`PruneTheory`) from the method's
        theory hooks. Provided by ``EdgeMethod`` and ``NodeMethod``; not overridden."""
        raise NotImplementedError  # pragma: no cover - abstract

    def __repr__(self) -> str:
        return f"<pruning method {self.name!r} ({self.kind}; variants {self.variants})>"


#: The kinds of pruning methods, each with its base class.
KINDS = ("edge", "node")
#: The kind bases by kind ("edge": EdgeMethod, "node": NodeMethod), filled when they are defined.
_KIND_BASES: dict[str, type[PruningMethod]] = {}
_REQUIRED_STRINGS = ("name", "label", "color", "marker")


def _check_contract(cls: type[PruningMethod]) -> None:
    """The checks of a concrete subclass's class attributes and hooks (class docstrings); a
    :class:`TypeError` naming the first broken item."""
    what = f"The pruning method class {cls.__qualname__}"
    bases = [b for b in _KIND_BASES.values() if issubclass(cls, b)]
    if len(bases) != 1:
        got = " and ".join(sorted(b.__name__ for b in bases)) or "neither"
        raise TypeError(f"{what} must subclass exactly one of EdgeMethod and NodeMethod "
                        f"(statmech.pruning); it subclasses {got}.")
    base = bases[0]
    for c in cls.__mro__[:cls.__mro__.index(base)]:
        if "kind" in vars(c):
            raise TypeError(f"{what} sets 'kind' = {vars(c)['kind']!r} (in {c.__qualname__}); "
                            f"the kind comes from its base class {base.__name__} "
                            f"({base.kind!r}): remove the attribute.")
    missing = [a for a in _REQUIRED_STRINGS
               if not (isinstance(getattr(cls, a, None), str) and getattr(cls, a))]
    if missing:
        raise TypeError(f"{what} must set the class attribute(s) {', '.join(missing)} to "
                        f"non-empty strings ({base.__name__} contract, item 1).")
    v = cls.variants
    if (not isinstance(v, tuple) or not v or not all(isinstance(x, str) and x for x in v)
            or len(set(v)) != len(v)):
        raise TypeError(f"{what} must set 'variants' to a non-empty tuple of distinct "
                        f"non-empty strings. Got {v!r}.")
    if not (isinstance(cls.options, dict) and all(
            isinstance(k, str) and isinstance(c, list) for k, c in cls.options.items())):
        raise TypeError(f"{what} must set 'options' to a dict of option name -> list of "
                        f"constraints. Got {cls.options!r}.")
    for attr, typ in (("in_gallery", bool), ("reconstructs", bool), ("order", int)):
        value = getattr(cls, attr)
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise TypeError(f"{what} must set {attr!r} to a {typ.__name__}. Got {value!r}.")
    hooks = [h for h in base.required_hooks if getattr(cls, h) is getattr(base, h)]
    if hooks:
        raise TypeError(f"{what} must implement {', '.join(h + '()' for h in hooks)} "
                        f"({base.__name__} contract; see its docstring).")


PRUNING_METHODS: dict[str, PruningMethod] = {}


def method_names(kind: str | None = None, gallery: bool | None = None) -> tuple[str, ...]:
    """Names of the registered methods in display order, optionally only one ``kind``
    ("edge"/"node", from the method's base class) or only those shown in the gallery
    (``gallery=True``)."""
    ms = sorted(PRUNING_METHODS.values(), key=lambda m: (m.order, m.name))
    return tuple(m.name for m in ms if (kind is None or m.kind == kind)
                 and (gallery is None or m.in_gallery == gallery))


def register(method: PruningMethod) -> PruningMethod:
    """Add a method to :data:`PRUNING_METHODS` (one line per method module) and return it.

    ``method`` is an instance of a concrete subclass of ``EdgeMethod`` or ``NodeMethod`` (its
    contract was checked when the class was defined). A name already registered by another class
    is refused (remove that entry from :data:`PRUNING_METHODS` first); registering the same class
    again (a reloaded module) replaces the entry.
    """
    if not isinstance(method, PruningMethod):
        raise TypeError("register needs an instance of an EdgeMethod or NodeMethod subclass. "
                        f"Got {_fmt(method)} instead.")
    old = PRUNING_METHODS.get(method.name)
    if old is not None and ((type(old).__module__, type(old).__qualname__)
                            != (type(method).__module__, type(method).__qualname__)):
        raise ValueError(f"A pruning method named {method.name!r} is registered already "
                         f"({type(old).__module__}.{type(old).__qualname__}); choose another "
                         "name or remove that entry from PRUNING_METHODS first.")
    PRUNING_METHODS[method.name] = method
    return method


def get_method(name: Any, func: str) -> PruningMethod:
    """The registered method ``name`` or an InvalidParameterError listing the choices."""
    if isinstance(name, PruningMethod):
        return name
    if not isinstance(name, str) or name not in PRUNING_METHODS:
        raise InvalidParameterError(f"The 'method' parameter of {func} must be one of "
                         f"{', '.join(map(repr, PRUNING_METHODS))}. Got {_fmt(name)} instead.")
    return PRUNING_METHODS[name]


# ------------------------------------------------------------------------------------------
# helpers shared by the methods


def edge_result(method: PruningMethod, variant: str, layer: Layer, mask: np.ndarray,
                keep: int, info: dict | None = None) -> PruningResult:
    """A :class:`PruningResult` for edge masks (n_masks, H, D) of ``layer``: what an edge method's
    ``prune`` returns (``EdgeMethod`` contract, item 2)."""
    W = np.where(mask, layer.W[None], 0.0)
    n = mask.shape[0]
    n_params = (mask.reshape(n, -1).sum(1) + (0 if layer.bias is None else layer.H)
                + layer.C * layer.H + (0 if layer.bias_out is None else layer.C))
    return PruningResult(
        method=method.name, variant=variant, kind=method.kind, keep=keep, mask=mask, kept=None,
        W=W,
        W_out=np.broadcast_to(layer.W_out, (n,) + layer.W_out.shape).copy(),
        bias=None if layer.bias is None else np.broadcast_to(layer.bias, (n, layer.H)).copy(),
        bias_out=None if layer.bias_out is None else np.broadcast_to(
            layer.bias_out, (n, layer.C)).copy(),
        n_params=n_params.astype(int), info=info or {})


def node_result(method: PruningMethod, variant: str, layer: Layer, kept: np.ndarray,
                W_out: np.ndarray | None = None, info: dict | None = None) -> PruningResult:
    """A :class:`PruningResult` for kept-unit sets ``kept`` (n_masks, k), sorted per row.

    ``W_out`` (n_masks, C, k) overrides the plain restriction (reweighting). Removed units' mean
    activations are folded into ``bias_out`` when the layer has ``act_mean``.
    """
    kept = np.sort(np.asarray(kept, dtype=int), axis=1)
    n, k = kept.shape
    H = layer.H
    mask = np.zeros((n, H, layer.D), dtype=bool)
    mask[np.arange(n)[:, None], kept] = True
    W = layer.W[kept]  # (n, k, D)
    if W_out is None:
        W_out = np.swapaxes(layer.W_out.T[kept], 1, 2)  # (n, C, k)
    bias = None if layer.bias is None else layer.bias[kept]
    bias_out = None
    if layer.bias_out is not None or layer.act_mean is not None:
        base = np.zeros(layer.C) if layer.bias_out is None else layer.bias_out
        bias_out = np.broadcast_to(base, (n, layer.C)).copy()
        if layer.act_mean is not None:
            removed = np.ones((n, H), dtype=bool)
            removed[np.arange(n)[:, None], kept] = False
            bias_out += (removed * layer.act_mean) @ layer.W_out.T
    n_params = (k * layer.D + (0 if bias is None else k) + layer.C * k
                + (0 if bias_out is None else layer.C))
    return PruningResult(
        method=method.name, variant=variant, kind=method.kind, keep=k, mask=mask, kept=kept, W=W,
        W_out=W_out, bias=bias, bias_out=bias_out, n_params=np.full(n, n_params, dtype=int),
        info=info or {})


@validate_params({"round_up": [Boolean()]})
def matched_edges(k: int, K: int, N: int, *, round_up: bool = False) -> float | int:
    """Edges per unit e with the same parameter count as k of K units (teacher–student layer).

    Keeping k units keeps k(N + 1) parameters (first and second layer), keeping e edges per unit
    keeps K(e + 1): e = (k(N + 1) − K)/K (``docs/pruning_theory.md`` §5). ``round_up`` gives ⌈e⌉
    (83, 166, 250, 333, 417 for K = 6, N = 500).
    """
    func = "matched_edges"
    K = check_positive_int(K, "K", func)
    k = check_positive_int(k, "k", func)
    N = check_positive_int(N, "N", func)
    if k > K:
        raise InvalidParameterError(
            f"The 'k' parameter of {func} must be an int in [1, K={K}]. Got {k}.")
    e = (k * (N + 1) - K) / K
    return math.ceil(e - 1e-12) if round_up else e
