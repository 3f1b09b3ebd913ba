"""Generalisation bounds for magnitude-based pruning via sparse-matrix sketching (Guha, Dubey &
Huo, arXiv 2305.18789; paper A of ``docs/companion_papers.md``, §1.2–1.7) on torch MLPs.

The bound is the computable form of the authors' code (``compute_best_generalization_bound``,
§1.5), built on Arora et al.'s compression framework (§1.2):

1. prune every ``nn.Linear`` weight matrix W_l by randomised MBP with parameter d
   (:func:`mbp_prune_mlp`, :func:`statmech.companion.mbp.mbp_mask`; biases untouched);
2. relative spectral errors e_l = ‖W_l − Ŵ_l‖₂ / ‖W_l‖₂;
3. dimension factors c_l (:func:`dimension_factor`);
4. required margin γ_req(d) = e · max_i ‖x_i‖ · Σ_l e_l · Π_l ‖W_l‖₂ · Π_l c_l
   (:func:`required_margin`);
5. parameter term Q(d) = Σ_l n_in,l n_out,l κ(d) ln²(max(n_in,l, n_out,l)) (:func:`parameter_term`,
   the code's stand-in for the sketch size p_l² of §1.4: it uses the mean non-zero count where
   the paper's sketch needs the largest row / column count);
6. bound: L_0(pruned) ≤ L̂_{γ_req(d)}(original) + √(Q(d)/m) (:func:`generalization_bound`;
   no constants, no discretisation term, no log(1/δ), as in the code: the code's form, not the
   paper's Theorem 5.2);
7. d chosen by bisection so that γ_req(d) equals the minimum training margin
   (:func:`choose_d`).

Baselines (capacity terms of the same code, divided by γ² and reported as √(term/m)):
Neyshabur 2015, Bartlett 2017 (with the **true** (2,1) norm, :func:`norm_21`; the authors'
``lpq_norm(W, 1, 2)`` evaluates to the Frobenius norm) and Neyshabur 2017. Also the
iterative-magnitude-pruning (lottery-ticket) procedure of §1.6
(:func:`iterative_magnitude_pruning`).

Where a formula is the code's reading rather than the paper's theorem (which could not be read),
the docstring says "paper fidelity pending".
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.optimize import bisect
from torch import nn
from torch.nn.utils import prune as tprune

from statmech._validation import InvalidParameterError
from statmech.companion.mbp import kept_fraction, mbp_mask

from .data import Dataset, load_digits
from .fit import train_classifier

__all__ = ["digits_unit_interval", "margins", "margin_loss", "mbp_prune_mlp", "pruning_error",
           "dimension_factor",
           "required_margin", "parameter_term", "norm_21", "baseline_capacities",
           "generalization_bound", "choose_d", "magnitude_prune_step", "rewind",
           "iterative_magnitude_pruning"]


def digits_unit_interval(seed: int = 0, test_fraction: float = 0.3) -> Dataset:
    """scikit-learn's digits with pixels scaled to [0, 1] (÷ 16), split at random
    (``docs/companion_papers.md`` §1.8: digits in [0, 1], 70/30 split)."""
    d = load_digits(test_fraction=test_fraction, seed=seed, standardise=False)
    return Dataset("digits01", d.X_train / 16.0, d.y_train, d.X_test / 16.0, d.y_test,
                   {**d.meta, "scale": "[0, 1]"})


# ------------------------------------------------------------------------------------------
# helpers


def _linears(model: nn.Module) -> list[nn.Linear]:
    if not isinstance(model, nn.Module):
        raise InvalidParameterError(
            f"The 'model' parameter must be a torch nn.Module (an empirical MLP). "
                         f"Got {type(model).__name__}.")
    lin = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not lin:
        raise InvalidParameterError(
            "The 'model' parameter must contain at least one nn.Linear layer.")
    return lin


def _effective_weight(lin: nn.Linear) -> torch.Tensor:
    """The weight with a ``torch.nn.utils.prune`` mask applied (fresh, not the cached one)."""
    if hasattr(lin, "weight_orig") and hasattr(lin, "weight_mask"):
        return (lin.weight_orig * lin.weight_mask).detach()
    return lin.weight.detach()


def _weights(model: nn.Module) -> list[np.ndarray]:
    """Effective weight matrices (out, in) of the Linear layers, float64 (masks applied)."""
    return [_effective_weight(m).double().cpu().numpy() for m in _linears(model)]


def _check_d(d: Any, func: str) -> float:
    if (isinstance(d, bool) or not isinstance(d, int | float | np.integer | np.floating)
            or not math.isfinite(float(d)) or d < 0):
        raise InvalidParameterError(f"The 'd' parameter of {func} must be a finite float >= 0. "
                         f"Got {d!r} instead.")
    return float(d)


def _inputs(model: nn.Module, X: Any, func: str) -> torch.Tensor:
    p = next(model.parameters())
    X = X if torch.is_tensor(X) else torch.as_tensor(np.asarray(X))
    if X.ndim != 2 or X.shape[0] == 0:
        raise InvalidParameterError(
            f"The 'X' parameter of {func} must be a non-empty 2-D array (m, n_in). "
                         f"Got shape {tuple(X.shape)}.")
    return X.to(p.device, p.dtype)


def _labels(y: Any, n: int, func: str) -> torch.Tensor:
    y = y if torch.is_tensor(y) else torch.as_tensor(np.asarray(y))
    if y.shape != (n,):
        raise InvalidParameterError(
            f"The 'y' parameter of {func} must be an int array of shape ({n},). "
                         f"Got shape {tuple(y.shape)}.")
    return y.long()


@torch.no_grad()
def _logits(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    was = model.training
    model.eval()
    out = model(X)
    model.train(was)
    return out


# ------------------------------------------------------------------------------------------
# margins and pruning


def margins(model: nn.Module, X: Any, y: Any) -> np.ndarray:
    """Margins f(x)[y] − max_{j≠y} f(x)[j] of every point (§1.2), float64 (m,)."""
    func = "margins"
    Xt = _inputs(model, X, func)
    yt = _labels(y, Xt.shape[0], func).to(Xt.device)
    out = _logits(model, Xt).double()
    if out.ndim != 2 or out.shape[1] < 2:
        raise InvalidParameterError("margins needs a classifier with at least two outputs.")
    if int(yt.min()) < 0 or int(yt.max()) >= out.shape[1]:
        raise InvalidParameterError(f"The 'y' parameter of {func} must hold labels in [0, "
                         f"{out.shape[1] - 1}].")
    correct = out.gather(1, yt[:, None])[:, 0]
    others = out.scatter(1, yt[:, None], -math.inf).max(1).values
    return (correct - others).cpu().numpy()


def margin_loss(model: nn.Module, X: Any, y: Any, gamma: float) -> float:
    """Empirical γ-margin loss L̂_γ = fraction of points with margin < γ (§1.2).

    The paper's definition counts margin ≤ γ; the authors' code (``empirical_margin_loss``)
    counts margin < γ, which makes L̂ zero at γ = the minimum margin (§1.5 step 7). We follow the
    code (paper fidelity pending). ``gamma`` is a finite float.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, int | float | np.integer | np.floating) \
            or not math.isfinite(float(gamma)):
        raise InvalidParameterError(f"The 'gamma' parameter of margin_loss must be a finite float. "
                         f"Got {gamma!r} instead.")
    return float(np.mean(margins(model, X, y) < gamma))


@torch.no_grad()
def mbp_prune_mlp(model: nn.Module, d: float, seed: Any = 0,
                  keep_diagonal: bool = False) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` weight pruned by randomised MBP (§1.3).

    Each weight matrix gets its own Ψ (the variance of its entries) and independent Bernoulli
    keep decisions with probability 1 − exp(−W²/(dΨ)) (:func:`statmech.companion.mbp.mbp_mask`);
    kept weights are not rescaled and biases are untouched. The layers draw, in order, from one
    generator seeded by ``seed``: with the same seed, the masks of a larger d are subsets of
    those of a smaller d (common random numbers). Existing ``torch.nn.utils.prune`` masks are
    baked into the copy first.

    Parameters
    ----------
    model : nn.Module
    d : float
        Compression parameter, >= 0.
    seed : int, SeedSequence or Generator
    keep_diagonal : bool
        Passed to :func:`~statmech.companion.mbp.mbp_mask`.
    """
    d = _check_d(d, "mbp_prune_mlp")
    new = copy.deepcopy(model)
    lins = _linears(new)
    for lin in lins:
        if tprune.is_pruned(lin) and hasattr(lin, "weight_orig"):
            tprune.remove(lin, "weight")
    W = _weights(new)
    for lin, w, wp in zip(lins, W, _mbp_weights(W, d, seed, keep_diagonal), strict=True):
        keep = torch.as_tensor(wp != 0, device=lin.weight.device) | torch.as_tensor(
            w == 0, device=lin.weight.device)
        lin.weight.mul_(keep.to(lin.weight.dtype))
    return new


def pruning_error(model: nn.Module, pruned: nn.Module, X: Any, y: Any) -> float:
    """The "true pruning error" of §1.7: max_i |f(x_i)[y_i] − f̂(x_i)[y_i]| over the points."""
    func = "pruning_error"
    Xt = _inputs(model, X, func)
    yt = _labels(y, Xt.shape[0], func).to(Xt.device)
    a = _logits(model, Xt).double().gather(1, yt[:, None])
    b = _logits(pruned, Xt.to(next(pruned.parameters()).dtype)).double().gather(1, yt[:, None])
    return float((a - b).abs().max())


# ------------------------------------------------------------------------------------------
# the bound


def dimension_factor(n_in: int, n_out: int, m: int, xtol: float = 1e-12) -> float:
    """Per-layer dimension factor c_l of §1.5 step 3 (the authors' code).

    If n_out < n_in: c = min(1, t √n_out), t the root of 1 − m exp(−t² n_in) = 0.99 (found by
    bisection, as in the code; the closed form is t = √(ln(100 m)/n_in)); otherwise c = 1.
    The bisection starts on [0, 1], as in the code, and the bracket is doubled until it holds
    the root (only needed when n_in < ln(100 m)). Paper fidelity pending (presumably a
    high-probability bound on the norm of a random projection with failure probability 0.01
    over m points).

    Parameters
    ----------
    n_in, n_out : int
        Input and output width of the layer (>= 1).
    m : int
        Number of training points (>= 1).
    xtol : float
        Absolute tolerance of the bisection on t, > 0. The default 1e-12 gives the root to
        machine precision; the authors' code uses 0.01, which moves t by up to 0.01 (about 7 %
        of t for n_in = 784, m = 48 000) and is what ``scripts/companion_mbp.py`` passes when it
        reruns their experiments.
    """
    func = "dimension_factor"
    for name, val in (("n_in", n_in), ("n_out", n_out), ("m", m)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < 1:
            raise InvalidParameterError(f"The {name!r} parameter of {func} must be an int >= 1. "
                             f"Got {val!r} instead.")
    if (isinstance(xtol, bool) or not isinstance(xtol, int | float | np.integer | np.floating)
            or not math.isfinite(float(xtol)) or xtol <= 0):
        raise InvalidParameterError(f"The 'xtol' parameter of {func} must be a finite float > 0. "
                         f"Got {xtol!r} instead.")
    if n_out >= n_in:
        return 1.0

    def f(t: float) -> float:
        return 1.0 - m * math.exp(-t * t * n_in) - 0.99

    hi = 1.0
    while f(hi) <= 0:
        hi *= 2.0
    t = bisect(f, 0.0, hi, xtol=float(xtol))
    return float(min(1.0, t * math.sqrt(n_out)))


def _max_input_norm(X: torch.Tensor) -> float:
    return float(X.double().norm(dim=1).max())


def _mbp_weights(W: list[np.ndarray], d: float, seed: Any,
                 keep_diagonal: bool = False) -> list[np.ndarray]:
    """The MBP-pruned matrices, drawn exactly as :func:`mbp_prune_mlp` draws them."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return [w * mbp_mask(w, d, rng=rng, keep_diagonal=keep_diagonal) for w in W]


class _Layers:
    """The unpruned network's matrices and the quantities of §1.5 that do not depend on d."""

    def __init__(self, model: nn.Module, m: int, max_input_norm: float,
                 xtol: float = 1e-12) -> None:
        self.W = _weights(model)
        self.norms = np.array([np.linalg.norm(w, 2) for w in self.W])
        self.consts = np.array([dimension_factor(w.shape[1], w.shape[0], m, xtol)
                                for w in self.W])
        self.max_input_norm = max_input_norm

    def terms(self, Wp: list[np.ndarray], max_input_norm: float | None = None) -> dict[str, Any]:
        """γ_req and its factors for the pruned matrices ``Wp``; ``max_input_norm`` replaces the
        stored max ‖x‖ for this call (a rerun that measures it on every pass of a loader)."""
        x_norm = self.max_input_norm if max_input_norm is None else float(max_input_norm)
        errs = np.array([np.linalg.norm(w - wp, 2)
                         for w, wp in zip(self.W, Wp, strict=True)]) / self.norms
        gamma = math.e * x_norm * errs.sum() * self.norms.prod() * self.consts.prod()
        density = sum(int(np.count_nonzero(w)) for w in Wp) / sum(w.size for w in self.W)
        return {"gamma_req": float(gamma), "relative_errors": errs,
                "spectral_norms": self.norms.copy(), "dimension_factors": self.consts.copy(),
                "max_input_norm": x_norm, "density": density}


def required_margin(model: nn.Module, d: float, X: Any, seed: Any = 0) -> float:
    """γ_req(d) = e · max_i ‖x_i‖ · Σ_l e_l · Π_l ‖W_l‖₂ · Π_l c_l (§1.5 step 4).

    e_l = ‖W_l − Ŵ_l‖₂/‖W_l‖₂ are the relative spectral errors of the MBP-pruned network
    (the masks of :func:`mbp_prune_mlp` with ``seed``), c_l the :func:`dimension_factor` of each
    layer with m = len(X). The constant e presumably comes from (1 + 1/L)^L ≤ e; biases are
    ignored, as in the code. This is the code's "bound on pruning error" (paper fidelity
    pending; with biases, or with Σ e_l > 1, it is not a rigorous bound on the logit change).
    """
    func = "required_margin"
    d = _check_d(d, func)
    Xt = _inputs(model, X, func)
    layers = _Layers(model, Xt.shape[0], _max_input_norm(Xt))
    return layers.terms(_mbp_weights(layers.W, d, seed))["gamma_req"]


def parameter_term(model: nn.Module, d: float) -> float:
    """Q(d) = Σ_l n_in,l n_out,l κ(d) ln²(max(n_in,l, n_out,l)) (§1.5 step 5), **the authors'
    code's form** (the sum ``new_generalization_bound`` of ``compute_best_generalization_bound``),
    not the parameter count of the paper's Theorem 5.2.

    How the two differ, as far as the paper's abstract, its reviews and the sketching result it
    builds on tell (the full text could not be read; paper fidelity pending):

    * **What is counted.** The theorem stores each pruned layer as a dense p_l × p_l sketch of a
      sparse matrix and counts its p_l² entries, with p_l of order √(j_l n_l) · log n_l, where
      j_l bounds the non-zeros of *every* row and column (max(j_r, j_c); the paper's lemma caps
      it with high probability at about 3 · n · κ(d), :func:`~statmech.companion.mbp.
      predicted_max_row_nonzeros`) and n_l is the matrix side. The code puts the *expected*
      number of non-zeros, κ(d) n_in n_out, where the theorem has j_l n_l: the mean row count
      instead of the largest one, about a third of the lemma's cap (the measured largest row
      of the authors' first layers sits between the two for d > 0).
    * **Constants.** The O(·) constant of the sketch size is dropped (taken as 1), and the
      logarithm is the natural one of the larger side.
    * **Discretisation.** The theorem's count is multiplied by log r, r the number of values
      each sketch entry may take after discretisation; the code has no such factor.

    So Q(d) is smaller than the theorem's term by at least the ratio of the largest to the
    mean row count and by the dropped constants and log r; it is the number the authors
    plotted, which is why it is implemented here.

    Parameters
    ----------
    model : nn.Module
        The network; only the shapes of its ``nn.Linear`` weights enter.
    d : float
        Compression parameter, >= 0.

    Returns
    -------
    float
        Q(d); Q(0) = Σ_l n_in,l n_out,l ln²(max(n_in,l, n_out,l)).
    """
    d = _check_d(d, "parameter_term")
    kappa = float(kept_fraction(d))
    return float(sum(w.shape[0] * w.shape[1] * kappa * math.log(max(w.shape)) ** 2
                     for w in _weights(model)))


def norm_21(W: Any) -> float:
    """The (2,1) norm of a weight matrix W (out × in): Σ over output units of the ℓ2 norm of
    their incoming row, Σ_i ‖W[i, :]‖₂ (= ‖Wᵀ‖_{2,1}, column norms of Wᵀ; §1.5)."""
    W = np.asarray(W.detach().cpu().numpy() if torch.is_tensor(W) else W, dtype=float)
    if W.ndim != 2:
        raise InvalidParameterError(f"The 'W' parameter of norm_21 must be a 2-D array. Got shape "
                         f"{W.shape}.")
    return float(np.linalg.norm(W, axis=1).sum())


def baseline_capacities(model: nn.Module, gamma: float) -> dict[str, float]:
    """Capacity terms of the three baselines, divided by γ² (§1.5; without constants):

    * ``neyshabur2015``: Π_l ‖W_l‖_F² / γ²;
    * ``bartlett2017``: Π_l ‖W_l‖₂² · Σ_l ‖W_l‖_{2,1}² / ‖W_l‖₂² / γ² (true (2,1) norm,
      :func:`norm_21`; the published bound has (Σ (·)^{2/3})^{3/2}: the code's form, paper
      fidelity pending);
    * ``neyshabur2017``: Π_l ‖W_l‖₂² · Σ_l h_l ‖W_l‖_F² / ‖W_l‖₂² / γ², h_l the input width.

    The bound forms are √(term/m).
    """
    if isinstance(gamma, bool) or not isinstance(gamma, int | float | np.integer | np.floating) \
            or not math.isfinite(float(gamma)) or gamma <= 0:
        raise InvalidParameterError(
            f"The 'gamma' parameter of baseline_capacities must be a finite "
                         f"float > 0. Got {gamma!r} instead.")
    W = _weights(model)
    spec2 = np.array([np.linalg.norm(w, 2) ** 2 for w in W])
    fro2 = np.array([np.linalg.norm(w, "fro") ** 2 for w in W])
    n21 = np.array([norm_21(w) ** 2 for w in W])
    h = np.array([w.shape[1] for w in W])
    g2 = float(gamma) ** 2
    return {"neyshabur2015": float(fro2.prod() / g2),
            "bartlett2017": float(spec2.prod() * np.sum(n21 / spec2) / g2),
            "neyshabur2017": float(spec2.prod() * np.sum(h * fro2 / spec2) / g2)}


def generalization_bound(model: nn.Module, X: Any, y: Any, d: float, seed: Any = 0, *,
                         X_test: Any = None, y_test: Any = None,
                         gamma_baselines: float | None = None) -> dict[str, Any]:
    """The MBP generalisation bound at compression parameter d (§1.5 step 6), with baselines:
    **the authors' code's form** (``compute_best_generalization_bound``), not the paper's
    Theorem 5.2.

    L_0(pruned) ≤ L̂_{γ_req(d)}(original) + √(Q(d)/m).

    What the code, and so this function, leaves out of or changes in the theorem (the full text
    could not be read; this is from the abstract, the reviews and the compression framework of
    Arora et al. it plugs into; paper fidelity pending):

    * the capacity term is √(Q(d)/m) with the code's :func:`parameter_term`, the expected
      non-zero count times ln², where the theorem counts the entries of each layer's sketch,
      which grow with the largest row / column count (see :func:`parameter_term`);
    * the framework's √(q log r / m) has a factor log r for the discretisation of the r values
      a parameter may take; the code has none;
    * there is no confidence term log(1/δ) and no O(·) constant anywhere;
    * γ_req(d) (:func:`required_margin`) is one draw of the random masks, not a statement
      holding with high probability over them, and it is evaluated at a fixed d, with no union
      bound over the values of d tried by :func:`choose_d`.

    The numbers are therefore smaller than the theorem's bound would be, and are what the
    authors' code computes and plots.

    Parameters
    ----------
    model : nn.Module
        The trained (unpruned) classifier.
    X, y : arrays
        The m training points and labels.
    d : float
        Compression parameter (>= 0).
    seed : int
        Seed of the MBP masks.
    X_test, y_test : arrays, optional
        Test data: adds ``pruned_test_error`` (the number the bound is compared with, §1.5 step 8;
        margin < 0 counts as an error) and ``test_error``.
    gamma_baselines : float, optional
        Margin γ of the baselines; default the minimum training margin (the code's choice).
        Baselines are NaN when that is not positive.

    Returns
    -------
    dict
        ``d``, ``gamma_req``, ``sqrt_q_over_m``, ``q``, ``margin_loss`` (L̂ at γ_req), ``bound``,
        ``min_margin``, ``pruning_error`` (true max change of the correct logit), ``density``
        (of the pruned weights), ``kappa`` (κ(d)), ``relative_errors``, ``spectral_norms``,
        ``dimension_factors``, ``max_input_norm``, the baselines ``neyshabur2015``,
        ``bartlett2017``, ``neyshabur2017`` as √(term/m) and their ``*_capacity`` terms
        (already divided by γ²), ``gamma_baselines``; with test data ``pruned_test_error`` and
        ``test_error``.
    """
    func = "generalization_bound"
    d = _check_d(d, func)
    Xt = _inputs(model, X, func)
    m = Xt.shape[0]
    yt = _labels(y, m, func)
    pruned = mbp_prune_mlp(model, d, seed)
    terms = _Layers(model, m, _max_input_norm(Xt)).terms(_weights(pruned))
    q = parameter_term(model, d)
    marg = margins(model, Xt, yt)
    loss = float(np.mean(marg < terms["gamma_req"]))
    out: dict[str, Any] = {"d": d, "kappa": float(kept_fraction(d)), **terms, "q": q,
                           "sqrt_q_over_m": math.sqrt(q / m), "margin_loss": loss,
                           "bound": loss + math.sqrt(q / m), "min_margin": float(marg.min()),
                           "pruning_error": pruning_error(model, pruned, Xt, yt)}
    gamma = out["min_margin"] if gamma_baselines is None else float(gamma_baselines)
    out["gamma_baselines"] = gamma
    names = ("neyshabur2015", "bartlett2017", "neyshabur2017")
    if gamma > 0 and math.isfinite(gamma):
        caps = baseline_capacities(model, gamma)
        for k in names:
            out[k + "_capacity"] = caps[k]
            out[k] = math.sqrt(caps[k] / m)
    else:
        for k in names:
            out[k + "_capacity"] = out[k] = math.nan
    if X_test is not None:
        Xs = _inputs(model, X_test, func)
        ys = _labels(y_test, Xs.shape[0], func)
        out["pruned_test_error"] = float(np.mean(margins(pruned, Xs, ys) < 0))
        out["test_error"] = float(np.mean(margins(model, Xs, ys) < 0))
    return out


def choose_d(model: nn.Module, X: Any, y: Any, seed: Any = 0, *, lo: float = 1e-3,
             hi: float = 10.0, rtol: float = 1e-3) -> dict[str, Any]:
    """d with γ_req(d) = the minimum training margin, by bisection on [lo, hi] (§1.5 step 7).

    The bisection runs on log d (to relative accuracy ``rtol``), and every evaluation uses the
    same mask seed (common random numbers: the masks shrink as d grows), so γ_req(d) is a fixed,
    nearly monotone step function of d. When γ_req − margin has no sign change on [lo, hi] the
    end closer to a root is returned with ``bracketed=False``: ``lo`` when even d = lo needs a
    margin above the minimum margin (the usual case: the bound is then not margin-free), ``hi``
    when every d in range is small enough. With a non-positive minimum margin (a misclassified
    training point) the code uses d = 0; we return ``lo``. The code bisects on [0, 10]; the
    default lower end 1e-3 is our choice (paper fidelity pending).

    Returns
    -------
    dict
        ``d``, ``min_margin``, ``gamma_req`` (at the returned d), ``bracketed``.
    """
    func = "choose_d"
    lo, hi = _check_d(lo, func), _check_d(hi, func)
    if not 0 < lo < hi:
        raise InvalidParameterError(
            f"The 'lo' and 'hi' parameters of {func} must satisfy 0 < lo < hi. "
                         f"Got lo={lo!r}, hi={hi!r}.")
    if isinstance(rtol, bool) or not isinstance(rtol, float | int) or not 0 < rtol < 1:
        raise InvalidParameterError(f"The 'rtol' parameter of {func} must be a float in (0, 1). "
                         f"Got {rtol!r} instead.")
    Xt = _inputs(model, X, func)
    gmin = float(margins(model, Xt, y).min())
    layers = _Layers(model, Xt.shape[0], _max_input_norm(Xt))

    def g(log_d: float) -> float:
        Wp = _mbp_weights(layers.W, math.exp(log_d), seed)
        return layers.terms(Wp)["gamma_req"] - gmin

    g_lo = g(math.log(lo))
    if gmin <= 0 or g_lo >= 0:
        return {"d": lo, "min_margin": gmin, "gamma_req": g_lo + gmin, "bracketed": False}
    g_hi = g(math.log(hi))
    if g_hi <= 0:
        return {"d": hi, "min_margin": gmin, "gamma_req": g_hi + gmin, "bracketed": False}
    log_d = float(bisect(g, math.log(lo), math.log(hi), xtol=rtol))
    return {"d": math.exp(log_d), "min_margin": gmin, "gamma_req": g(log_d) + gmin,
            "bracketed": True}


# ------------------------------------------------------------------------------------------
# iterative magnitude pruning with rewinding (§1.6)


@torch.no_grad()
def magnitude_prune_step(model: nn.Module, masks: list[torch.Tensor],
                         fraction: float) -> list[torch.Tensor]:
    """New masks: per Linear layer, the ``fraction`` of its surviving weights with the smallest
    |w| (of the trained ``model``) removed (per-layer L1-unstructured pruning; ties by position).
    ``round(fraction · surviving)`` weights go per layer."""
    if not (isinstance(fraction, float | int) and not isinstance(fraction, bool)
            and 0 < fraction < 1):
        raise InvalidParameterError(
            f"The 'fraction' parameter of magnitude_prune_step must be a float in "
                         f"(0, 1). Got {fraction!r} instead.")
    out = []
    for lin, mk in zip(_linears(model), masks, strict=True):
        alive = int(mk.sum())
        n = int(round(fraction * alive))
        score = _effective_weight(lin).abs().double().flatten().clone()
        score[~mk.flatten()] = math.inf
        new = mk.flatten().clone()
        if n > 0:
            idx = torch.argsort(score, stable=True)[:n]
            new[idx] = False
        out.append(new.reshape(mk.shape))
    return out


def rewind(init: nn.Module, masks: list[torch.Tensor]) -> nn.Module:
    """A copy of the initial network with ``masks`` applied to its Linear weights through
    ``torch.nn.utils.prune.custom_from_mask``: surviving weights (and all biases) at their
    initial values, pruned weights zero."""
    new = copy.deepcopy(init)
    for lin, mk in zip(_linears(new), masks, strict=True):
        tprune.custom_from_mask(lin, "weight", mk.to(lin.weight.device))
    return new


def iterative_magnitude_pruning(model_fn: Callable[[], nn.Module], data: Dataset,
                                rounds: int = 2, fraction: float = 0.2, epochs: int = 10,
                                seed: int = 0, **train_kwargs: Any) -> dict[str, Any]:
    """Iterative magnitude pruning with rewinding to initialisation (Frankle & Carbin 2018;
    §1.6, the authors' ``prune_bottom_weights``).

    Round 0 trains ``model_fn()`` densely. Each later round removes, per Linear layer, the
    ``fraction`` of the surviving weights with the smallest magnitude
    (:func:`magnitude_prune_step`), rewinds the survivors and the biases to their initial
    values, keeps the mask (:func:`rewind`, ``custom_from_mask``) and retrains with
    :func:`empirical.fit.train_classifier` for ``epochs``. The density after r rounds is about
    (1 − fraction)^r. The reference also prunes the biases; here only weights are pruned.

    Parameters
    ----------
    model_fn : callable
        Returns a fresh, untrained :class:`~empirical.models.MLP` (its initial values are the
        rewinding target).
    data : Dataset
    rounds : int
        Pruning rounds after the dense one (>= 1).
    fraction : float
        Share of the surviving weights removed per round, in (0, 1).
    epochs : int
        Training epochs per round.
    seed : int
        Seed of the training shuffles (the initialisation is ``model_fn``'s).
    **train_kwargs
        Passed on to :func:`~empirical.fit.train_classifier` (``lr``, ``optimizer``, ``device``…).

    Returns
    -------
    dict
        ``round`` (0..rounds), ``density`` (kept share of the Linear weights),
        ``test_error`` and ``train_error`` after training, ``masks`` (per round, list of bool
        tensors), ``rewound`` (per round ≥ 1, the effective weights before retraining, NumPy),
        ``init`` (the untrained network) and ``model`` (the last trained network).
    """
    func = "iterative_magnitude_pruning"
    if not callable(model_fn):
        raise InvalidParameterError(
            f"The 'model_fn' parameter of {func} must be a callable returning a "
                         f"fresh MLP.")
    for name, val in (("rounds", rounds), ("epochs", epochs)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < 1:
            raise InvalidParameterError(f"The {name!r} parameter of {func} must be an int >= 1. "
                             f"Got {val!r} instead.")
    if not (isinstance(fraction, float | int) and not isinstance(fraction, bool)
            and 0 < fraction < 1):
        raise InvalidParameterError(
            f"The 'fraction' parameter of {func} must be a float in (0, 1). "
                         f"Got {fraction!r} instead.")
    train_kwargs.setdefault("progress", False)
    model = model_fn()
    init = copy.deepcopy(model)
    total = sum(lin.weight.numel() for lin in _linears(model))
    masks = [torch.ones_like(lin.weight, dtype=torch.bool) for lin in _linears(model)]
    hist = train_classifier(model, data, epochs=epochs, seed=seed, **train_kwargs)
    out: dict[str, Any] = {"round": [0], "density": [1.0],
                           "test_error": [hist["test_error"][-1]],
                           "train_error": [hist["train_error"][-1]],
                           "masks": [[mk.clone() for mk in masks]], "rewound": [None]}
    for r in range(1, rounds + 1):
        masks = magnitude_prune_step(model, masks, fraction)
        model = rewind(init, masks)
        out["rewound"].append(_weights(model))
        hist = train_classifier(model, data, epochs=epochs, seed=seed + r, **train_kwargs)
        out["round"].append(r)
        out["density"].append(sum(int(mk.sum()) for mk in masks) / total)
        out["test_error"].append(hist["test_error"][-1])
        out["train_error"].append(hist["train_error"][-1])
        out["masks"].append([mk.clone() for mk in masks])
    out["init"] = init
    out["model"] = model
    return out
