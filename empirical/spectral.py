"""Spectral pruning of real MLPs, layer by layer (paper C: Suzuki et al., IJCAI 2020, arXiv
1808.08558; ``docs/companion_papers.md`` §3).

:func:`spectral_prune_mlp` compresses every hidden layer of an :class:`~empirical.models.MLP` of
any depth with statmech's ``spectral_node`` method through :func:`empirical.pruning.prune_mlp`,
one layer at a time from the input side (§3.2, "Algorithm"): layer ℓ keeps the units J_ℓ chosen
by greedy minimisation of L^A + θ L^B on its activation covariance Σ̂_ℓ, and the next layer's
weights become W^{(ℓ+1)} Â_J with Â_J = Σ̂_FJ(Σ̂_JJ + I_τ)⁻¹. The widths are given, or follow from
λ_ℓ as m♯_ℓ = round(N̂_ℓ(λ_ℓ)) (the degrees of freedom,
:func:`statmech.companion.spectral.degrees_of_freedom`). Σ̂_ℓ is either recomputed on the
partly compressed network (``recompute_statistics=True``: layer ℓ then reconstructs what the
compressed layers below actually feed it) or taken from the original network
(``recompute_statistics=False``); §3.2 leaves the choice open.

:func:`compare_node_methods` compares spectral pruning with random, magnitude and DPP node pruning
and with "random J + reconstruction", without retraining (§3.5).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import statmech
from statmech._validation import InvalidParameterError, _fmt
from statmech.companion.spectral import (
    degrees_of_freedom,
    lambda_for_width,
    leverage_tau,
    spectrum,
)
from statmech.pruning.spectral_node import default_tau, information_loss

from .data import Dataset, load_digits, load_mnist1d
from .fit import evaluate, train_classifier
from .models import MLP
from .pruning import _linears, layer_statistics, prune_mlp

__all__ = ["LayerRecord", "spectral_prune_mlp", "records_frame", "layer_spectrum",
           "width_for_lambda", "lambda_for_layer_width", "compare_node_methods",
           "COMPARE_METHODS", "EXTRA_METHODS"]


@dataclass(frozen=True)
class LayerRecord:
    """What :func:`spectral_prune_mlp` did to one hidden layer.

    Attributes
    ----------
    layer : int
        Hidden layer index (0: the first Linear's outputs).
    width_before, width : int
        Units before and after.
    lam : float
        λ_ℓ: given, or the λ with N̂(λ) = width (0 when the width reaches the rank of Σ̂).
    dof : float
        N̂_ℓ(λ_ℓ) of the statistics used.
    rank : int
        Numerical rank of Σ̂_ℓ.
    tau : float
        Mean ridge τ_j over the layer's units (the uniform τ unless ``tau="leverage"``).
    theta : float
    loss_input, loss_output : float
        L^A(J) = Tr R_J and L^B(J) = Tr[W R_J Wᵀ] of the kept set (§3.2).
    trace : float
        Tr Σ̂_ℓ (L^A(∅)).
    kept : ndarray of int
        Kept units (indices into the layer before pruning).
    """

    layer: int
    width_before: int
    width: int
    lam: float
    dof: float
    rank: int
    tau: float
    theta: float
    loss_input: float
    loss_output: float
    trace: float
    kept: np.ndarray


def _per_layer(value: Any, L: int, name: str, func: str) -> list:
    if value is None:
        return [None] * L
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [value] * L
    vals = list(value)
    if len(vals) != L:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a number or a sequence of "
                         f"{L} entries (one per hidden layer; None leaves a layer as it is). "
                         f"Got {len(vals)} entries.")
    return vals


def spectral_prune_mlp(model: MLP, X: Any, *, widths: Any = None, lambdas: Any = None,
                       theta: float = 1.0, recompute_statistics: bool = True,
                       tau: Any = None) -> tuple[MLP, list[LayerRecord]]:
    """Compress every hidden layer of ``model`` by spectral pruning (module docstring).

    Parameters
    ----------
    model : MLP
        Left untouched (a compressed copy is returned).
    X : array (n, d)
        Data Σ̂_ℓ = (1/n) Σ_i φ_ℓ(x_i)φ_ℓ(x_i)ᵀ is measured on (the training inputs).
    widths : int or sequence of (int or None), optional
        Units kept per hidden layer, in [1, width]; None entries leave a layer unpruned.
    lambdas : float or sequence of (float or None), optional
        λ_ℓ > 0 per hidden layer instead: width m♯_ℓ = max(1, round(N̂_ℓ(λ_ℓ))). Exactly one of
        ``widths`` and ``lambdas`` must be given.
    theta : float >= 0 or inf
        Weight of the output-aware loss L^B (0: input-aware only; inf: output-aware only).
    recompute_statistics : bool
        Measure Σ̂_ℓ on the network with layers < ℓ already compressed (True), or on the
        original network (False).
    tau : None, float >= 0 or "leverage"
        Ridge: None is the uniform default 10⁻³ Tr(Σ̂_ℓ)/m_ℓ; a float is a uniform τ;
        ``"leverage"`` is the theory's τ_j = λ_ℓ m♯_ℓ q_j (§3.2 "Ridge"; needs λ_ℓ > 0, i.e. a
        width below the rank).

    Returns
    -------
    (MLP, list of LayerRecord)
        The compressed network and one record per pruned layer.

    Examples
    --------
    >>> import numpy as np
    >>> from empirical.models import MLP
    >>> net = MLP([5, 12, 3], seed=0)
    >>> X = np.random.default_rng(0).standard_normal((200, 5))
    >>> small, rec = spectral_prune_mlp(net, X, widths=4)
    >>> small.sizes, rec[0].width
    ([5, 4, 3], 4)
    """
    func = "spectral_prune_mlp"
    if not isinstance(model, MLP):
        raise InvalidParameterError(
            f"The 'model' parameter of {func} must be an empirical.models.MLP. "
                         f"Got {type(model).__name__}.")
    if (widths is None) == (lambdas is None):
        raise InvalidParameterError(f"{func} needs exactly one of 'widths' and 'lambdas'.")
    if not isinstance(recompute_statistics, bool):
        raise InvalidParameterError(
            f"The 'recompute_statistics' parameter of {func} must be a bool. "
                         f"Got {_fmt(recompute_statistics)}.")
    if not (theta == math.inf or (isinstance(theta, numbers.Real) and math.isfinite(theta)
                                  and theta >= 0)) or isinstance(theta, bool):
        raise InvalidParameterError(
            f"The 'theta' parameter of {func} must be a finite float >= 0 or inf. "
                         f"Got {_fmt(theta)}.")
    if not (tau is None or tau == "leverage" or (
            isinstance(tau, numbers.Real) and not isinstance(tau, bool) and math.isfinite(tau)
            and tau >= 0)):
        raise InvalidParameterError(
            f"The 'tau' parameter of {func} must be None, a finite float >= 0 or "
                         f"'leverage'. Got {_fmt(tau)}.")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != model.sizes[0]:
        raise InvalidParameterError(
            f"The 'X' parameter of {func} must have shape (n, {model.sizes[0]}). "
                         f"Got {X.shape}.")
    L = len(_linears(model)) - 1
    if L < 1:
        raise ValueError(f"{func}: the model has no hidden layer.")
    w_list = _per_layer(widths, L, "widths", func)
    l_list = _per_layer(lambdas, L, "lambdas", func)
    original = ([layer_statistics(model, ell, X)["act_cov"] for ell in range(L)]
                if not recompute_statistics else None)
    current = model
    records: list[LayerRecord] = []
    for ell in range(L):
        if w_list[ell] is None and l_list[ell] is None:
            continue
        S = (layer_statistics(current, ell, X)["act_cov"] if recompute_statistics
             else original[ell])
        H = S.shape[0]
        mu = spectrum(S, func=func)
        r = int(np.count_nonzero(mu))
        if widths is not None:
            k = w_list[ell]
            if (isinstance(k, bool) or not isinstance(k, numbers.Integral)
                    or not 1 <= k <= H):
                raise InvalidParameterError(
                    f"The 'widths' parameter of {func} must hold ints in [1, {H}] "
                                 f"for layer {ell}. Got {_fmt(k)}.")
            k = int(k)
            lam = lambda_for_width(mu, k) if k < r else 0.0
        else:
            lam = l_list[ell]
            if (isinstance(lam, bool) or not isinstance(lam, numbers.Real)
                    or not (math.isfinite(lam) and lam > 0)):
                raise InvalidParameterError(
                    f"The 'lambdas' parameter of {func} must hold finite floats "
                                 f"> 0. Got {_fmt(lam)} for layer {ell}.")
            lam = float(lam)
            k = int(min(H, max(1, round(float(degrees_of_freedom(mu, lam))))))
        if tau == "leverage":
            if not lam > 0:
                raise ValueError(f"{func}: tau='leverage' needs λ > 0, but layer {ell} keeps "
                                 f"{k} >= rank {r} units; use a smaller width or a float tau.")
            tau_val: float | np.ndarray = leverage_tau(S, lam, k)
        else:
            tau_val = default_tau(S) if tau is None else float(tau)
        W_out = _linears(current)[ell + 1].weight.detach().double().cpu().numpy()
        current, res = prune_mlp(current, "spectral_node", keep=k, layer=ell, X=None,
                                 fold="none", act_cov=S, tau=tau_val, theta=theta)
        kept = np.asarray(res.kept[0])
        la, lb, _ = information_loss(S, W_out, kept, tau_val, theta)
        records.append(LayerRecord(ell, H, k, float(lam), float(degrees_of_freedom(mu, lam)), r,
                                   float(np.mean(tau_val)), float(theta), la, lb,
                                   float(np.trace(S)), kept))
    if current is model:  # nothing pruned: still return a copy
        import copy

        current = copy.deepcopy(model)
    return current, records


def records_frame(records: Sequence[LayerRecord]) -> pd.DataFrame:
    """The records of :func:`spectral_prune_mlp` as a table (``kept`` left out)."""
    cols = ["layer", "width_before", "width", "lam", "dof", "rank", "tau", "theta",
            "loss_input", "loss_output", "trace"]
    return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in records], columns=cols)


# ------------------------------------------------------------------------------------------
# λ ↔ width on data


def layer_spectrum(model: MLP, X: Any, layer: int = 0) -> np.ndarray:
    """Eigenvalues (decreasing) of hidden layer ``layer``'s activation covariance on X."""
    return spectrum(layer_statistics(model, layer, X)["act_cov"], func="layer_spectrum")


def width_for_lambda(model: MLP, X: Any, lam: Any, layer: int = 0,
                     relative: bool = False) -> float | np.ndarray:
    """N̂(λ) of hidden layer ``layer`` on X: the width λ corresponds to (§3.2).

    ``relative=True`` reads λ in units of Tr(Σ̂)/m (as in the spectrum summaries of §3.5).
    Vectorised over λ.
    """
    mu = layer_spectrum(model, X, layer)
    lam = np.asarray(lam, dtype=float)
    if relative:
        lam = lam * mu.sum() / mu.size
    return degrees_of_freedom(mu, lam)


def lambda_for_layer_width(model: MLP, X: Any, width: float, layer: int = 0,
                           relative: bool = False) -> float:
    """The λ with N̂(λ) = ``width`` for hidden layer ``layer`` on X (in units of Tr(Σ̂)/m if
    ``relative``); ``width`` must be below the layer's rank."""
    mu = layer_spectrum(model, X, layer)
    lam = lambda_for_width(mu, width)
    return lam / (mu.sum() / mu.size) if relative else lam


# ------------------------------------------------------------------------------------------
# comparison without retraining (§3.5)

COMPARE_METHODS = ("spectral_theta0", "spectral_theta1", "random_reconstruct",
                   *(n for n in statmech.method_names(kind="node", gallery=True)
                     if not statmech.PRUNING_METHODS[n].reconstructs))
"""Default methods of :func:`compare_node_methods`: spectral pruning with θ = 0 and θ = 1 (uniform
τ), random J with the reconstruction Â_J, and statmech's random, magnitude and DPP node pruning
(no reconstruction; removed units' mean activations folded into the next bias with
``fold="mean"``). ``"spectral_leverage"`` (θ = 1, τ_j = λ m♯ q_j) may be asked for as well."""

EXTRA_METHODS = ("spectral_leverage",)


def _dataset(data: Any, func: str) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if data == "digits":
        return load_digits(seed=0)
    if data == "mnist1d":
        return load_mnist1d()
    raise InvalidParameterError(f"The 'data' parameter of {func} must be a Dataset, 'digits' or "
                     f"'mnist1d'. Got {_fmt(data)}.")


def _prune_one(net: MLP, method: str, k: int, X: np.ndarray, seed: int, tau: Any,
               fold: str) -> MLP:
    if method == "spectral_leverage":
        return spectral_prune_mlp(net, X, widths=k, theta=1.0, tau="leverage")[0]
    if method in ("spectral_theta0", "spectral_theta1"):
        theta = 0.0 if method == "spectral_theta0" else 1.0
        return spectral_prune_mlp(net, X, widths=k, theta=theta, tau=tau)[0]
    if method == "random_reconstruct":
        H = net.sizes[1]
        J = np.sort(np.random.default_rng([seed, k, 1]).choice(H, size=k, replace=False))
        S = layer_statistics(net, 0, X)["act_cov"]
        tau_val = default_tau(S) if tau is None else float(tau)
        return prune_mlp(net, "spectral_node", keep=k, X=None, fold="none", act_cov=S,
                         tau=tau_val, kept=J)[0]
    return prune_mlp(net, method, keep=k, X=X, seed=np.random.SeedSequence([seed, k, 2]),
                     fold=fold)[0]


def compare_node_methods(data: Any = "digits", hidden: int = 256,
                         widths: Sequence[int] = (8, 16, 32), seeds: Sequence[int] = (0, 1, 2),
                         *, methods: Sequence[str] = COMPARE_METHODS, epochs: int = 30,
                         batch_size: int = 64, lr: float | None = None, tau: Any = None,
                         fold: str = "mean", return_raw: bool = False,
                         on_trained: Callable[[int, MLP, Dataset], Any] | None = None,
                         ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Test error of one-hidden-layer ReLU MLPs after node pruning, without retraining (§3.5).

    For every seed an MLP [d, hidden, classes] (initialisation seed = seed) is trained with
    :func:`empirical.fit.train_classifier` (Adam, ``epochs``; shuffling seed = seed), then its
    hidden layer is cut to each width by each method of :data:`COMPARE_METHODS`, with the
    statistics measured on the training inputs, and the test error is recorded. Random methods
    draw with seeds derived from (seed, width).

    Parameters
    ----------
    data : Dataset, "digits" or "mnist1d"
        ``"digits"``: :func:`empirical.data.load_digits` (split seed 0); ``"mnist1d"``: the
        standard 4000/1000 split.
    hidden : int
        Hidden width.
    widths : sequence of int
        Units kept, each in [1, hidden].
    seeds : sequence of int
        One trained network per seed.
    methods : sequence of str
        A subset of :data:`COMPARE_METHODS` and ``"spectral_leverage"``.
    epochs, batch_size, lr
        Training (:func:`empirical.fit.train_classifier`).
    tau : None or float
        Ridge of the spectral methods (None: 10⁻³ Tr Σ̂ / m).
    fold : {"mean", "bias", "none"}
        What random, magnitude and DPP node pruning do with the removed units' outputs
        (:func:`empirical.pruning.prune_mlp`).
    return_raw : bool
        Also return the per-seed table.
    on_trained : callable, optional
        Called as ``on_trained(seed, model, dataset)`` after each network is trained (e.g. to
        record its spectrum); the model must not be modified.

    Returns
    -------
    DataFrame
        One row per (method, width): ``dataset``, ``method``, ``width``, ``error_mean``,
        ``error_std`` (over seeds, ddof = 1), ``error_se`` (std/√n), ``n_seeds``; plus
        ``method="unpruned"`` at ``width=hidden``. With ``return_raw``, (summary, raw) where raw
        has one row per (seed, method, width).
    """
    func = "compare_node_methods"
    ds = _dataset(data, func)
    allowed = COMPARE_METHODS + EXTRA_METHODS
    bad = [m for m in methods if m not in allowed]
    if bad or not methods:
        raise InvalidParameterError(
            f"The 'methods' parameter of {func} must be a non-empty subset of "
                         f"{', '.join(map(repr, allowed))}. Got {_fmt(list(methods))}.")
    if isinstance(hidden, bool) or not isinstance(hidden, numbers.Integral) or hidden < 1:
        raise InvalidParameterError(f"The 'hidden' parameter of {func} must be an int >= 1. "
                         f"Got {_fmt(hidden)}.")
    for k in widths:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= hidden:
            raise InvalidParameterError(f"The 'widths' parameter of {func} must hold ints in "
                             f"[1, {hidden}]. Got {_fmt(k)}.")
    if len(seeds) == 0:
        raise InvalidParameterError(f"The 'seeds' parameter of {func} must not be empty.")
    rows = []
    for seed in seeds:
        net = MLP([ds.n_features, int(hidden), ds.n_classes], activation="relu", seed=int(seed))
        train_classifier(net, ds, epochs=epochs, batch_size=batch_size, lr=lr, seed=int(seed),
                         device="cpu", progress=False)
        net.eval()
        if on_trained is not None:
            on_trained(int(seed), net, ds)
        base = evaluate(net, ds.X_test, ds.y_test)["error"]
        rows.append({"seed": seed, "method": "unpruned", "width": int(hidden), "error": base})
        for k in widths:
            for m in methods:
                pruned = _prune_one(net, m, int(k), ds.X_train, int(seed), tau, fold)
                rows.append({"seed": seed, "method": m, "width": int(k),
                             "error": evaluate(pruned, ds.X_test, ds.y_test)["error"]})
    raw = pd.DataFrame(rows)
    raw.insert(0, "dataset", ds.name)
    g = raw.groupby(["dataset", "method", "width"], sort=False)["error"]
    summary = g.agg(error_mean="mean", error_std="std", n_seeds="count").reset_index()
    summary["error_std"] = summary["error_std"].fillna(0.0)
    summary["error_se"] = summary["error_std"] / np.sqrt(summary["n_seeds"])
    summary = summary[["dataset", "method", "width", "error_mean", "error_std", "error_se",
                       "n_seeds"]]
    return (summary, raw) if return_raw else summary
