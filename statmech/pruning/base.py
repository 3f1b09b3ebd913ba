"""Shared machinery of the pruning methods: the layer, the result, ``keep`` parsing, the method
interface and the registry.

One layer is pruned: its incoming weights W (H × D, one row per unit), optional biases b (H,), and
its units' outgoing weights W_out (C × H). In the teacher–student setting W is the student's first
layer (K × N) and W_out = vᵀ (1 × K). *Edge* methods zero entries of W (a mask, the same shape);
*node* methods remove whole units (rows of W, entries of b, columns of W_out).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import InvalidParameterError, _fmt
from ..theory.order_parameters import OrderParameters

__all__ = ["Layer", "PruningResult", "PruningMethod", "parse_keep", "PRUNING_METHODS",
           "register", "get_method", "method_names"]


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
        W = self.W if self.backend is None else self.backend.to_numpy(self.W).astype(float)
        W_out = (self.W_out if self.backend is None
                 else self.backend.to_numpy(self.W_out).astype(float))
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


class PruningMethod:
    """A pruning method: the explicit operator on a :class:`Layer` and its theory.

    Subclasses set ``name``, ``kind`` ("edge" or "node"), ``variants`` (the first is the
    default) and implement :meth:`prune` and :meth:`theory`. They also carry how the method is
    shown and listed, so that every list of methods (figures, command-line choices, styles)
    derives from the registry (:func:`method_names`): ``label`` (legend text), ``color`` and
    ``marker`` (one look everywhere), ``in_gallery`` (one of the seed paper's seven methods
    that the gallery and the comparisons show) and ``order`` (their order).
    """

    name: str = ""
    kind: str = ""
    variants: tuple[str, ...] = ("default",)
    description: str = ""
    label: str = ""
    color: str = "0.4"
    marker: str = "."
    in_gallery: bool = False
    order: int = 100
    #: Whether the method rebuilds the next layer from the kept units by itself (so that a
    #: separate reweighting step does not apply).
    reconstructs: bool = False
    #: Whether the method's kernel uses the layer's input covariance (data statistics).
    needs_input_cov: bool = False
    #: The method's options (``prune(..., **options)``): name -> list of constraints
    #: (``statmech._validation``); an empty list means the method checks the value itself.
    #: Any other option name is refused (a misspelt ``kernal=`` must not be ignored).
    options: dict[str, list] = {}

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

    def prune(self, layer: Layer, keep: int, variant: str, rng: np.random.Generator,
              n_masks: int, **options: Any) -> PruningResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def theory(self, op: OrderParameters, keep: Any, variant: str, **options: Any) -> dict:
        raise NotImplementedError  # pragma: no cover - abstract

    # -- edge methods ---------------------------------------------------------------------
    def inclusion_probabilities(self, W: np.ndarray, e: int, variant: str,
                                **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """Edge methods: P (K, N), the probability that each weight is kept with e edges per
        unit, and P2 (K, K, N), that weight i of units k and l both are (the diagonal k = l is
        replaced by P by the caller); the finite-N theory of ``prune_theory(weights=...)``."""
        raise NotImplementedError(f"method {self.name!r} has no inclusion probabilities")

    def backend_mask(self, variant: str, W: Any, keep: int, n_masks: int, backend: Any,
                     seed: Any) -> Any:
        """Edge methods whose masks the array namespace can draw: boolean masks
        (n_masks, H, D) on ``backend`` for the backend weights ``W``; None (the default): the
        masks are drawn on the host and moved."""
        return None

    def __repr__(self) -> str:
        return f"<pruning method {self.name!r} ({self.kind}; variants {self.variants})>"


PRUNING_METHODS: dict[str, PruningMethod] = {}


def method_names(kind: str | None = None, gallery: bool | None = None) -> tuple[str, ...]:
    """Names of the registered methods in display order, optionally only one ``kind``
    ("edge"/"node") or only those shown in the gallery (``gallery=True``)."""
    ms = sorted(PRUNING_METHODS.values(), key=lambda m: (m.order, m.name))
    return tuple(m.name for m in ms if (kind is None or m.kind == kind)
                 and (gallery is None or m.in_gallery == gallery))


def register(method: PruningMethod) -> PruningMethod:
    """Add a method to :data:`PRUNING_METHODS` (one line per method module)."""
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
    """A :class:`PruningResult` for edge masks (n_masks, H, D)."""
    W = np.where(mask, layer.W[None], 0.0)
    n = mask.shape[0]
    n_params = (mask.reshape(n, -1).sum(1) + (0 if layer.bias is None else layer.H)
                + layer.C * layer.H + (0 if layer.bias_out is None else layer.C))
    return PruningResult(
        method=method.name, variant=variant, kind="edge", keep=keep, mask=mask, kept=None, W=W,
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
        method=method.name, variant=variant, kind="node", keep=k, mask=mask, kept=kept, W=W,
        W_out=W_out, bias=bias, bias_out=bias_out, n_params=np.full(n, n_params, dtype=int),
        info=info or {})
