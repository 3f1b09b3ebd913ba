"""Pruning gaps of random target networks: a computable stand-in for paper D (Qian & Klabjan, "A
probabilistic approach to neural network pruning", ICML 2021, arXiv 2105.10065) of
``docs/companion_papers.md`` §4.

**Paper fidelity pending.** The theorems of D could not be read (§4.3): which network is pruned,
the width requirements and the constants are unknown. Everything here is the document's
*computable stand-in* (§4.4), not an implementation of D's results:

* random target networks (bias-free, 1-Lipschitz activation with σ(0) = 0, linear readout):
  fully connected (:func:`random_fcn`) and circular 1-D / 2-D convolutional
  (:func:`random_cnn`), weights i.i.d. from a zero-mean distribution;
* pruning (§4.4 "Pruning procedures"): :func:`prune_random` (each weight, every kernel entry for
  a CNN, zeroed with probability r, optionally rescaled by 1/(1 − r)) and
  :func:`prune_magnitude` (per layer or global r-quantile of |W|);
* gap measurement (§4.4 "Gap measurement"): :func:`forward`, :func:`measure_gap`,
  :func:`gap_grid` (Monte Carlo grid, also registered as the sweep computation
  ``pruning_gap``) and :func:`gap_probability` (P(gap ≤ ε) over target draws);
* the generic telescoping perturbation bound (§4.4 "Generic perturbation bound"),
  :func:`telescoping_bound` — a theorem for 1-Lipschitz σ with σ(0) = 0, no biases, ‖x‖ ≤ 1;
* closed-form typical relative gaps of one layer for i.i.d. weights (§4.4 "Typical relative
  per-layer gap"): :func:`layer_gap`, :func:`magnitude_moment_fraction`, and across depth
  (§4.4 "Across depth") :func:`predicted_gap` (×√L, the document's rule; plus a large-width
  correlation recursion derived here, ``rule="recursion"``, which is *not* from §4.4);
* the strong-lottery-ticket matching estimate (§4.4, an unverified reading (a) of D):
  :func:`matching_width`, :func:`p_no_match`.

Conventions. ``widths = [d_in, n_1, …, n_{L−1}, d_out]``: L = ``depth`` weight layers, all of
them pruned; σ after every layer except the last. A relative gap is a ratio of norms of output
vectors (see :class:`GapStats`). Bias-free networks with a positively homogeneous σ (ReLU) are
invariant, up to a positive factor, under per-layer rescaling of the weights, so the *relative*
gap after per-layer pruning does not depend on the scaling (``standard`` vs ``mean_field``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import integrate, optimize, special, stats

from .._validation import (
    Boolean,
    Integer,
    InvalidParameterError,
    Options,
    Real,
    _fmt,
    check_choice,
    check_positive_int,
    check_real,
)

__all__ = [
    "ACTIVATIONS", "DISTRIBUTIONS", "SCALINGS", "METHODS", "HOMOGENEOUS", "Network", "GapStats",
    "random_fcn", "random_cnn", "random_unit_inputs", "prune", "prune_random",
    "prune_magnitude", "forward", "measure_gap", "operator_norm", "telescoping_bound",
    "random_layer_gap", "magnitude_moment_fraction", "layer_gap", "predicted_gap",
    "matching_width", "p_no_match", "gap_grid", "gap_probability", "pruning_gap_point",
]

#: 1-Lipschitz activations with σ(0) = 0 (the telescoping bound's hypotheses).
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "tanh": np.tanh,
    "hardtanh": lambda z: np.clip(z, -1.0, 1.0),
    "linear": lambda z: z,
}
#: Named weight distributions (zero mean; drawn with unit variance, then scaled).
DISTRIBUTIONS = ("gaussian", "uniform", "laplace")
SCALINGS = ("standard", "mean_field")
#: Pruning methods of :func:`prune` and :func:`layer_gap`.
METHODS = ("magnitude", "random", "random_rescaled")
SCOPES = ("layer", "global")
RULES = ("sqrt_depth", "recursion")
#: Positively homogeneous activations (the ``recursion`` rule of :func:`predicted_gap`).
HOMOGENEOUS = ("relu", "leaky_relu", "linear")
#: σ(u) = a·relu(u) − b·relu(−u) for the homogeneous activations.
_SLOPES = {"relu": (1.0, 0.0), "leaky_relu": (1.0, 0.01), "linear": (1.0, 1.0)}


# --------------------------------------------------------------------------------------------
# networks


@dataclass(frozen=True)
class Network:
    """A bias-free feed-forward network with a linear readout (paper fidelity pending, §4.4).

    Attributes
    ----------
    weights : tuple of ndarray
        FCN: matrices of shape ``(n_out, n_in)``. CNN: kernels of shape
        ``(c_out, c_in, *taps)`` (cross-correlation, stride 1, circular padding, so every layer
        keeps the spatial shape).
    kind : {"fcn", "cnn"}
    activation : str
        A key of :data:`ACTIVATIONS`, applied after every layer but the last.
    spatial : tuple of int
        CNN only: the input's spatial shape, ``(length,)`` or ``(height, width)``.
    """

    weights: tuple[np.ndarray, ...]
    kind: str = "fcn"
    activation: str = "relu"
    spatial: tuple[int, ...] = ()

    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return len(self.weights)

    @property
    def n_weights(self) -> int:
        """Total number of weights (kernel entries for a CNN)."""
        return int(sum(w.size for w in self.weights))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input: ``(d_in,)`` or ``(c_in, *spatial)``."""
        w0 = self.weights[0]
        return (w0.shape[1],) if self.kind == "fcn" else (w0.shape[1], *self.spatial)

    def with_weights(self, weights: Sequence[np.ndarray]) -> Network:
        """The same architecture with other weights."""
        return replace(self, weights=tuple(np.asarray(w, dtype=float) for w in weights))


def _draw(distribution: Any, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """I.i.d. zero-mean unit-variance entries."""
    if distribution == "gaussian":
        return rng.standard_normal(shape)
    if distribution == "uniform":
        return rng.uniform(-math.sqrt(3.0), math.sqrt(3.0), shape)
    if distribution == "laplace":
        return rng.laplace(0.0, 1.0 / math.sqrt(2.0), shape)
    w = np.asarray(distribution.rvs(size=shape, random_state=rng), dtype=float)
    return (w - distribution.mean()) / distribution.std()


def _check_distribution(distribution: Any, func: str) -> Any:
    if hasattr(distribution, "rvs") and hasattr(distribution, "std"):
        return distribution
    return check_choice(distribution, "distribution", func, DISTRIBUTIONS)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _layer_scales(fan_ins: Sequence[int], scaling: str, gain: float) -> list[float]:
    """Entry standard deviations: ``standard`` gain/√fan_in everywhere; ``mean_field`` O(1)
    entries in the first layer, gain/√fan_in in hidden layers and gain/fan_in in the readout
    (output = average, not normalised sum, over the last hidden layer)."""
    L = len(fan_ins)
    if scaling == "standard":
        return [gain / math.sqrt(f) for f in fan_ins]
    out = []
    for i, f in enumerate(fan_ins):
        if i == L - 1 and L > 1:
            out.append(gain / f)
        elif i == 0:
            out.append(gain)
        else:
            out.append(gain / math.sqrt(f))
    return out


def random_fcn(widths: Sequence[int], distribution: Any = "gaussian", scaling: str = "standard",
               rng: np.random.Generator | int | None = None, *, activation: str = "relu",
               gain: float = 1.0) -> Network:
    """A random bias-free fully connected target network (paper fidelity pending; §4.4 "Gap
    measurement", step 1).

    Parameters
    ----------
    widths : sequence of int
        ``[d_in, n_1, …, n_{L−1}, d_out]``, at least two entries, each >= 1.
    distribution : {"gaussian", "uniform", "laplace"} or scipy.stats frozen distribution
        Law of the i.i.d. entries, standardised to mean 0 and variance 1 before scaling (a
        frozen distribution should be zero-mean, as the closed forms assume).
    scaling : {"standard", "mean_field"}
        Entry scales (see :func:`_layer_scales`); irrelevant for relative gaps of ReLU nets.
    rng : Generator, int or None
    activation : str
        A key of :data:`ACTIVATIONS`.
    gain : float
        Overall factor on every layer's entry scale (> 0).

    Returns
    -------
    Network
    """
    f = "random_fcn"
    if isinstance(widths, str | bytes) or len(widths) < 2:
        raise InvalidParameterError(
            f"The 'widths' parameter of {f} must be a sequence of at least two "
                         f"ints >= 1. Got {_fmt(widths)} instead.")
    widths = [check_positive_int(int(w) if isinstance(w, np.integer) else w, "widths", f)
              for w in widths]
    distribution = _check_distribution(distribution, f)
    check_choice(scaling, "scaling", f, SCALINGS)
    check_choice(activation, "activation", f, tuple(ACTIVATIONS))
    gain = check_real(gain, "gain", f, low=0.0, low_inclusive=False)
    rng = _rng(rng)
    scales = _layer_scales(widths[:-1], scaling, gain)
    weights = [s * _draw(distribution, (widths[i + 1], widths[i]), rng)
               for i, s in enumerate(scales)]
    return Network(tuple(weights), "fcn", activation)


def random_cnn(channels: Sequence[int], kernel_size: int | Sequence[int] = 3,
               spatial: int | Sequence[int] = 16, distribution: Any = "gaussian",
               scaling: str = "standard", rng: np.random.Generator | int | None = None, *,
               activation: str = "relu", gain: float = 1.0) -> Network:
    """A random bias-free circular convolutional network (paper fidelity pending, §4.4).

    Every layer is a stride-1 cross-correlation with circular ("wrap") padding, so the spatial
    shape is kept; the output is the last layer's feature map, flattened.

    Parameters
    ----------
    channels : sequence of int
        ``[c_in, c_1, …, c_out]`` (at least two entries, each >= 1).
    kernel_size : int or sequence of int
        Taps per spatial axis (one int is used for every axis).
    spatial : int or sequence of int
        Spatial shape of the input: an int or ``(length,)`` for 1-D, ``(height, width)`` for
        2-D. Each taps count must be <= the corresponding size.
    distribution, scaling, rng, activation, gain
        As in :func:`random_fcn`; fan-in is ``c_in × prod(kernel_size)``.

    Returns
    -------
    Network
    """
    f = "random_cnn"
    if isinstance(channels, str | bytes) or len(channels) < 2:
        raise InvalidParameterError(
            f"The 'channels' parameter of {f} must be a sequence of at least two "
                         f"ints >= 1. Got {_fmt(channels)} instead.")
    channels = [check_positive_int(int(c) if isinstance(c, np.integer) else c, "channels", f)
                for c in channels]
    spatial = (spatial,) if isinstance(spatial, int | np.integer) else tuple(spatial)
    if len(spatial) not in (1, 2):
        raise InvalidParameterError(f"The 'spatial' parameter of {f} must have 1 or 2 entries. "
                         f"Got {_fmt(spatial)} instead.")
    spatial = tuple(check_positive_int(int(s), "spatial", f) for s in spatial)
    taps = ((kernel_size,) * len(spatial) if isinstance(kernel_size, int | np.integer)
            else tuple(kernel_size))
    if len(taps) != len(spatial) or any(int(t) < 1 or int(t) > s for t, s in zip(taps, spatial,
                                                                                 strict=True)):
        raise InvalidParameterError(
            f"The 'kernel_size' parameter of {f} must give, per spatial axis, an "
                         f"int between 1 and that axis's size {spatial}. "
                         f"Got {_fmt(kernel_size)} instead.")
    taps = tuple(int(t) for t in taps)
    distribution = _check_distribution(distribution, f)
    check_choice(scaling, "scaling", f, SCALINGS)
    check_choice(activation, "activation", f, tuple(ACTIVATIONS))
    gain = check_real(gain, "gain", f, low=0.0, low_inclusive=False)
    rng = _rng(rng)
    n_taps = int(np.prod(taps))
    scales = _layer_scales([c * n_taps for c in channels[:-1]], scaling, gain)
    weights = [s * _draw(distribution, (channels[i + 1], channels[i], *taps), rng)
               for i, s in enumerate(scales)]
    return Network(tuple(weights), "cnn", activation, spatial)


def random_unit_inputs(net_or_shape: Network | int | Sequence[int], n: int,
                       rng: np.random.Generator | int | None = None) -> np.ndarray:
    """``n`` inputs drawn uniformly on the unit sphere, shape ``(n, *input)`` (§4.4 "Gap
    measurement", step 2; paper fidelity pending)."""
    shape = (net_or_shape.input_shape if isinstance(net_or_shape, Network)
             else ((net_or_shape,) if isinstance(net_or_shape, int | np.integer)
                   else tuple(net_or_shape)))
    n = check_positive_int(n, "n", "random_unit_inputs")
    x = _rng(rng).standard_normal((n, int(np.prod(shape))))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.reshape(n, *shape)


# --------------------------------------------------------------------------------------------
# pruning


def _split(weights: Network | Sequence[np.ndarray] | np.ndarray):
    """(list of arrays, rebuild function returning the caller's type)."""
    if isinstance(weights, Network):
        return list(weights.weights), weights.with_weights
    if isinstance(weights, np.ndarray):
        return [weights], lambda ws: ws[0]
    return [np.asarray(w, dtype=float) for w in weights], list


def prune_random(weights: Network | Sequence[np.ndarray] | np.ndarray, r: float,
                 rescale: bool = False, rng: np.random.Generator | int | None = None
                 ) -> Network | list[np.ndarray] | np.ndarray:
    """Random pruning (paper fidelity pending; §4.4 "Random pruning, FCN / CNN").

    Each weight — for a CNN every kernel entry (output channel × input channel × tap) — is
    zeroed independently with probability ``r``; with ``rescale`` the survivors are multiplied
    by 1/(1 − r). Masks are drawn layer by layer as ``rng.random(W.shape) < r``.

    Parameters
    ----------
    weights : Network, sequence of ndarray or ndarray
    r : float
        Prune ratio in [0, 1).
    rescale : bool
    rng : Generator, int or None

    Returns
    -------
    Same type as ``weights``.
    """
    r = check_real(r, "r", "prune_random", low=0.0, high=1.0, high_inclusive=False)
    rng = _rng(rng)
    ws, rebuild = _split(weights)
    factor = 1.0 / (1.0 - r) if rescale else 1.0
    out = []
    for w in ws:
        drop = rng.random(w.shape) < r
        out.append(np.where(drop, 0.0, w * factor))
    return rebuild(out)


def prune_magnitude(weights: Network | Sequence[np.ndarray] | np.ndarray, r: float,
                    scope: str = "layer") -> Network | list[np.ndarray] | np.ndarray:
    """Magnitude pruning (paper fidelity pending; §4.4 "Magnitude pruning, FCN").

    With N entries in scope (one layer, or all layers for ``scope="global"``) and
    k = ⌊r N⌋, the threshold t_r is the k-th smallest |w| and every entry with |w| ≤ t_r is
    zeroed (exactly k entries when the |w| are distinct; ties at t_r are all zeroed). k = 0
    prunes nothing.

    Parameters
    ----------
    weights : Network, sequence of ndarray or ndarray
    r : float
        Prune ratio in [0, 1).
    scope : {"layer", "global"}

    Returns
    -------
    Same type as ``weights``.
    """
    r = check_real(r, "r", "prune_magnitude", low=0.0, high=1.0, high_inclusive=False)
    check_choice(scope, "scope", "prune_magnitude", SCOPES)
    ws, rebuild = _split(weights)

    def threshold(a: np.ndarray) -> float:
        k = int(math.floor(r * a.size + 1e-9))
        return -np.inf if k == 0 else float(np.partition(a, k - 1)[k - 1])

    if scope == "global":
        t = threshold(np.concatenate([np.abs(w).ravel() for w in ws]))
        ts = [t] * len(ws)
    else:
        ts = [threshold(np.abs(w).ravel()) for w in ws]
    return rebuild([np.where(np.abs(w) <= t, 0.0, w) for w, t in zip(ws, ts, strict=True)])


def prune(weights: Network | Sequence[np.ndarray] | np.ndarray, method: str, r: float,
          rng: np.random.Generator | int | None = None, scope: str = "layer"):
    """Prune by ``method``: :func:`prune_magnitude` (``"magnitude"``) or :func:`prune_random`
    (``"random"``, ``"random_rescaled"``). Paper fidelity pending (§4.4)."""
    check_choice(method, "method", "prune", METHODS)
    if method == "magnitude":
        return prune_magnitude(weights, r, scope)
    return prune_random(weights, r, rescale=method == "random_rescaled", rng=rng)


# --------------------------------------------------------------------------------------------
# forward pass and gaps


def _conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Circular cross-correlation: y[b, o, i] = Σ_{c, t} k[o, c, t] x[b, c, i + t − ⌊T/2⌋]."""
    taps = k.shape[2:]
    axes = tuple(range(2, 2 + len(taps)))
    y = np.zeros((x.shape[0], k.shape[0], *x.shape[2:]))
    for t in np.ndindex(*taps):
        shift = tuple(-(ti - ni // 2) for ti, ni in zip(t, taps, strict=True))
        xs = np.roll(x, shift, axis=axes)
        y += np.einsum("oc,bc...->bo...", k[(slice(None), slice(None), *t)], xs, optimize=True)
    return y


def forward(net: Network, x: np.ndarray) -> np.ndarray:
    """F(x) of a bias-free network, σ after every layer but the last (§4.4 setting; paper
    fidelity pending).

    Parameters
    ----------
    net : Network
    x : ndarray
        One input or a batch: ``(d_in,)`` / ``(n, d_in)`` for an FCN; ``(c_in, *spatial)`` /
        ``(n, c_in, *spatial)`` or flattened ``(n, c_in·prod(spatial))`` for a CNN.

    Returns
    -------
    ndarray of shape ``(n, d_out)`` (CNN: the flattened last feature map).
    """
    if not isinstance(net, Network):
        raise InvalidParameterError(
            f"The 'net' parameter of forward must be a Network. Got {_fmt(net)}.")
    x = np.asarray(x, dtype=float)
    shape = net.input_shape
    size = int(np.prod(shape))
    if x.shape == shape or x.shape == (size,):
        x = x.reshape(1, *shape)
    elif x.ndim >= 2 and int(np.prod(x.shape[1:])) == size:
        x = x.reshape(x.shape[0], *shape)
    else:
        raise InvalidParameterError(f"The 'x' parameter of forward must have shape (n, {size}) or "
                         f"(n, *{shape}). Got shape {x.shape} instead.")
    act = ACTIVATIONS[net.activation]
    h = x
    for i, w in enumerate(net.weights):
        h = h @ w.T if net.kind == "fcn" else _conv(h, w)
        if i < net.depth - 1:
            h = act(h)
    return h.reshape(h.shape[0], -1)


@dataclass(frozen=True)
class GapStats:
    """Output gaps ‖F(x) − F̃(x)‖ over a set of inputs (§4.4 "Gap measurement", step 3;
    paper fidelity pending).

    Attributes
    ----------
    max_abs : float
        max_x ‖ΔF(x)‖.
    rms_abs : float
        √(mean_x ‖ΔF(x)‖²).
    max_rel : float
        max_x ‖ΔF(x)‖ / max_x ‖F(x)‖ — the statistic of §4.4's Monte Carlo check.
    rms_rel : float
        √(Σ_x ‖ΔF(x)‖² / Σ_x ‖F(x)‖²) — the mean-square statistic that the closed forms
        (:func:`predicted_gap`) describe.
    max_pointwise_rel : float
        max_x ‖ΔF(x)‖ / ‖F(x)‖ (inf if some F(x) = 0 ≠ ΔF(x)).
    max_out : float
        max_x ‖F(x)‖.
    n_inputs : int
    """

    max_abs: float
    rms_abs: float
    max_rel: float
    rms_rel: float
    max_pointwise_rel: float
    max_out: float
    n_inputs: int

    def as_dict(self) -> dict[str, float]:
        """The fields as a dict."""
        return dict(self.__dict__)


def measure_gap(net: Network, pruned: Network, x: np.ndarray) -> GapStats:
    """Measured gap between a target ``net`` and its ``pruned`` version on inputs ``x``
    (paper fidelity pending; §4.4 "Gap measurement", step 3)."""
    if not isinstance(pruned, Network) or pruned.kind != net.kind or pruned.depth != net.depth:
        raise InvalidParameterError(
            "The 'pruned' parameter of measure_gap must be a Network of the same "
                         f"kind and depth as 'net'. Got {_fmt(pruned)} instead.")
    f = forward(net, x)
    g = forward(pruned, x)
    d = np.linalg.norm(f - g, axis=1)
    fn = np.linalg.norm(f, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        point = np.where(d == 0, 0.0, d / fn)
        max_rel = float(d.max() / fn.max()) if fn.max() > 0 else math.inf
        rms_rel = float(np.sqrt((d ** 2).sum() / (fn ** 2).sum())) if fn.max() > 0 else math.inf
    return GapStats(float(d.max()), float(np.sqrt(np.mean(d ** 2))), max_rel, rms_rel,
                    float(point.max()), float(fn.max()), int(d.size))


# --------------------------------------------------------------------------------------------
# telescoping bound


def operator_norm(w: np.ndarray, spatial: Sequence[int] | None = None) -> float:
    """Spectral norm ‖W‖₂ of a layer's linear map (used by the §4.4 telescoping bound; paper
    fidelity pending).

    A matrix: its largest singular value (an SVD when a side is < 128, else the top eigenvalue
    of the smaller Gram matrix by LAPACK ``syevr``; both direct, to rounding error). A kernel
    ``(c_out, c_in, *taps)`` of a circular convolution on ``spatial``: max over discrete
    frequencies ω of ‖K̂(ω)‖₂, K̂(ω) the ``c_out × c_in`` DFT of the kernel placed on the
    periodic grid (exact: the DFT block diagonalises circular convolutions).
    """
    w = np.asarray(w, dtype=float)
    if w.ndim == 2 and spatial is None:
        if not np.any(w):
            return 0.0
        if min(w.shape) >= 128:
            a = w if w.shape[0] <= w.shape[1] else w.T
            from scipy.linalg import eigh

            n = a.shape[0]
            top = eigh(a @ a.T, eigvals_only=True, subset_by_index=[n - 1, n - 1],
                       driver="evr")[0]
            return float(math.sqrt(max(top, 0.0)))
        return float(np.linalg.norm(w, 2))
    if spatial is None or len(spatial) != w.ndim - 2:
        raise InvalidParameterError(
            f"The 'spatial' parameter of operator_norm must give {w.ndim - 2} "
                         f"sizes for a kernel of shape {w.shape}. Got {_fmt(spatial)} instead.")
    taps = w.shape[2:]
    grid = np.zeros((*w.shape[:2], *spatial))
    for t in np.ndindex(*taps):
        pos = tuple((ti - ni // 2) % s for ti, ni, s in zip(t, taps, spatial, strict=True))
        grid[(slice(None), slice(None), *pos)] += w[(slice(None), slice(None), *t)]
    axes = tuple(range(2, 2 + len(spatial)))
    kh = np.fft.fftn(grid, axes=axes)
    kh = np.moveaxis(kh.reshape(*w.shape[:2], -1), -1, 0)  # (freq, c_out, c_in)
    return float(np.linalg.svd(kh, compute_uv=False).max())


def _norm_of(net_like: Network | None, w: np.ndarray) -> float:
    spatial = net_like.spatial if (net_like is not None and net_like.kind == "cnn") else None
    return operator_norm(w, spatial)


def telescoping_bound(weights: Network | Sequence[np.ndarray],
                      pruned: Network | Sequence[np.ndarray], *, input_norm: float = 1.0,
                      return_terms: bool = False) -> float | tuple[float, np.ndarray]:
    """Generic perturbation bound (paper fidelity pending; §4.4 "Generic perturbation bound").

    For ‖x‖ ≤ ``input_norm``, a 1-Lipschitz σ with σ(0) = 0 and no biases, telescoping over the
    hybrid networks (layers 1..l−1 of the target, l..L of the pruned one) gives

        ‖F(x) − F̃(x)‖ ≤ ‖x‖ Σ_l (Π_{k<l} ‖W_k‖₂) ‖W_l − W̃_l‖₂ (Π_{k>l} ‖W̃_k‖₂).

    Parameters
    ----------
    weights, pruned : Network or sequence of 2-D arrays
        Target and pruned network (Networks are required for CNNs: the operator norm of a
        convolution depends on the spatial size).
    input_norm : float
        Radius of the input ball (>= 0).
    return_terms : bool
        Also return the per-layer terms.

    Returns
    -------
    float, or (float, ndarray of the L terms)
    """
    f = "telescoping_bound"
    input_norm = check_real(input_norm, "input_norm", f, low=0.0)
    ref = weights if isinstance(weights, Network) else None
    ws, _ = _split(weights)
    ps, _ = _split(pruned)
    if len(ws) != len(ps) or any(a.shape != b.shape for a, b in zip(ws, ps, strict=True)):
        raise InvalidParameterError(
            f"The 'pruned' parameter of {f} must have the same layer shapes as "
                         f"'weights'. Got {[p.shape for p in ps]} vs {[w.shape for w in ws]}.")
    if ref is None and any(w.ndim != 2 for w in ws):
        raise InvalidParameterError(f"The 'weights' parameter of {f} must be a Network for a CNN "
                         "(kernels need the spatial size).")
    nw = np.array([_norm_of(ref, w) for w in ws])
    npr = np.array([_norm_of(ref, p) for p in ps])
    nd = np.array([_norm_of(ref, w - p) for w, p in zip(ws, ps, strict=True)])
    L = len(ws)
    terms = np.array([np.prod(nw[:i]) * nd[i] * np.prod(npr[i + 1:]) for i in range(L)])
    terms *= input_norm
    total = float(terms.sum())
    return (total, terms) if return_terms else total


# --------------------------------------------------------------------------------------------
# closed forms


def random_layer_gap(r: float | np.ndarray, rescale: bool = False) -> float | np.ndarray:
    """Typical relative pre-activation change of one randomly pruned layer (paper fidelity
    pending; §4.4 "Typical relative per-layer gap"): √r, or √(r/(1 − r)) with rescaling.

    Exact in the mean-square sense for an input independent of the mask:
    E‖ΔW h‖² / E‖W h‖² = r (resp. r/(1 − r)) for i.i.d. zero-mean entries.
    """
    r = check_real(r, "r", "random_layer_gap", low=0.0, high=1.0, high_inclusive=False,
                   allow_array=True)
    return np.sqrt(r / (1.0 - r)) if rescale else np.sqrt(r)


def _abs_quantile(dist: Any, r: float) -> float:
    """t with P(|w| ≤ t) = r for a continuous scipy distribution."""
    if r == 0.0:
        return 0.0

    def g(t: float) -> float:
        return float(dist.cdf(t) - dist.cdf(-t)) - r

    hi = max(float(dist.ppf((1 + r) / 2)), -float(dist.ppf((1 - r) / 2)), 1e-12)
    while g(hi) < 0:
        hi *= 2.0
    return float(optimize.brentq(g, 0.0, hi, xtol=1e-14, rtol=1e-13))


def magnitude_moment_fraction(r: float | np.ndarray, distribution: Any = "gaussian", *,
                              numerical: bool = False) -> float | np.ndarray:
    """m(r) = E[w² 1{|w| < t_r}] / E[w²], P(|w| < t_r) = r (paper fidelity pending; §4.4).

    The squared relative pre-activation change of a magnitude-pruned layer with i.i.d.
    weights. Closed forms:

    * Gaussian: m = r − 2 z_r φ(z_r), z_r = Φ⁻¹((1 + r)/2) (§4.4);
    * uniform on [−a, a]: m = r³ (§4.4 "Weight distribution": the gap is r^{3/2});
    * Laplace: m = P(Γ(3) ≤ −ln(1 − r)) (|w| is exponential; our derivation, §4.4 "Weight
      distribution").

    Any other continuous zero-mean distribution (a scipy.stats frozen distribution), or
    ``numerical=True``, uses numerical integration: t_r from P(|w| ≤ t) = r (Brent), then
    ∫_{−t_r}^{t_r} w² dF / E[w²] (adaptive quadrature).
    """
    f = "magnitude_moment_fraction"
    r = check_real(r, "r", f, low=0.0, high=1.0, high_inclusive=False, allow_array=True)
    distribution = _check_distribution(distribution, f)
    if isinstance(distribution, str) and not numerical:
        if distribution == "gaussian":
            z = stats.norm.ppf((1.0 + r) / 2.0)
            return np.maximum(r - 2.0 * z * stats.norm.pdf(z), 0.0)
        if distribution == "uniform":
            return np.asarray(r) ** 3 if np.ndim(r) else r ** 3
        return special.gammainc(3.0, -np.log1p(-np.asarray(r)))
    dist = {"gaussian": stats.norm(), "uniform": stats.uniform(-1.0, 2.0),
            "laplace": stats.laplace()}.get(distribution, distribution) \
        if isinstance(distribution, str) else distribution
    second = float(dist.var() + dist.mean() ** 2)

    def one(rr: float) -> float:
        t = _abs_quantile(dist, float(rr))
        if t == 0.0:
            return 0.0
        val, _ = integrate.quad(lambda w: w * w * dist.pdf(w), -t, t, epsabs=0.0,
                                epsrel=1e-11, limit=200, points=[0.0])
        return val / second

    if np.ndim(r) == 0:
        return one(float(r))
    return np.vectorize(one, otypes=[float])(r)


def layer_gap(method: str, r: float | np.ndarray, distribution: Any = "gaussian"
              ) -> float | np.ndarray:
    """Closed-form typical relative gap of one pruned layer, i.i.d. weights (paper fidelity
    pending; §4.4): random √r, random-rescaled √(r/(1−r)), magnitude √m(r)
    (:func:`magnitude_moment_fraction`; Gaussian ≈ 0.023, 0.267, 0.749 at r = 0.1, 0.5, 0.9)."""
    check_choice(method, "method", "layer_gap", METHODS)
    if method == "magnitude":
        return np.sqrt(magnitude_moment_fraction(r, distribution))
    return random_layer_gap(r, rescale=method == "random_rescaled")


def _relu_pair(qa: float, qb: float, c: float) -> float:
    """E relu(u) relu(v), centred Gaussians with variances qa, qb and covariance c (the
    arc-cosine kernel of degree 1)."""
    if qa * qb <= 0:
        return 0.0
    rho = float(np.clip(c / math.sqrt(qa * qb), -1.0, 1.0))
    return math.sqrt(qa * qb) * (math.sqrt(1 - rho * rho)
                                 + (math.pi - math.acos(rho)) * rho) / (2 * math.pi)


def _pair_moments(act: str, qa: float, qb: float, c: float) -> tuple[float, float, float]:
    """E σ(u)², E σ(v)², E σ(u)σ(v) for centred Gaussians with variances qa, qb, covariance c
    and a positively homogeneous σ(u) = a·relu(u) − b·relu(−u) (exact: arc-cosine kernel)."""
    a, b = _SLOPES[act]
    sq = (a * a + b * b) / 2
    cross = (a * a + b * b) * _relu_pair(qa, qb, c) - 2 * a * b * _relu_pair(qa, qb, -c)
    return sq * qa, sq * qb, cross


def predicted_gap(method: str, r: float, depth: int, distribution: Any = "gaussian", *,
                  rule: str = "sqrt_depth", activation: str = "relu") -> float:
    """Predicted network-level relative gap (mean-square statistic) of an L-layer FCN with
    i.i.d. weights, every layer pruned (paper fidelity pending).

    Parameters
    ----------
    method : {"magnitude", "random", "random_rescaled"}
    r : float
        Prune ratio in [0, 1).
    depth : int
        Number of weight layers L (>= 1).
    distribution : str or scipy.stats frozen distribution
    rule : {"sqrt_depth", "recursion"}
        ``"sqrt_depth"``: §4.4 "Across depth", independent layer errors in quadrature,
        √L × :func:`layer_gap`. ``"recursion"`` (derived here, **not** in §4.4): the
        large-width limit. A pruned layer maps the pre-activations of target and pruned nets,
        (z, z̃), to jointly Gaussian ones with E z² ∝ q, E z̃² ∝ a₂ q̃, E z z̃ ∝ a₁ c, where
        (a₁, a₂) = (1−r, 1−r) random, (1, 1/(1−r)) random-rescaled, (1−m, 1−m) magnitude;
        σ is applied through the Gaussian pair moments (arc-cosine kernel for ReLU), and the
        gap is √((q + q̃ − 2c)/q) at the linear readout. It captures the compounding that
        the quadrature rule misses (e.g. random-rescaled, r = 0.5, L = 2: 1.69 vs √2).
    activation : {"relu", "leaky_relu", "linear"}
        Used by ``"recursion"`` only, which needs a positively homogeneous σ (then the weight
        scale drops out; the Gaussian pair moments are exact, via the arc-cosine kernel).

    Returns
    -------
    float
    """
    f = "predicted_gap"
    check_choice(method, "method", f, METHODS)
    r = check_real(r, "r", f, low=0.0, high=1.0, high_inclusive=False)
    depth = check_positive_int(depth, "depth", f)
    check_choice(rule, "rule", f, RULES)
    check_choice(activation, "activation", f, HOMOGENEOUS)
    g = float(layer_gap(method, r, distribution))
    if rule == "sqrt_depth":
        return math.sqrt(depth) * g
    if method == "random":
        a1 = a2 = 1.0 - r
    elif method == "random_rescaled":
        a1, a2 = 1.0, 1.0 / (1.0 - r)
    else:
        a1 = a2 = 1.0 - g * g
    q = qt = c = 1.0
    for layer in range(depth):
        q, qt, c = q, a2 * qt, a1 * c
        if layer < depth - 1:
            q, qt, c = _pair_moments(activation, q, qt, c)
    return math.sqrt(max(q + qt - 2.0 * c, 0.0) / q)


# --------------------------------------------------------------------------------------------
# strong-lottery-ticket matching estimate


def p_no_match(eps: float, g_min: float, k: int | np.ndarray, *, form: str = "power"
               ) -> float | np.ndarray:
    """Bound on P(none of k i.i.d. candidates lies within ε of a target weight) (paper fidelity
    pending; §4.4 "Strong-lottery-ticket matching estimate", an unverified reading of D).

    With candidate density g ≥ g_min on [w − ε, w + ε]: P(no match) ≤ (1 − 2ε g_min)^k
    (``form="power"``) ≤ exp(−2ε g_min k) (``form="exp"``). Requires 2 ε g_min ≤ 1.
    """
    f = "p_no_match"
    eps = check_real(eps, "eps", f, low=0.0, low_inclusive=False)
    g_min = check_real(g_min, "g_min", f, low=0.0, low_inclusive=False)
    if 2.0 * eps * g_min > 1.0:
        raise InvalidParameterError(f"The 'eps' and 'g_min' parameters of {f} must satisfy "
                         f"2·eps·g_min <= 1. Got 2·{eps}·{g_min} = {2 * eps * g_min} instead.")
    k = check_real(k, "k", f, low=0.0, allow_array=True)
    check_choice(form, "form", f, ("power", "exp"))
    p = 2.0 * eps * g_min
    return np.exp(-p * np.asarray(k)) if form == "exp" else (1.0 - p) ** np.asarray(k)


def matching_width(n_weights: int, eps: float, g_min: float, delta: float) -> int:
    """Candidates per target weight so that all N_w weights are matched within ε with
    probability ≥ 1 − δ: k = ⌈log(N_w/δ) / (2 ε g_min)⌉ (paper fidelity pending; §4.4, union
    bound over :func:`p_no_match`'s exp form; an unverified strong-lottery-ticket reading).

    Parameters
    ----------
    n_weights : int
        N_w >= 1.
    eps : float
        Matching tolerance > 0.
    g_min : float
        Lower bound > 0 on the candidates' density over the targets' range (2 ε g_min <= 1).
    delta : float
        Failure probability in (0, 1).
    """
    f = "matching_width"
    n_weights = check_positive_int(n_weights, "n_weights", f)
    eps = check_real(eps, "eps", f, low=0.0, low_inclusive=False)
    g_min = check_real(g_min, "g_min", f, low=0.0, low_inclusive=False)
    delta = check_real(delta, "delta", f, low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    if 2.0 * eps * g_min > 1.0:
        raise InvalidParameterError(f"The 'eps' and 'g_min' parameters of {f} must satisfy "
                         f"2·eps·g_min <= 1. Got 2·{eps}·{g_min} = {2 * eps * g_min} instead.")
    return int(math.ceil(math.log(n_weights / delta) / (2.0 * eps * g_min)))


# --------------------------------------------------------------------------------------------
# Monte Carlo grid and sweep computation


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, list | tuple | np.ndarray) else [v]


@dataclass
class _GridOptions:
    input_dim: int = 32
    output_dim: int | None = None
    activation: str = "relu"
    scope: str = "layer"
    bound: bool = True


def _grid_rows(width: int, depth: int, scaling: str, distribution: Any, replicate: int,
               ratios: list, methods: list, n_inputs: int, rng: np.random.Generator,
               opt: _GridOptions) -> list[dict]:
    d_out = width if opt.output_dim is None else opt.output_dim
    widths = [opt.input_dim] + [width] * (depth - 1) + [d_out]
    net = random_fcn(widths, distribution, scaling, rng, activation=opt.activation)
    x = random_unit_inputs(net, n_inputs, rng)
    dist_name = distribution if isinstance(distribution, str) else str(distribution.dist.name)
    rows = []
    for r in ratios:
        for method in methods:
            t0 = time.perf_counter()
            pruned = prune(net, method, r, rng, opt.scope)
            gap = measure_gap(net, pruned, x)
            row = {"width": width, "depth": depth, "ratio": float(r), "method": method,
                   "scaling": scaling, "distribution": dist_name, "replicate": replicate,
                   **gap.as_dict(),
                   "layer_gap": float(layer_gap(method, r, distribution)),
                   "pred_sqrt_depth": predicted_gap(method, r, depth, distribution),
                   "pred_recursion": (predicted_gap(method, r, depth, distribution,
                                                    rule="recursion",
                                                    activation=opt.activation)),
                   "n_weights": net.n_weights}
            if opt.bound:
                b = telescoping_bound(net, pruned)
                row["bound"] = b
                row["bound_over_max_abs"] = b / gap.max_abs if gap.max_abs > 0 else math.inf
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
    return rows


def gap_grid(widths: Sequence[int], depths: Sequence[int], ratios: Sequence[float],
             methods: Sequence[str] = METHODS, scalings: Sequence[str] = ("standard",),
             n_inputs: int = 500, rng: np.random.Generator | int | None = None, *,
             distributions: Sequence[Any] = ("gaussian",), replicates: int = 1,
             input_dim: int = 32, output_dim: int | None = None, activation: str = "relu",
             scope: str = "layer", bound: bool = True):
    """Monte Carlo grid of measured gaps beside the closed-form predictions (paper fidelity
    pending; §4.4 "Monte Carlo check").

    For every (width, depth, scaling, distribution, replicate) one target FCN
    ``[input_dim, width × (depth−1), output_dim or width]`` and ``n_inputs`` unit inputs are
    drawn; every (ratio, method) prunes that same target.

    Returns
    -------
    pandas.DataFrame
        One row per (width, depth, ratio, method, scaling, distribution, replicate):
        the :class:`GapStats` fields, ``layer_gap``, ``pred_sqrt_depth`` (§4.4),
        ``pred_recursion`` (large-width recursion, derived here), ``n_weights``, and with
        ``bound`` the telescoping bound and its ratio to ``max_abs``.
    """
    import pandas as pd

    f = "gap_grid"
    for name, val in (("ratios", ratios),):
        for r in _as_list(val):
            check_real(r, name, f, low=0.0, high=1.0, high_inclusive=False)
    for m in _as_list(methods):
        check_choice(m, "methods", f, METHODS)
    for s in _as_list(scalings):
        check_choice(s, "scalings", f, SCALINGS)
    for d in _as_list(depths):
        check_positive_int(int(d), "depths", f)
    for w in _as_list(widths):
        check_positive_int(int(w), "widths", f)
    n_inputs = check_positive_int(n_inputs, "n_inputs", f)
    replicates = check_positive_int(replicates, "replicates", f)
    opt = _GridOptions(check_positive_int(input_dim, "input_dim", f), output_dim,
                       check_choice(activation, "activation", f, tuple(ACTIVATIONS)),
                       check_choice(scope, "scope", f, SCOPES), bool(bound))
    rng = _rng(rng)
    rows = []
    for dist in _as_list(distributions):
        for scaling in _as_list(scalings):
            for width in _as_list(widths):
                for depth in _as_list(depths):
                    for rep in range(replicates):
                        rows += _grid_rows(int(width), int(depth), scaling, dist, rep,
                                           [float(r) for r in _as_list(ratios)],
                                           _as_list(methods), n_inputs, rng, opt)
    return pd.DataFrame(rows)


def gap_probability(table, eps: float, statistic: str = "max_rel"):
    """Estimated P(gap ≤ ε) over target draws (§4.4 "Gap measurement", step 4; paper fidelity
    pending), per (width, depth, ratio, method, scaling, distribution), from a :func:`gap_grid`
    table with several replicates. Returns a DataFrame with ``p``, ``n`` and the binomial
    ``se``."""
    eps = check_real(eps, "eps", "gap_probability", low=0.0)
    check_choice(statistic, "statistic", "gap_probability",
                 ("max_abs", "rms_abs", "max_rel", "rms_rel", "max_pointwise_rel"))
    keys = ["width", "depth", "ratio", "method", "scaling", "distribution"]
    g = (table[statistic] <= eps).groupby([table[k] for k in keys])
    out = g.agg(p="mean", n="size").reset_index()
    out["se"] = np.sqrt(out["p"] * (1 - out["p"]) / out["n"])
    return out


#: Defaults and constraints of the ``pruning_gap`` sweep computation (registered by
#: :mod:`statmech.sweep.builtin`).
GAP_SWEEP_DEFAULTS = {
    "width": 256, "depth": 2, "ratio": 0.1, "method": "magnitude", "scaling": "standard",
    "distribution": "gaussian", "n_inputs": 500, "input_dim": 32, "output_dim": None,
    "activation": "relu", "scope": "layer", "bound": True, "replicate": 0}
GAP_SWEEP_CONSTRAINTS = {
    "width": [Integer(1)], "depth": [Integer(1)], "ratio": [Real(0.0, 1.0, closed="left")],
    "method": [Options(METHODS)], "scaling": [Options(SCALINGS)],
    "distribution": [Options(DISTRIBUTIONS)], "n_inputs": [Integer(1)],
    "input_dim": [Integer(1)], "output_dim": [None, Integer(1)],
    "activation": [Options(tuple(ACTIVATIONS))], "scope": [Options(SCOPES)],
    "bound": [Boolean()], "replicate": [Integer(0)]}


def pruning_gap_point(config: dict, seed: int):
    """Pruning gap of a random FCN vs §4.4's predictions (paper D; fidelity pending).

    One row per (width, depth, ratio, method, scaling, distribution, replicate): the columns of
    :func:`gap_grid` (without ``seconds``)."""
    rng = np.random.default_rng(seed % (2 ** 63))
    opt = _GridOptions(int(config["input_dim"]), config["output_dim"], config["activation"],
                       config["scope"], bool(config["bound"]))
    table = gap_grid([int(config["width"])], [int(config["depth"])], [float(config["ratio"])],
                     [config["method"]], [config["scaling"]], int(config["n_inputs"]), rng,
                     distributions=[config["distribution"]], input_dim=opt.input_dim,
                     output_dim=opt.output_dim, activation=opt.activation, scope=opt.scope,
                     bound=opt.bound)
    table["replicate"] = int(config["replicate"])
    return table.drop(columns=["seconds"])
