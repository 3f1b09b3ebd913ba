"""Pruning real PyTorch networks with ``statmech``'s methods (one implementation of each method).

:func:`prune_mlp` prunes one hidden layer of an :class:`~empirical.models.MLP` (its incoming
``nn.Linear`` and, for node methods, the next layer's columns):

* the selection is computed by :func:`statmech.prune` on the layer's tensors, with the data
  statistics the methods need (activations' covariance and mean, pre-activations' covariance,
  the input covariance for DPP edge), measured on the data passed in;
* edge methods are applied through ``torch.nn.utils.prune.custom_from_mask`` (the module gets
  the standard ``weight_orig`` / ``weight_mask``; ``prune.remove`` makes it an ordinary module);
* node methods truly remove units: the layer and the next one shrink. A removed unit's mean
  activation over the data, times its outgoing weights, is folded into the next layer's bias
  (``fold="mean"``, default), or its bias-only output g(b) as the reference implementation had it
  (``fold="bias"``), or nothing (``fold="none"``). Optional least-squares reweighting of the kept
  units' outgoing weights (``reweight="activations"`` / ``"preactivations"``); spectral pruning
  always reconstructs. ``reweight="activations"`` with ``fold="mean"`` is least squares *with an
  intercept* (centred activations; the means go to the bias); otherwise reweighting and
  reconstruction fold nothing into the bias (no intercept, as the reference implementation);
* edge methods with ``reweight="preactivations"`` refit each unit's kept incoming weights to
  the removed inputs' contribution over the data (``docs/pruning_theory.md`` §2.7; no
  intercept).

Parameter counts include biases.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as tprune

import statmech
from statmech._validation import (
    ArrayLike,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Options,
    Real,
    Seed,
    check,
    check_keys,
    validate_params,
)
from statmech.pruning import NodeMethod

from .models import ACTIVATIONS, MLP, CommitteeMachine, _g

__all__ = ["layer_statistics", "prune_mlp", "count_parameters", "prune_committee", "measure_loss",
           "measure_losses"]

FOLDS = ("mean", "bias", "none")
METHOD_NAMES = tuple(statmech.PRUNING_METHODS)
REWEIGHTS = (None, "activations", "preactivations")
#: Method options :func:`prune_mlp` and :func:`prune_committee` pass on to
#: :func:`statmech.prune` (a misspelt option is refused, not ignored): each method's own
#: declaration, ``statmech.PRUNING_METHODS[name].options``.
METHOD_OPTIONS = {name: tuple(m.options) for name, m in statmech.PRUNING_METHODS.items()}
#: Data statistics a caller may give :func:`prune_mlp` instead of (or besides) ``X``.
STATISTICS = ("act_cov", "pre_cov", "input_cov", "act_mean")
KEEP = [Integer(1), Real(0.0, 1.0, "right")]
DATA = [None, ArrayLike(ndim=2), InstanceOf(torch.Tensor, "a 2-D torch tensor")]


def _check_options(method: str, options: dict, func: str, extra: tuple[str, ...] = ()) -> None:
    check_keys(options, METHOD_OPTIONS.get(method, ()) + extra, "option", f"{func} ({method!r})")


def _check_keep(keep: Any, limit: int, func: str) -> None:
    check(keep, "keep", func, [Integer(1, limit), Real(0.0, 1.0, "right")])


def _linears(model: MLP) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


@validate_params({"model": [InstanceOf(nn.Module)]}, func_name="count_parameters")
def count_parameters(model: nn.Module) -> int:
    """Non-zero-able parameters: masked weights count only their kept entries; biases count."""
    total = 0
    for module in model.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            if name.endswith("_orig"):
                mask = getattr(module, name[:-5] + "_mask")
                total += int(mask.sum())
            else:
                total += p.numel()
    return total


def _check_layer_and_data(model: MLP, layer: Any, X: Any, func: str) -> list[nn.Linear]:
    lin = _linears(model)
    if len(lin) < 2:
        raise InvalidParameterError.build(func, "model", "an MLP with a hidden layer",
                                          f"an MLP with sizes {getattr(model, 'sizes', '?')}")
    check(layer, "layer", func, [Integer(0, len(lin) - 2)])
    if X is not None:
        from .fit import check_inputs

        check_inputs(model, X, func)
        if len(X) == 0:
            raise InvalidParameterError.build(func, "X", "a non-empty 2-D array",
                                              f"shape {tuple(X.shape)}")
    return lin


@validate_params({"model": [InstanceOf(MLP)], "layer": [Integer(0)],
                  "X": [ArrayLike(ndim=2), InstanceOf(torch.Tensor, "a 2-D torch tensor")]},
                 func_name="layer_statistics")
@torch.no_grad()
def layer_statistics(model: MLP, layer: int, X: Any) -> dict[str, np.ndarray]:
    """Statistics of hidden layer ``layer`` (0 = the first Linear's outputs) over inputs X.

    Returns ``act_cov`` (uncentred covariance of the activations), ``pre_cov`` (of the
    pre-activations), ``act_mean``, and ``input_cov`` (uncentred covariance of the layer's
    inputs). X must have the model's input width (checked, both sizes named).
    """
    lin = _check_layer_and_data(model, layer, X, "layer_statistics")
    h = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X,
                        dtype=lin[0].weight.dtype, device=lin[0].weight.device)
    for i, m in enumerate(lin):
        if i == layer:
            inp = h
            pre = m(h)
            act = _g(model.activation, pre)
            break
        h = _g(model.activation, m(h))
    P = inp.shape[0]

    def cov(a: torch.Tensor) -> np.ndarray:
        a = a.double()
        return (a.T @ a / P).cpu().numpy()

    return {"act_cov": cov(act), "pre_cov": cov(pre),
            "act_mean": act.double().mean(0).cpu().numpy(), "input_cov": cov(inp)}


@validate_params({"model": [InstanceOf(MLP)], "method": [Options(METHOD_NAMES)], "keep": KEEP,
                  "layer": [Integer(0)], "X": DATA, "variant": [None, InstanceOf(str, "a str")],
                  "seed": [Seed()], "reweight": [Options(REWEIGHTS)],
                  "fold": [Options(FOLDS)]}, func_name="prune_mlp")
def prune_mlp(model: MLP, method: str, *, keep: Any, layer: int = 0, X: Any = None,
              variant: str | None = None, seed: Any = 0, reweight: str | None = None,
              fold: str = "mean", **options: Any) -> tuple[MLP, statmech.PruningResult]:
    """Prune hidden layer ``layer`` of ``model`` (a copy is returned; the model is untouched).

    Parameters
    ----------
    model : MLP
    method : str
        A method of :data:`statmech.PRUNING_METHODS`.
    keep : int or float
        Units (node methods) or incoming edges per unit (edge methods), or a fraction.
    layer : int
        Which hidden layer (0: the first Linear's outputs).
    X : array (P, D_in), optional
        Data the statistics are measured on (needed by DPP node, reweighting, spectral pruning,
        DPP edge with a non-identity input covariance and ``fold="mean"``).
    variant, seed, reweight, **options
        Passed to :func:`statmech.prune`.
    fold : {"mean", "bias", "none"}
        What happens to a removed unit's output (module docstring).

    Returns
    -------
    (MLP, PruningResult)
    """
    func = "prune_mlp"
    m = statmech.PRUNING_METHODS[method]
    node = isinstance(m, NodeMethod)  # removes units (else masks edges): the method's base class
    _check_options(method, options, func, STATISTICS)
    _check_layer_and_data(model, layer, X, func)
    if variant is not None:
        check(variant, "variant", func, [Options(m.variants)])
    _check_keep(keep, model.sizes[layer + 1] if node else model.sizes[layer], func)
    if X is None and fold == "mean" and node:
        raise InvalidParameterError(
            "prune_mlp with fold='mean' needs the data X (the removed units' mean "
            "activations); pass X or fold='bias' / 'none'.", func=func, param="X",
            allowed="a 2-D array when fold='mean' and the method is a node method", value="None")
    new = copy.deepcopy(model)
    lin = _linears(new)
    first, nxt = lin[layer], lin[layer + 1]
    W = first.weight.detach().double().cpu().numpy()
    W_out = nxt.weight.detach().double().cpu().numpy()
    b = None if first.bias is None else first.bias.detach().double().cpu().numpy()
    b_out = None if nxt.bias is None else nxt.bias.detach().double().cpu().numpy()
    stats: dict[str, Any] = {}
    if X is not None:
        stats = layer_statistics(model, layer, X)
        if not node and not m.needs_input_cov and reweight is None:
            stats.pop("input_cov")
    intercept = node and reweight == "activations" and fold == "mean"
    if intercept:
        # least squares *with intercept*: regress on centred activations, then fold the means
        mu = stats["act_mean"]
        stats["act_cov"] = stats["act_cov"] - np.outer(mu, mu)
    elif node and (reweight is not None or m.reconstructs):
        # the removed units' outputs are regressed onto the kept ones (no intercept): folding
        # their means into the bias as well would count them twice
        stats.pop("act_mean", None)
    elif node:
        if fold == "bias":
            stats["act_mean"] = (_g(model.activation, torch.as_tensor(b)).numpy()
                                 if b is not None else np.zeros(W.shape[0]))
        elif fold == "none":
            stats.pop("act_mean", None)
    else:
        stats.pop("act_mean", None)
    res = statmech.prune(method, W, W_out, keep=keep, variant=variant, seed=seed,
                         reweight=reweight, bias=b, bias_out=b_out, **stats, **options)
    dt = first.weight.dtype
    if not node:
        if reweight is not None:  # the kept edges were refitted (statmech.prune, edge reweight)
            with torch.no_grad():
                first.weight.copy_(torch.as_tensor(res.W[0], dtype=first.weight.dtype))
        tprune.custom_from_mask(first, "weight", torch.as_tensor(res.mask[0]))
        return new, res
    k = res.W.shape[1]
    if intercept:  # the kept units' changed weights move the output mean: compensate
        S = res.kept[0]
        shift = (res.W_out[0] - W_out[:, S]) @ stats["act_mean"][S]
        res.bias_out[0] -= shift
    smaller = nn.Linear(first.in_features, k, bias=first.bias is not None, dtype=dt)
    following = nn.Linear(k, nxt.out_features,
                          bias=nxt.bias is not None or res.bias_out is not None, dtype=dt)
    with torch.no_grad():
        smaller.weight.copy_(torch.as_tensor(res.W[0], dtype=dt))
        if first.bias is not None:
            smaller.bias.copy_(torch.as_tensor(res.bias[0], dtype=dt))
        following.weight.copy_(torch.as_tensor(res.W_out[0], dtype=dt))
        if following.bias is not None:
            base = res.bias_out[0] if res.bias_out is not None else np.zeros(nxt.out_features)
            following.bias.copy_(torch.as_tensor(base, dtype=dt))
    modules = list(new)
    idx_first = modules.index(first)
    idx_next = modules.index(nxt)
    modules[idx_first] = smaller.to(first.weight.device)
    modules[idx_next] = following.to(first.weight.device)
    out = MLP.__new__(MLP)
    nn.Sequential.__init__(out, *modules)
    out.sizes = list(model.sizes)
    out.sizes[layer + 1] = k
    out.activation = model.activation
    out.bias = getattr(model, "bias", True)
    return out, res


@validate_params({"student": [InstanceOf(CommitteeMachine)], "method": [Options(METHOD_NAMES)],
                  "keep": KEEP, "member": [Integer(0)], "n_masks": [Integer(1)],
                  "variant": [None, InstanceOf(str, "a str")], "seed": [Seed()],
                  "reweight": [Options(REWEIGHTS)]}, func_name="prune_committee")
def prune_committee(student: Any, method: str, *, keep: Any, member: int = 0,
                    n_masks: int = 1, variant: str | None = None, seed: Any = 0,
                    reweight: str | None = None, **options: Any):
    """Prune member ``member`` of a :class:`~empirical.models.CommitteeMachine` ``n_masks``
    times; returns (a CommitteeMachine with one member per mask, the PruningResult).

    The statistics are those of isotropic Gaussian inputs (:func:`statmech.prune_student`):
    Q for the linear DPP kernel, I2 for reweighting, the RBF kernel and spectral pruning.
    """
    func = "prune_committee"
    m = statmech.PRUNING_METHODS[method]
    _check_options(method, options, func)
    check(member, "member", func, [Integer(0, student.E - 1)])
    if variant is not None:
        check(variant, "variant", func, [Options(m.variants)])
    _check_keep(keep, student.K if isinstance(m, NodeMethod) else student.N, func)
    W = student.W[member].detach().double().cpu().numpy()
    v = student.v[member].detach().double().cpu().numpy()
    res = statmech.prune_student(method, W, v, keep=keep, activation=student.activation,
                                 n_masks=n_masks, variant=variant, seed=seed, reweight=reweight,
                                 **options)
    pruned = CommitteeMachine(student.N, res.W.shape[1], ensemble=res.n_masks,
                              activation=student.activation, W=res.W, v=res.W_out[:, 0, :],
                              train_second_layer=student.train_second_layer,
                              dtype=student.W.dtype, device=student.W.device)
    return pruned, res


#: Input numbers (members × samples × N) drawn at once by :func:`measure_losses`: 2²² float64
#: numbers are 32 MiB, enough to amortise each call and small enough to stay out of the way.
MEASURE_BLOCK = 2**22


def _check_pair(students: list, teacher: Any, func: str) -> None:
    N, E = students[0].N, students[0].E
    for i, s in enumerate(students):
        if s.N != N or s.E != E:
            raise InvalidParameterError.build(
                func, "students", f"CommitteeMachines with one N and one number of members "
                f"(the first has N = {N}, {E} members)",
                f"entry {i} with N = {s.N}, {s.E} members")
    if teacher.N != N or teacher.E not in (1, E):
        raise InvalidParameterError.build(
            func, "teacher", f"a CommitteeMachine with N = {N} and 1 or {E} members (the "
            "student's)", f"N = {teacher.N}, {teacher.E} members")


@validate_params({"students": [InstanceOf((list, tuple), "a non-empty list of "
                                          "CommitteeMachines")],
                  "teacher": [InstanceOf(CommitteeMachine)], "n_samples": [Integer(1)],
                  "noise": [Real(0.0)], "seed": [Integer(0)], "chunk": [None, Integer(1)]},
                 func_name="measure_losses")
@torch.no_grad()
def measure_losses(students: Any, teacher: Any, n_samples: int = 10_000, noise: float = 0.0,
                   seed: int = 0, chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """½·MSE of every member of several students against one teacher, on common inputs.

    The design (what makes each per-member loss an independent draw, and what is shared):

    * member e of a student (e.g. pruning mask e) is measured on its own inputs x_e: E
      independent sets of ``n_samples`` Gaussian inputs x ~ N(0, I_N), drawn together (one
      ``torch.randn`` call per chunk of samples, from one generator seeded by ``seed``);
    * member e of *every* student in ``students`` sees the same x_e (and, for the noisy loss,
      the same label noise z_e): common random numbers across students, so the inputs are
      drawn once for all the students instead of once per student.

    So within one student the E losses are independent and identically distributed whenever
    its members are (e.g. masks drawn independently): their standard deviation over members,
    divided by √E, is an honest standard error of their mean, including the input-sampling
    noise. Losses of different students (and the noiseless and noisy losses) are correlated
    through the shared inputs, which changes no student's own standard error; a statement
    about several students at once needs a method valid under dependence (e.g. Bonferroni).

    Parameters
    ----------
    students : list of CommitteeMachine
        Students with one input dimension N and one number of members E (any widths).
    teacher : CommitteeMachine
        One member (shared) or E members (member e labels member e's inputs).
    n_samples : int
        Inputs per member.
    noise : float
        Output-noise standard deviation σ of the noisy labels y + σ z.
    seed : int
        Seed of the inputs and the label noise.
    chunk : int, optional
        Samples per member drawn at once (default: :data:`MEASURE_BLOCK` numbers in all). The
        draws, and so the results, depend on it.

    Returns
    -------
    (clean, noisy) : ndarray (S, E), ndarray (S, E)
        Per student and member, the ½·MSE against the noiseless teacher (estimates ε_g) and
        against the noisy labels (estimates ε_g + σ²/2; equal to ``clean`` when σ = 0).
    """
    func = "measure_losses"
    students = list(students)
    if not students or not all(isinstance(s, CommitteeMachine) for s in students):
        raise InvalidParameterError.build(func, "students",
                                          "a non-empty list of CommitteeMachines", students)
    _check_pair(students, teacher, func)
    first = students[0]
    N, E = first.N, first.E
    dt, dev = first.W.dtype, first.W.device
    if chunk is None:
        chunk = max(1, MEASURE_BLOCK // (E * N))
    # One matrix of every student's rows and the teacher's, grouped by activation: the fields
    # of all of them come from one batched product per chunk (the inputs are read once), each
    # activation is applied once, and one more product with a block matrix of the second-layer
    # weights gives every network's output (column S: the teacher's).
    nets = [*students, teacher]
    order = sorted(range(len(nets)), key=lambda j: ACTIVATIONS.index(nets[j].activation))
    rows = [nets[j].K for j in order]
    R, S = sum(rows), len(students)
    W_all = torch.cat([nets[j].W.to(dt).expand(E, -1, -1) for j in order], dim=1)
    W_all = W_all.transpose(1, 2) / math.sqrt(N)  # (E, N, R)
    V = torch.zeros((E, R, S + 1), dtype=dt, device=dev)
    groups: list[tuple[str, int, int]] = []  # (activation, first row, end row)
    r = 0
    for j, k in zip(order, rows, strict=True):
        V[:, r:r + k, j] = nets[j].v.to(dt).expand(E, -1)
        act = nets[j].activation
        if groups and groups[-1][0] == act:
            groups[-1] = (act, groups[-1][1], r + k)
        else:
            groups.append((act, r, r + k))
        r += k
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    clean = torch.zeros((E, S), dtype=dt, device=dev)
    noisy = torch.zeros_like(clean)
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        x = torch.randn((E, b, N), generator=gen, dtype=dt, device=dev)
        # the label noise is drawn whatever σ (1/N of the draws), so the inputs, and the
        # noiseless losses, do not depend on σ
        z = torch.randn((E, b, 1), generator=gen, dtype=dt, device=dev)
        fields = torch.matmul(x, W_all)  # (E, b, R)
        acts = torch.cat([_g(a, fields[..., r0:r1]) for a, r0, r1 in groups], dim=-1) \
            if len(groups) > 1 else _g(groups[0][0], fields)
        out = torch.matmul(acts, V)  # (E, b, S + 1)
        diff = out[..., :S] - out[..., S:]
        clean += 0.5 * (diff**2).sum(1)
        if noise > 0:
            noisy += 0.5 * ((diff - noise * z) ** 2).sum(1)
        done += b
    clean, noisy = clean.T, noisy.T  # (S, E)
    clean = (clean / n_samples).cpu().numpy()
    return clean, ((noisy / n_samples).cpu().numpy() if noise > 0 else clean.copy())


@validate_params({"student": [InstanceOf(CommitteeMachine)],
                  "teacher": [InstanceOf(CommitteeMachine)], "n_samples": [Integer(1)],
                  "noise": [Real(0.0)], "seed": [Integer(0)], "chunk": [None, Integer(1)]},
                 func_name="measure_loss")
def measure_loss(student: Any, teacher: Any, n_samples: int = 10_000, noise: float = 0.0,
                 seed: int = 0, chunk: int | None = None) -> np.ndarray:
    """½·MSE of every member against the teacher on fresh Gaussian inputs (E,).

    With ``noise`` = 0 this estimates ε_g (against noiseless teacher outputs); with σ > 0 the
    labels carry output noise and the expectation is ε_g + σ²/2. Every member gets its own
    inputs (all members' inputs are drawn in one call per chunk): the members' losses are
    independent when the members are. The teacher may have one member (shared) or as many as
    the student. One student of :func:`measure_losses`, which also gives both losses at once.
    """
    if teacher.N != student.N or teacher.E not in (1, student.E):
        raise InvalidParameterError.build(
            "measure_loss", "teacher", f"a CommitteeMachine with N = {student.N} and 1 or "
            f"{student.E} members (the student's)", f"N = {teacher.N}, {teacher.E} members")
    clean, noisy = measure_losses([student], teacher, n_samples=n_samples, noise=noise,
                                  seed=seed, chunk=chunk)
    return noisy[0] if noise > 0 else clean[0]
