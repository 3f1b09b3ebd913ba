"""Mini-batch training of networks on real data, evaluation, and checkpoints.

:func:`train_classifier` trains an :class:`~empirical.models.MLP` on a
:class:`~empirical.data.Dataset` by mini-batch SGD (with momentum) or Adam on the cross-entropy
(classification) or ½·MSE (regression, ``meta["task"] == "regression"``), shuffling with its own
seeded generator, on CUDA when present, with a progress bar over epochs, an optional stopping
rule on the training accuracy (the seed paper's ``train accuracy ≥ 99 %``), and a divergence
check. :func:`save_checkpoint` writes ``torch.save`` of the weights together with the run's
configuration, and a ``config.json`` beside it; :func:`load_checkpoint` rebuilds the network.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from statmech._progress import ProgressBar
from statmech._validation import (
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Options,
    Real,
    validate_params,
)

from ._checks import DEVICE, PATH, check_device, check_memory
from .data import Dataset, check_finite, check_labels
from .models import ACTIVATIONS, MLP

__all__ = ["train_classifier", "evaluate", "save_checkpoint", "load_checkpoint",
           "default_device", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "adam")


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _is_regression(data: Dataset) -> bool:
    return data.meta.get("task") == "regression"


def _loss(model_out: torch.Tensor, y: torch.Tensor, regression: bool) -> torch.Tensor:
    if regression:
        return 0.5 * ((model_out.squeeze(-1) - y) ** 2).mean()
    return nn.functional.cross_entropy(model_out, y)


def _first_linear(model: nn.Module, func: str) -> nn.Linear:
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise InvalidParameterError.build(func, "model", "a network with a Linear layer",
                                          type(model).__name__)
    return first


def check_inputs(model: nn.Module, X: Any, func: str, name: str = "X") -> None:
    """Refuse inputs whose feature count differs from the model's input width (naming both)."""
    first = _first_linear(model, func)
    shape = tuple(X.shape) if hasattr(X, "shape") else np.shape(X)
    if len(shape) != 2 or shape[1] != first.in_features:
        got = f"{shape[1]} features (shape {shape})" if len(shape) == 2 else f"shape {shape}"
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must have {first.in_features} features (the "
            f"model's input width) per row. Got {got}.", func=func, param=name,
            allowed=f"data with {first.in_features} features (the model's input width)",
            value=got)


@validate_params({"model": [InstanceOf(nn.Module)], "X": [InstanceOf((np.ndarray, torch.Tensor,
                                                                     list, tuple),
                                                                    "a 2-D array")],
                  "y": [InstanceOf((np.ndarray, torch.Tensor, list, tuple), "a 1-D array")],
                  "regression": [Boolean()], "batch_size": [Integer(1)]}, func_name="evaluate")
@torch.no_grad()
def evaluate(model: nn.Module, X: Any, y: Any, *, regression: bool = False,
             batch_size: int = 4096) -> dict[str, float]:
    """Loss and (classification) error rate of ``model`` on (X, y).

    Returns ``{"loss": cross-entropy or ½·MSE, "error": misclassified fraction}`` (``error`` is
    NaN for regression). Inputs whose width differs from the model's, labels of another length,
    and (classification) labels outside the model's outputs are refused.
    """
    func = "evaluate"
    X = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
    check_inputs(model, X, func)
    if y.dim() != 1 or len(y) != len(X) or len(y) == 0:
        raise InvalidParameterError.build(func, "y", f"a 1-D array of {len(X)} labels (one per "
                                          "row of X)", f"shape {tuple(y.shape)}")
    if not regression:
        out_dim = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
        check_labels(y.cpu().numpy(), out_dim, "y", func, "y")
    dev = next(model.parameters()).device
    dt = next(model.parameters()).dtype
    total, wrong, n = 0.0, 0, len(y)
    for i in range(0, n, batch_size):
        xb = X[i:i + batch_size].to(dev, dt)
        yb = y[i:i + batch_size].to(dev)
        out = model(xb)
        if regression:
            total += float(0.5 * ((out.squeeze(-1) - yb.to(dt)) ** 2).sum())
        else:
            total += float(nn.functional.cross_entropy(out, yb, reduction="sum"))
            wrong += int((out.argmax(1) != yb).sum())
    return {"loss": total / n, "error": float("nan") if regression else wrong / n}


@validate_params({"model": [InstanceOf(MLP)], "data": [InstanceOf(Dataset)],
                  "epochs": [Integer(1)], "batch_size": [Integer(1)],
                  "optimizer": [Options(OPTIMIZERS)], "lr": [None, Real(0.0, closed="neither")],
                  "momentum": [Real(0.0)], "weight_decay": [Real(0.0)], "seed": [Integer(0)],
                  "device": DEVICE, "stop_at_train_accuracy": [None, Real(0.0, 1.0, "right")],
                  "progress": [None, Boolean()], "checkpoint": [None, *PATH],
                  "config": [None, InstanceOf(dict, "a dict")]}, func_name="train_classifier")
def train_classifier(model: MLP, data: Dataset, *, epochs: int = 30, batch_size: int = 64,
                     optimizer: str = "adam", lr: float | None = None, momentum: float = 0.9,
                     weight_decay: float = 0.0, seed: int = 0, device: Any = None,
                     stop_at_train_accuracy: float | None = None, progress: bool | None = None,
                     checkpoint: str | Path | None = None,
                     config: dict | None = None) -> dict[str, list[float]]:
    """Train ``model`` in place by mini-batch SGD or Adam; returns the per-epoch history.

    Parameters
    ----------
    model : MLP
    data : Dataset
        Classification (int labels) or regression (``meta["task"] == "regression"``).
    epochs : int
        Passes over the training set (>= 1).
    batch_size : int
    optimizer : {"adam", "sgd"}
        Adam, or SGD with ``momentum``.
    lr : float, optional
        Learning rate (default 1e-3 for Adam, 0.05 for SGD).
    weight_decay : float
        L2 penalty passed to the optimizer.
    seed : int
        Seed of the shuffling generator (the initialisation is the model's own seed).
    device : str, optional
        Default: CUDA when present, else CPU. The model is moved there.
    stop_at_train_accuracy : float, optional
        Stop after the first epoch whose training accuracy reaches this (the seed paper's
        rule: 0.99 for MNIST).
    progress : bool, optional
        Progress bar over epochs (default: when stderr is a terminal).
    checkpoint : path, optional
        Write :func:`save_checkpoint` there after every epoch (atomically).
    config : dict, optional
        Extra run configuration stored in the checkpoint.

    Returns
    -------
    dict
        ``epoch``, ``train_loss``, ``train_error``, ``test_loss``, ``test_error`` lists.

    Raises
    ------
    ValueError
        On bad parameters, and when the loss diverges (not finite): lower ``lr``.
    """
    func = "train_classifier"
    check_device(device, func)
    lr = (1e-3 if optimizer == "adam" else 0.05) if lr is None else lr
    regression = _is_regression(data)
    out_dim = model.sizes[-1]
    for split in ("train", "test"):
        X_s = np.asarray(getattr(data, f"X_{split}"))
        y_s = np.asarray(getattr(data, f"y_{split}"))
        if X_s.ndim != 2 or y_s.ndim != 1 or len(X_s) != len(y_s) or not len(y_s):
            raise InvalidParameterError(
                f"The 'data' parameter of train_classifier must hold 2-D inputs and 1-D labels "
                f"of one length (not empty). Got X_{split} of shape {X_s.shape} and "
                f"y_{split} of shape {y_s.shape}.", func=func, param="data",
                allowed="a Dataset with 2-D inputs and 1-D labels of one length",
                value=f"X_{split} {X_s.shape}, y_{split} {y_s.shape}")
        check_finite(X_s, f"{data.name} X_{split}", func, "data")
        if not regression:
            check_labels(getattr(data, f"y_{split}"), out_dim, f"{data.name} y_{split}", func,
                         "data")
    if model.sizes[0] != data.n_features:
        raise InvalidParameterError(
            f"The data have {data.n_features} features but the model expects "
            f"{model.sizes[0]} (the first entry of 'sizes').", func=func, param="data",
            allowed=f"a Dataset with {model.sizes[0]} features (the model's input width)",
            value=f"{data.name!r} with {data.n_features} features")
    device = default_device() if device is None else device
    model.to(device)
    dt = next(model.parameters()).dtype
    X = torch.as_tensor(data.X_train).to(device, dt)
    y = torch.as_tensor(data.y_train).to(device)
    if regression:
        y = y.to(dt)
    opt: torch.optim.Optimizer
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              weight_decay=weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    history: dict[str, list[float]] = {k: [] for k in ("epoch", "train_loss", "train_error",
                                                       "test_loss", "test_error")}
    run = {"epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
           "momentum": momentum, "weight_decay": weight_decay, "seed": seed,
           "stop_at_train_accuracy": stop_at_train_accuracy, "data": data.name,
           "data_meta": data.meta, **(config or {})}
    n = len(y)
    with ProgressBar(epochs, "train", enabled=progress) as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(n, generator=gen).to(device)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = _loss(model(X[idx]), y[idx], regression)
                if not torch.isfinite(loss):
                    raise InvalidParameterError(f"Training diverged in epoch {epoch} (loss "
                                     f"{float(loss.detach())}): lower the 'lr' parameter of "
                                     f"train_classifier (now {lr}).")
                loss.backward()
                opt.step()
            model.eval()
            tr = evaluate(model, X, y, regression=regression)
            te = evaluate(model, data.X_test, data.y_test, regression=regression)
            for key, val in (("epoch", epoch), ("train_loss", tr["loss"]),
                             ("train_error", tr["error"]), ("test_loss", te["loss"]),
                             ("test_error", te["error"])):
                history[key].append(val)
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, {**run, "epochs_done": epoch}, history)
            bar.update(1)
            if (stop_at_train_accuracy is not None and not regression
                    and 1 - tr["error"] >= stop_at_train_accuracy):
                break
    return history


def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> None:
    """Write ``path`` through a temporary file beside it and an atomic rename. The file gets
    the mode of an ordinary new file (0o666 less the umask), not mkstemp's private 0o600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@validate_params({"path": PATH, "model": [InstanceOf(MLP)],
                  "config": [None, InstanceOf(dict, "a dict")],
                  "history": [None, InstanceOf(dict, "a dict")]}, func_name="save_checkpoint")
def save_checkpoint(path: str | Path, model: MLP, config: dict | None = None,
                    history: dict | None = None) -> Path:
    """``torch.save`` of the model's state, architecture and run configuration, atomically,
    with the configuration also written as ``<path>.config.json`` beside it.

    Edge-pruned layers are stored as ordinary weights with the pruned entries zero (their
    ``torch.nn.utils.prune`` masks are applied to a copy first)."""
    path = Path(path)
    raw = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    weights = {}
    for k, v in raw.items():  # pruning masks are baked in (zeros stay zeros)
        if k.endswith("_mask"):
            continue
        if k.endswith("_orig"):
            weights[k[:-5]] = v * raw[k[:-5] + "_mask"]
        else:
            weights[k] = v
    state = {"state_dict": weights,
             "architecture": {"sizes": list(model.sizes), "activation": model.activation,
                              "bias": getattr(model, "bias", True)},
             "config": dict(config or {}), "history": dict(history or {})}
    _atomic(path, lambda tmp: torch.save(state, tmp))
    text = json.dumps({"architecture": state["architecture"], "config": state["config"]},
                      indent=2, default=str)
    _atomic(path.with_name(path.name + ".config.json"),
            lambda tmp: Path(tmp).write_text(text))
    return path


#: What :func:`save_checkpoint` writes, and so all :func:`load_checkpoint` accepts.
CHECKPOINT_KEYS = ("state_dict", "architecture", "config", "history")
ARCHITECTURE_KEYS = ("sizes", "activation", "bias")
WEIGHT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class _Malformed(Exception):
    """A checkpoint's content is not what :func:`save_checkpoint` writes (internal)."""


def _expected_shapes(sizes: list[int], bias: bool) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and tensor shapes of ``MLP(sizes, bias=bias)``: Linear i sits at
    index 2i of the Sequential (activations in between)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        shapes[f"{2 * i}.weight"] = (b, a)
        if bias:
            shapes[f"{2 * i}.bias"] = (b,)
    return shapes


def _check_record(state: Any) -> tuple[list[int], str, bool, torch.dtype]:
    """Everything :func:`load_checkpoint` needs, checked against the stored tensors before any
    network is built; raises :class:`_Malformed` with what is wrong."""
    if not isinstance(state, dict):
        raise _Malformed(f"the payload is a {type(state).__name__}, not a dict")
    keys = set(state)
    if keys != set(CHECKPOINT_KEYS):
        missing = [k for k in CHECKPOINT_KEYS if k not in keys]
        extra = sorted(map(repr, keys - set(CHECKPOINT_KEYS)))
        raise _Malformed("its keys must be " + ", ".join(map(repr, CHECKPOINT_KEYS))
                         + (f"; missing {', '.join(map(repr, missing))}" if missing else "")
                         + (f"; unexpected {', '.join(extra)}" if extra else ""))
    arch = state["architecture"]
    if not isinstance(arch, dict) or set(arch) != set(ARCHITECTURE_KEYS):
        shown = sorted(map(repr, arch)) if isinstance(arch, dict) else type(arch).__name__
        raise _Malformed(f"'architecture' must be a dict with keys 'sizes', 'activation', "
                         f"'bias'; got {shown}")
    sizes, activation, bias = arch["sizes"], arch["activation"], arch["bias"]
    if (not isinstance(sizes, list | tuple) or len(sizes) < 2
            or not all(Integer(1).accepts(w) for w in sizes)):
        raise _Malformed(f"architecture 'sizes' must be a list of at least two ints >= 1; got "
                         f"{sizes!r:.80}")
    sizes = [int(w) for w in sizes]
    if not Options(ACTIVATIONS).accepts(activation):
        raise _Malformed(f"architecture 'activation' must be one of "
                         f"{', '.join(map(repr, ACTIVATIONS))}; got {activation!r:.80}")
    if not Boolean().accepts(bias):
        raise _Malformed(f"architecture 'bias' must be a bool; got {bias!r:.80}")
    for key in ("config", "history"):
        if not isinstance(state[key], dict):
            raise _Malformed(f"{key!r} must be a dict; got {type(state[key]).__name__}")
    weights = state["state_dict"]
    if not isinstance(weights, dict) or not weights:
        raise _Malformed("'state_dict' must be a non-empty dict of tensors")
    expected = _expected_shapes(sizes, bool(bias))
    if set(weights) != set(expected):
        missing = [k for k in expected if k not in weights]
        extra = sorted(map(repr, set(weights) - set(expected)))
        raise _Malformed(f"'state_dict' does not match the declared sizes {sizes}"
                         + (f"; missing {', '.join(map(repr, missing))}" if missing else "")
                         + (f"; unexpected {', '.join(extra)}" if extra else ""))
    dtypes = set()
    for key, shape in expected.items():
        t = weights[key]
        if not isinstance(t, torch.Tensor):
            raise _Malformed(f"state_dict[{key!r}] is a {type(t).__name__}, not a tensor")
        if tuple(t.shape) != shape:
            raise _Malformed(f"state_dict[{key!r}] has shape {tuple(t.shape)} but the declared "
                             f"sizes {sizes} need {shape}")
        if t.dtype not in WEIGHT_DTYPES:
            raise _Malformed(f"state_dict[{key!r}] has dtype {t.dtype}; expected a floating "
                             "dtype")
        if t.is_sparse or t.layout != torch.strided or not t.is_contiguous() or (
                t.untyped_storage().nbytes() < t.numel() * t.element_size()):
            raise _Malformed(f"state_dict[{key!r}] is not a plain dense tensor")
        if not bool(torch.isfinite(t).all()):
            raise _Malformed(f"state_dict[{key!r}] holds NaN or infinite values")
        dtypes.add(t.dtype)
    if len(dtypes) != 1:
        raise _Malformed(f"the tensors mix dtypes {sorted(map(str, dtypes))}")
    return sizes, activation, bool(bias), dtypes.pop()


@validate_params({"path": PATH, "device": DEVICE}, func_name="load_checkpoint")
def load_checkpoint(path: str | Path, device: Any = "cpu") -> tuple[MLP, dict]:
    """The network of a :func:`save_checkpoint` file and its stored record (``config``,
    ``history``, ``architecture``). Only tensors and plain data are unpickled
    (``weights_only=True``).

    The record is checked before any network is built: exactly the keys
    :func:`save_checkpoint` writes, an architecture of the right types, and one dense, finite
    floating tensor of the declared shape per layer (so a small file declaring huge sizes is
    refused without allocating them); the declared sizes must also fit in the available
    memory. Anything else raises :class:`statmech.InvalidParameterError` naming the file.
    """
    func = "load_checkpoint"
    check_device(device, func)
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError.build(func, "path", "an existing checkpoint file",
                                          str(path))

    def refuse(why: str) -> InvalidParameterError:
        return InvalidParameterError(
            f"load_checkpoint: {str(path)!r} is not a checkpoint written by "
            f"empirical.save_checkpoint ({why}).", func=func, param="path",
            allowed="a checkpoint written by empirical.save_checkpoint",
            value=f"{str(path)!r} ({why})")

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise refuse(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    except Exception as exc:  # noqa: BLE001 - any other failure to read the file is a bad file
        raise refuse(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                     ) from None
    try:
        sizes, activation, bias, dt = _check_record(state)
    except _Malformed as exc:
        raise refuse(str(exc)) from None
    # the stored tensors are in memory already; the network will hold one more copy
    check_memory(sizes, 2 * torch.empty((), dtype=dt).element_size(), "path", func, bias=bias)
    model = MLP(sizes, activation=activation, bias=bias)
    model.to(dt).load_state_dict(state["state_dict"])
    return model.to(device), {k: state[k] for k in ("config", "history", "architecture")}
