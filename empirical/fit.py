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
import math
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from statmech._progress import ProgressBar

from .data import Dataset
from .models import MLP

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


@torch.no_grad()
def evaluate(model: nn.Module, X: Any, y: Any, *, regression: bool = False,
             batch_size: int = 4096) -> dict[str, float]:
    """Loss and (classification) error rate of ``model`` on (X, y).

    Returns ``{"loss": cross-entropy or ½·MSE, "error": misclassified fraction}`` (``error`` is
    NaN for regression).
    """
    dev = next(model.parameters()).device
    dt = next(model.parameters()).dtype
    X = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y)
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


def _check(name: str, value: Any, low: float, integer: bool = False) -> Any:
    ok = (not isinstance(value, bool)) and (
        isinstance(value, int | np.integer) if integer else isinstance(value, int | float))
    if not ok or not math.isfinite(value) or value < low:
        kind = "an int" if integer else "a finite float"
        raise ValueError(f"The '{name}' parameter of train_classifier must be {kind} >= {low}. "
                         f"Got {value!r}.")
    return value


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
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"The 'optimizer' parameter of train_classifier must be 'adam' or "
                         f"'sgd'. Got {optimizer!r}.")
    _check("epochs", epochs, 1, integer=True)
    _check("batch_size", batch_size, 1, integer=True)
    lr = (1e-3 if optimizer == "adam" else 0.05) if lr is None else lr
    if _check("lr", lr, 0.0) == 0:
        raise ValueError(f"The 'lr' parameter of train_classifier must be > 0. Got {lr!r}.")
    _check("momentum", momentum, 0.0)
    _check("weight_decay", weight_decay, 0.0)
    _check("seed", seed, 0, integer=True)
    if stop_at_train_accuracy is not None and not 0 < stop_at_train_accuracy <= 1:
        raise ValueError(f"The 'stop_at_train_accuracy' parameter of train_classifier must be "
                         f"in (0, 1]. Got {stop_at_train_accuracy!r}.")
    regression = _is_regression(data)
    out_dim = model.sizes[-1]
    if not regression and data.n_classes > out_dim:
        raise ValueError(f"The data have {data.n_classes} classes but the model has {out_dim} "
                         f"outputs (its last entry of 'sizes').")
    if model.sizes[0] != data.n_features:
        raise ValueError(f"The data have {data.n_features} features but the model expects "
                         f"{model.sizes[0]} (the first entry of 'sizes').")
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
                    raise ValueError(f"Training diverged in epoch {epoch} (loss "
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


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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


def load_checkpoint(path: str | Path, device: Any = "cpu") -> tuple[MLP, dict]:
    """The network of a :func:`save_checkpoint` file and its stored record (``config``,
    ``history``, ``architecture``). Only tensors and plain data are unpickled
    (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"load_checkpoint: no checkpoint file at {str(path)!r}.")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        arch = state["architecture"]
        model = MLP(arch["sizes"], activation=arch["activation"], bias=arch["bias"])
        dt = next(iter(state["state_dict"].values())).dtype
        model.to(dt).load_state_dict(state["state_dict"])
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(f"load_checkpoint: {str(path)!r} is not a checkpoint written by "
                         f"empirical.save_checkpoint ({exc}).") from None
    return model.to(device), {k: state[k] for k in ("config", "history", "architecture")}
