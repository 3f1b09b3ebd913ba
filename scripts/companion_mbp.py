"""Companion paper A (Guha, Dubey & Huo, arXiv 2305.18789): the MBP pruning-error bound, rerun
as the authors' code runs it on MNIST / CIFAR-10 files you provide, or checked on digits.

**Rerun of the authors' experiments** (``--mnist DIR`` or ``--cifar10 DIR``;
``docs/companion_papers.md`` §1.7). Nothing is downloaded: DIR holds the four MNIST IDX files
(gzipped or not) or the CIFAR-10 "python version" batches. The setup is the one the code of
their repository runs (commit 697e0b3 of EtashGuha/compression_bounds_arxiv):

* data: the training file split 80/20 into training and validation parts by the data module's
  random split (``torch.randperm`` with a generator seeded 1, the module's default seed), so
  m = 48 000 (MNIST) or 40 000 (CIFAR-10) training examples; MNIST pixels mapped to [−1, 1]
  ((x − 0.5)/0.5), CIFAR-10 pixels normalised per channel (mean 125.3, 123.0, 113.9 and std
  63.0, 62.1, 66.7, in units of 1/255) after the training augmentation: a random 32 × 32 crop
  of the image padded by 4 zero pixels, then a horizontal flip with probability ½;
* network: five ``nn.Linear`` layers with biases and ReLU between them, PyTorch's default
  initialisation, hidden width 784 (MNIST: 784-784-784-784-784-10) or 2000 (CIFAR-10:
  3072-2000-2000-2000-2000-10);
* training: 100 epochs (their trainer is built with ``max_epochs=100``, whatever the
  configuration files say), cross-entropy, SGD with weight decay 1e-4, batch 256 and learning
  rate 0.02 (MNIST) or batch 64 and learning rate 0.01, × 0.1 at epochs 40 and 80 (CIFAR-10).
  The configuration asks for momentum 0.9, but the code sets it as an attribute of the
  optimiser object, which ``torch.optim.SGD`` never reads: the updates are plain SGD, and so
  they are here;
* for each of 100 values of d in [0, 10] (``np.linspace(0, 10, 100)``), a fresh MBP mask of
  every layer (:func:`empirical.bounds.mbp_prune_mlp`), then
  - the **true pruning error**: the largest |change of the correct-class logit| over one pass
    of the training loader (for CIFAR-10 the *augmented* loader: every pass draws new crops and
    flips, which the unpruned and the pruned network both see);
  - the **bound on it**, γ_req(d) = e · max‖x‖ · Σ_l e_l · Π_l ‖W_l‖₂ · Π_l c_l, with max‖x‖
    taken over another pass of the training loader and c_l bisected on [0, 1] with xtol 0.01,
    as in the code (:func:`empirical.bounds.dimension_factor`);
* then, on new mask draws, the largest number of non-zeros in a row, j_r, of the first layer
  with the widest input (784 × 784 or 2000 × 3072) against the prediction 3 · n_in · κ(d). The
  authors' figure labels it max(j_r, j_c); their code counts rows only. j_c is written too.

``--channel-norm-max-x`` (off by default) copies how the code measures max‖x‖: it flattens each
image to (channels, pixels), squeezes the channel axis and takes the norm over axis 1. For
one-channel MNIST that is the image norm; for CIFAR-10 the squeeze does nothing and the norm is
taken over the RGB values of *one pixel*, so max‖x‖ becomes the largest per-pixel channel norm
(about 3.6 instead of about 100). This is why the authors' CIFAR-10 bound (306 at d = 10) lies
17 times below their MNIST bound (5 286) although the network is larger. Off, max‖x‖ is the
norm of the whole input vector, as the theory needs. The option changes nothing on MNIST.

``--epochs``, ``--subset`` (the first N training examples after the split), ``--hidden`` and
``--n-d`` shrink the run for a quick check; the defaults are the authors'. The output directory
gets ``<dataset>/mbp_curves.csv`` (our curves), ``<dataset>/mbp_curves.png`` (our curves as
lines over the points of the authors' four committed figures, read from
``results/companion_mbp/authors_points.csv``) and ``<dataset>/config.json``. The authors' curves
come from one trained network and one mask draw per d: compare shape and level, not digits.

    python scripts/companion_mbp.py --mnist ~/data/mnist
    python scripts/companion_mbp.py --cifar10 ~/data/cifar-10-batches-py --channel-norm-max-x

**Digits check** (no data option; ``docs/companion_papers.md`` §1.8). scikit-learn's bundled
digits scaled to [0, 1] and split 70/30; a (256, 256) ReLU MLP trained with Adam, learning rate
1e-3, batch 200, 400 epochs (:func:`empirical.fit.train_classifier`; the check of §1.8 used
scikit-learn's MLPClassifier, whose defaults these mirror, with 400 iterations, and a small L2
penalty left out here). For d ∈ {0.1, 1, 2, 10}: the measured density of the pruned weights
against κ(d), the largest non-zero row / column count (j_r, j_c) of the widest-input layer
(256 × 256) against the cap 3 · n_in · κ(d), the true maximum change of the correct-class logit
over the training set, γ_req(d), √(Q(d)/m), the margin loss at γ_req, the bound and the pruned
network's test error. Then d chosen so that γ_req(d) equals the minimum training margin, with
the three baselines at that margin, and the authors' predicted row-count curves 3 n κ(d) for
n = 784 and 3072::

    python scripts/companion_mbp.py [--epochs 400] [--seed 0] [--mask-seed 0] [--threads 1]

A bad option or a missing or malformed data file ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from empirical import bounds as B
from empirical._checks import check_device
from empirical.data import load_cifar10, load_idx
from statmech._validation import Integer, InvalidParameterError, check
from statmech.cli.errors import OneLineArgumentParser, check_output_path, run_script
from statmech.companion import (
    kept_fraction,
    mbp_mask,
    predicted_max_row_nonzeros,
    row_col_counts,
)
from statmech.paths import output_dir

#: The points of the authors' four committed figures (see the README beside the file).
AUTHORS_POINTS = (Path(__file__).resolve().parents[1] / "results" / "companion_mbp"
                  / "authors_points.csv")

#: The authors' setups (their configuration files and trainer, commit 697e0b3).
SETUPS = {
    "mnist": {"hidden": 784, "layers": 5, "batch_size": 256, "lr": 0.02, "milestones": (),
              "augment": False, "channels": 1},
    "cifar10": {"hidden": 2000, "layers": 5, "batch_size": 64, "lr": 0.01,
                "milestones": (40, 80, 120, 160, 200, 240), "augment": True, "channels": 3},
}
EPOCHS = 100           # Trainer(max_epochs=100) in their main.py
WEIGHT_DECAY = 1e-4    # their default
VAL_SPLIT = 0.2        # their default; m = 48 000 / 40 000
SPLIT_SEED = 1         # their default seed, used by the data module's random split
BISECT_XTOL = 0.01     # their bisection tolerance for the dimension factors
N_D = 100              # np.linspace(0, 10, 100)
CIFAR_MEAN = tuple(v / 255.0 for v in (125.3, 123.0, 113.9))
CIFAR_STD = tuple(v / 255.0 for v in (63.0, 62.1, 66.7))
EVAL_BATCH = 1024      # batch size of the evaluation passes (the maxima do not depend on it)


# ------------------------------------------------------------------------------------------
# data


class Inputs:
    """Training or test inputs as the authors' loaders deliver them.

    Parameters
    ----------
    X : Tensor (n, channels · side²)
        Flattened images on the device: MNIST already mapped to [−1, 1]; CIFAR-10 in [0, 1],
        augmented (when ``augment``) and normalised per channel batch by batch, as their
        transforms do image by image.
    channels : int
        1 (MNIST) or 3 (CIFAR-10).
    augment : bool
        Draw a random crop and flip for every image of every batch.
    """

    def __init__(self, X: torch.Tensor, channels: int, augment: bool) -> None:
        self.X = X
        self.channels = channels
        self.augment = augment

    @property
    def side(self) -> int:
        """Image side length (square images)."""
        return math.isqrt(self.X.shape[1] // self.channels)

    def batch(self, idx: torch.Tensor, gen: torch.Generator, augment: bool | None = None
              ) -> torch.Tensor:
        """The network inputs of the examples ``idx`` (augmentation drawn from ``gen``)."""
        x = self.X[idx.to(self.X.device)]
        if self.channels == 1:
            return x
        if self.augment if augment is None else augment:
            x = random_crop_flip(x, self.channels, self.side, gen)
        mean = torch.tensor(CIFAR_MEAN, device=x.device, dtype=x.dtype)
        std = torch.tensor(CIFAR_STD, device=x.device, dtype=x.dtype)
        x = x.view(x.shape[0], self.channels, -1)
        return ((x - mean[:, None]) / std[:, None]).reshape(x.shape[0], -1)


def random_crop_flip(x: torch.Tensor, channels: int, side: int, gen: torch.Generator,
                     pad: int = 4) -> torch.Tensor:
    """Random ``side`` × ``side`` crops of the images padded by ``pad`` zero pixels, each then
    flipped left-right with probability ½ (torchvision's ``RandomCrop(32, padding=4)`` and
    ``RandomHorizontalFlip()`` on pixels in [0, 1]), for a batch of flattened images.

    Parameters
    ----------
    x : Tensor (B, channels · side²)
    channels, side : int
    gen : torch.Generator
        CPU generator of the offsets and flips.
    pad : int

    Returns
    -------
    Tensor (B, channels · side²)
    """
    b = x.shape[0]
    img = F.pad(x.view(b, channels, side, side), (pad, pad, pad, pad))
    top = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    left = torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device)
    flip = (torch.rand(b, generator=gen) < 0.5).to(x.device)
    ar = torch.arange(side, device=x.device)
    rows = top[:, None] + ar
    cols = torch.where(flip[:, None], left[:, None] + side - 1 - ar, left[:, None] + ar)
    out = img[torch.arange(b, device=x.device)[:, None, None, None],
              torch.arange(channels, device=x.device)[None, :, None, None],
              rows[:, None, :, None], cols[:, None, None, :]]
    return out.reshape(b, -1)


def input_norms(x: torch.Tensor, channels: int, channel_norm: bool) -> torch.Tensor:
    """The "‖x‖" of every input in a batch of network inputs (B, channels · pixels).

    Default: the norm of the whole input vector. With ``channel_norm`` and more than one
    channel: the norm over the channel axis of every pixel, (B, pixels), the quantity the
    authors' code takes for CIFAR-10 (``data.flatten(2, 3).squeeze(1)``, norm over axis 1); with
    one channel the code's expression is the image norm, and so is this.
    """
    if channel_norm and channels > 1:
        return x.view(x.shape[0], channels, -1).norm(dim=1)
    return x.norm(dim=1)


def load(args: argparse.Namespace) -> tuple[str, Inputs, torch.Tensor, Inputs, torch.Tensor]:
    """(name, training inputs, labels, test inputs, labels) of the chosen data set, on device."""
    name = "mnist" if args.mnist else "cifar10"
    setup = SETUPS[name]
    if args.mnist:
        data = load_idx(args.mnist, normalise=(0.5, 0.5))
    else:
        data = load_cifar10(args.cifar10, normalise=False)
    dev = torch.device(args.device or "cpu")

    def tens(X: np.ndarray, y: np.ndarray, augment: bool) -> tuple[Inputs, torch.Tensor]:
        return (Inputs(torch.as_tensor(X, device=dev), setup["channels"], augment),
                torch.as_tensor(y, device=dev))

    tr, ytr = tens(data.X_train, data.y_train, setup["augment"])
    te, yte = tens(data.X_test, data.y_test, False)
    return name, tr, ytr, te, yte


def training_indices(n: int, subset: int | None, seed: int = SPLIT_SEED) -> tuple[torch.Tensor,
                                                                                 int]:
    """The training part of the authors' 80/20 training / validation split.

    Parameters
    ----------
    n : int
        Number of examples in the training file (60 000 for MNIST, 50 000 for CIFAR-10).
    subset : int or None
        Keep only the first ``subset`` training indices (a quick run); None keeps all.
    seed : int
        Seed of the split's generator (the authors' data module uses its seed, 1).

    Returns
    -------
    idx : Tensor of int64
        The first n − ⌊0.2 n⌋ entries of ``torch.randperm(n)`` drawn with a generator seeded
        ``seed`` (how ``torch.utils.data.random_split`` draws them), cut to ``subset``.
    n_val : int
        Size of the validation part, ⌊0.2 n⌋, which is left out.
    """
    n_val = int(VAL_SPLIT * n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    idx = perm[:n - n_val]
    if subset is not None:
        if subset > len(idx):
            raise InvalidParameterError.build(
                "companion_mbp", "subset", f"an int in [1, {len(idx)}] (the training examples "
                "left after the 0.2 validation split)", subset)
        idx = idx[:subset]
    return idx, n_val


# ------------------------------------------------------------------------------------------
# network and training


def authors_mlp(n_in: int, hidden: int, layers: int, n_classes: int, seed: int) -> nn.Sequential:
    """The authors' MLP.

    Parameters
    ----------
    n_in, hidden, n_classes : int
        Input, hidden and output widths.
    layers : int
        Number of ``nn.Linear`` layers (5 in their runs).
    seed : int
        Seed of PyTorch's default initialisation (the global torch generator is left as it
        was).

    Returns
    -------
    nn.Sequential
        ``layers`` ``nn.Linear`` layers with biases, n_in → hidden → … → hidden → n_classes,
        with ReLU between them.
    """
    widths = [n_in] + [hidden] * (layers - 1) + [n_classes]
    mods: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k in range(layers):
            mods.append(nn.Linear(widths[k], widths[k + 1], bias=True))
            if k < layers - 1:
                mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def train(net: nn.Module, inputs: Inputs, y: torch.Tensor, idx: torch.Tensor, *, epochs: int,
          batch_size: int, lr: float, milestones: tuple[int, ...], seed: int,
          log=print) -> list[dict]:
    """Train ``net`` in place as the authors' trainer does.

    Shuffled mini-batches (the last one short), cross-entropy, plain SGD with weight decay 1e-4
    (their momentum never reaches the optimiser), the learning rate × 0.1 after each epoch
    listed in ``milestones``.

    Parameters
    ----------
    net : nn.Module
    inputs : Inputs
        The training inputs (augmented batch by batch when ``inputs.augment``).
    y : Tensor
        Labels of all examples in ``inputs``.
    idx : Tensor
        The training examples used.
    epochs, batch_size : int
    lr : float
        Initial learning rate.
    milestones : tuple of int
        Epochs after which the learning rate is multiplied by 0.1.
    seed : int
        Seed of the shuffles and the augmentation.
    log : callable
        Receives a progress line about every tenth epoch.

    Returns
    -------
    list of dict
        Per epoch: ``epoch``, mean ``loss`` and ``train_accuracy`` on the (augmented) batches.
    """
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma=0.1)
    gen = torch.Generator().manual_seed(seed)
    hist = []
    every = max(1, epochs // 10)
    net.train()
    for ep in range(epochs):
        order = idx[torch.randperm(len(idx), generator=gen)]
        tot_loss, correct = 0.0, 0
        for b in range(0, len(order), batch_size):
            bi = order[b:b + batch_size]
            xb, yb = inputs.batch(bi, gen), y[bi.to(y.device)]
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += float(loss.detach()) * len(bi)
            correct += int((out.argmax(1) == yb).sum())
        sched.step()
        hist.append({"epoch": ep + 1, "loss": tot_loss / len(order),
                     "train_accuracy": correct / len(order)})
        if (ep + 1) % every == 0 or ep + 1 == epochs:
            log(f"  epoch {ep + 1:4d}: loss {hist[-1]['loss']:.4f}, training accuracy "
                f"{hist[-1]['train_accuracy']:.4f}")
    return hist


def _batches(idx: torch.Tensor, size: int = EVAL_BATCH):
    for b in range(0, len(idx), size):
        yield idx[b:b + size]


@torch.no_grad()
def accuracy(net: nn.Module, inputs: Inputs, y: torch.Tensor, idx: torch.Tensor) -> float:
    """Accuracy on the examples ``idx`` without augmentation."""
    net.eval()
    gen = torch.Generator().manual_seed(0)
    hits = sum(int((net(inputs.batch(bi, gen, augment=False)).argmax(1)
                    == y[bi.to(y.device)]).sum()) for bi in _batches(idx))
    return hits / len(idx)


@torch.no_grad()
def true_pruning_error(net: nn.Module, pruned: nn.Module, inputs: Inputs, y: torch.Tensor,
                       idx: torch.Tensor, gen: torch.Generator,
                       cache: list | None = None) -> float:
    """max |f(x)[y] − f̂(x)[y]| over one pass of the training loader (``find_alpha_true``).

    With augmentation every pass draws new inputs, seen by both networks. Without it the
    unpruned network's correct-class logits are stored in ``cache`` (a list) on the first
    call and reused."""
    net.eval()
    pruned.eval()
    worst = 0.0
    for k, bi in enumerate(_batches(idx)):
        xb, yb = inputs.batch(bi, gen), y[bi.to(y.device)][:, None]
        if cache is not None and not inputs.augment and k < len(cache):
            a = cache[k]
        else:
            a = net(xb).gather(1, yb)
            if cache is not None and not inputs.augment:
                cache.append(a)
        b = pruned(xb).gather(1, yb)
        worst = max(worst, float((a - b).abs().max()))
    return worst


@torch.no_grad()
def max_input_norm(inputs: Inputs, idx: torch.Tensor, gen: torch.Generator,
                   channel_norm: bool) -> float:
    """max‖x‖ over one pass of the training loader (:func:`input_norms`)."""
    return max(float(input_norms(inputs.batch(bi, gen), inputs.channels, channel_norm).max())
               for bi in _batches(idx))


# ------------------------------------------------------------------------------------------
# the curves


def curves(net: nn.Module, inputs: Inputs, y: torch.Tensor, idx: torch.Tensor,
           ds: np.ndarray, *, mask_seed: int, aug_seed: int, channel_norm: bool,
           log=print) -> pd.DataFrame:
    """The authors' two loops over d: pruning error and γ_req, then row counts.

    Every d gets its own mask draw (their ``find_alpha_true``), and the row counts use further,
    independent draws (``get_number_of_zeros``); the draws for the other layers that their
    second loop makes and discards are skipped (they do not change the distribution).

    Parameters
    ----------
    net : nn.Module
        The trained network.
    inputs, y, idx
        Training inputs, labels and the m training examples.
    ds : array
        The values of d.
    mask_seed : int
        Seed of the masks (split into independent streams for the two loops).
    aug_seed : int
        Seed of the augmentation of the evaluation passes.
    channel_norm : bool
        max‖x‖ as the code computes it (:func:`input_norms`).
    log : callable
        Receives a progress line about every tenth d.

    Returns
    -------
    DataFrame
        One row per d: ``d``, ``kappa``, ``gamma_req``, ``true_error``, ``max_input_norm``,
        ``sum_relative_errors`` (Σ_l e_l), ``density`` (of the pruned weights), ``jr``, ``jc``
        (row and column maxima of the first widest-input layer, own draw),
        ``predicted_jr`` (3 · n_in · κ(d)), ``first_layer_n_in`` and ``bound_over_true``.
    """
    m = len(idx)
    err_rng, cnt_rng = (np.random.default_rng(s)
                        for s in np.random.SeedSequence(mask_seed).spawn(2))
    gen = torch.Generator().manual_seed(aug_seed)
    fixed_norm = None if inputs.augment else max_input_norm(inputs, idx, gen, channel_norm)
    layers = B._Layers(net, m, fixed_norm or 0.0, xtol=BISECT_XTOL)
    lins = B._linears(net)
    widest = max(range(len(lins)), key=lambda k: (lins[k].in_features, -k))
    n_in = lins[widest].in_features
    cache: list = []
    rows = []
    every = max(1, len(ds) // 10)
    for k, d in enumerate(ds):
        pruned = B.mbp_prune_mlp(net, float(d), seed=err_rng)
        err = true_pruning_error(net, pruned, inputs, y, idx, gen, cache)
        x_norm = (max_input_norm(inputs, idx, gen, channel_norm) if fixed_norm is None
                  else fixed_norm)
        t = layers.terms(B._weights(pruned), max_input_norm=x_norm)
        rows.append({"d": float(d), "kappa": float(kept_fraction(float(d))),
                     "gamma_req": t["gamma_req"], "true_error": err,
                     "max_input_norm": x_norm,
                     "sum_relative_errors": float(np.sum(t["relative_errors"])),
                     "density": t["density"]})
        if (k + 1) % every == 0 or k + 1 == len(ds):
            log(f"  d = {d:6.3f}: gamma_req {t['gamma_req']:.4g}, true pruning error "
                f"{err:.4g}")
    W = layers.W[widest]
    for row in rows:
        mask = mbp_mask(W, row["d"], rng=cnt_rng)
        jr, jc = row_col_counts(W * mask)
        row.update({"jr": jr, "jc": jc,
                    "predicted_jr": float(predicted_max_row_nonzeros(n_in, row["d"])),
                    "first_layer_n_in": n_in})
    table = pd.DataFrame(rows)
    table["bound_over_true"] = table.gamma_req / table.true_error.where(table.true_error > 0)
    return table


def read_authors_points(path: Path, dataset: str) -> pd.DataFrame:
    """The authors' points of one data set (columns i, d, quantity, value)."""
    pts = pd.read_csv(path)
    need = {"dataset", "figure", "i", "d", "quantity", "value"}
    if not need <= set(pts.columns):
        raise InvalidParameterError.build("companion_mbp", "authors_points",
                                          f"a CSV with columns {sorted(need)}", str(path))
    return pts[pts.dataset == dataset].reset_index(drop=True)


def plot_curves(table: pd.DataFrame, authors: pd.DataFrame, title: str):
    """Our curves as lines over the authors' points (markers).

    Parameters
    ----------
    table : DataFrame
        The output of :func:`curves`.
    authors : DataFrame
        The authors' points of the same data set (:func:`read_authors_points`).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: γ_req, the true pruning error, and the first layer's largest row count
        with the prediction 3 · n · κ(d). The authors' points are the lines whose ``gid`` is
        ``bound``, ``true_error`` or ``measured_jr``; ours are labelled "this run".
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    mk = {"ls": "none", "marker": "o", "ms": 3.5, "color": "0.55", "zorder": 1}
    line = {"lw": 2, "color": "C0", "zorder": 3}
    panels = [("bound", "gamma_req", r"bound on the pruning error $\gamma_{req}(d)$"),
              ("true_error", "true_error", "true pruning error (max |Δ correct logit|)"),
              ("measured_jr", "jr", r"largest row count $j_r$, first layer")]
    for ax, (qty, col, ylabel) in zip(axes, panels, strict=True):
        pts = authors[authors.quantity == qty]
        if len(pts):
            ax.plot(pts.d.to_numpy(), pts.value.to_numpy(), label="authors' figure", gid=qty,
                    **mk)
        if col == "jr":
            n = int(table.first_layer_n_in.iloc[0])
            dd = np.linspace(0.0, 10.0, 400)
            ax.plot(dd, predicted_max_row_nonzeros(n, dd), color="k", ls="--", lw=1.5,
                    zorder=2, label=rf"prediction $3\cdot{n}\cdot\kappa(d)$")
        ax.plot(table.d.to_numpy(), table[col].to_numpy(), label="this run", **line)
        ax.set_xlabel("$d$")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    """The options of this script (errors are one line, exit status 2)."""
    p = OneLineArgumentParser(prog="companion_mbp.py", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mnist", type=Path, default=None,
                     help="directory with the MNIST IDX files: rerun the authors' MNIST run")
    src.add_argument("--cifar10", type=Path, default=None,
                     help="directory with the CIFAR-10 python batches: rerun their CIFAR-10 run")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: 100 for MNIST / CIFAR-10, 400 for digits)")
    p.add_argument("--subset", type=int, default=None,
                   help="use only the first N training examples after the 0.2 validation split "
                        "(default: all, m = 48 000 / 40 000)")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden width (default: the authors', 784 / 2000)")
    p.add_argument("--n-d", type=int, default=N_D, help="number of d values on [0, 10]")
    p.add_argument("--channel-norm-max-x", action="store_true",
                   help="max||x|| as the authors' code computes it: for CIFAR-10 the largest "
                        "per-pixel norm over the RGB channels (no effect on MNIST)")
    p.add_argument("--seed", type=int, default=0,
                   help="initialisation, shuffles and augmentation (digits: also the split)")
    p.add_argument("--split-seed", type=int, default=SPLIT_SEED,
                   help="seed of the 80/20 training/validation split (the authors' 1)")
    p.add_argument("--mask-seed", type=int, default=0, help="seed of the MBP masks")
    p.add_argument("--device", default=None, help="torch device (default: cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch / BLAS threads (default: torch's choice; digits: 1)")
    p.add_argument("--output-dir", type=Path, default=output_dir("companion_mbp"),
                   help="where <dataset>/mbp_curves.{csv,png} and config.json go")
    p.add_argument("--authors-points", type=Path, default=AUTHORS_POINTS,
                   help="CSV of the authors' figure points")
    return p


def _preflight(args: argparse.Namespace) -> None:
    func = "companion_mbp"
    check(args.epochs, "epochs", func, [None, Integer(1)])
    check(args.subset, "subset", func, [None, Integer(1)])
    check(args.hidden, "hidden", func, [None, Integer(1)])
    check(args.n_d, "n_d", func, [Integer(1)])
    check(args.threads, "threads", func, [None, Integer(1)])
    for name in ("seed", "split_seed", "mask_seed"):
        check(getattr(args, name), name, func, [Integer(0, 2**32 - 1)])
    check_device(args.device, func)
    if args.mnist or args.cifar10:
        check_output_path(args.output_dir, "output_dir", func, directory=True)
        if not Path(args.authors_points).is_file():
            raise InvalidParameterError.build(func, "authors_points", "an existing CSV file",
                                              str(args.authors_points))


def _set_threads(n: int | None) -> None:
    if n is None:
        return
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the script; returns the exit status (0, or 2 after a one-line user error)."""
    def run(args: argparse.Namespace) -> int:
        _preflight(args)
        if args.mnist or args.cifar10:
            return rerun(args)
        return digits_check(args)

    return run_script(build_parser(), run, argv,
                      aliases=lambda a: {"directory": "mnist" if a.mnist else "cifar10"})


def rerun(args: argparse.Namespace) -> int:
    """The authors' experiment on MNIST or CIFAR-10 (see the module docstring)."""
    _set_threads(args.threads)
    t0 = time.perf_counter()
    name, tr, ytr, te, yte = load(args)
    setup = SETUPS[name]
    idx, n_val = training_indices(len(ytr), args.subset, args.split_seed)
    m = len(idx)
    epochs = EPOCHS if args.epochs is None else args.epochs
    hidden = args.hidden or setup["hidden"]
    n_classes = 10  # both data sets; the loaders refuse labels outside 0..9
    ds = np.linspace(0.0, 10.0, args.n_d)
    authors_sizes = args.subset is None and args.hidden is None and epochs == EPOCHS \
        and args.n_d == N_D
    dev = torch.device(args.device or "cpu")
    net = authors_mlp(tr.X.shape[1], hidden, setup["layers"], n_classes, args.seed).to(dev)
    widths = [tr.X.shape[1]] + [hidden] * (setup["layers"] - 1) + [n_classes]
    print(f"{name}: m = {m} training examples (validation part {n_val} left out), "
          f"{len(yte)} test; MLP {'-'.join(map(str, widths))} ReLU with biases; SGD lr "
          f"{setup['lr']}, weight decay {WEIGHT_DECAY}, batch {setup['batch_size']}, {epochs} "
          f"epochs{', augmentation' if setup['augment'] else ''}")
    hist = train(net, tr, ytr, idx, epochs=epochs, batch_size=setup["batch_size"],
                 lr=setup["lr"], milestones=setup["milestones"], seed=args.seed)
    t_train = time.perf_counter() - t0
    train_acc, test_acc = accuracy(net, tr, ytr, idx), accuracy(net, te, yte,
                                                                torch.arange(len(yte)))
    print(f"trained in {t_train:.1f} s: training accuracy {train_acc:.4f}, test accuracy "
          f"{test_acc:.4f}")
    how = ("per pixel over the channels (the code)" if args.channel_norm_max_x
           else "of the input vector")
    print(f"{len(ds)} values of d on [0, 10], max||x|| {how}:")
    table = curves(net, tr, ytr, idx, ds, mask_seed=args.mask_seed, aug_seed=args.seed + 1,
                   channel_norm=args.channel_norm_max_x)
    table.insert(0, "dataset", name)
    t_total = time.perf_counter() - t0
    out = Path(args.output_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "mbp_curves.csv", index=False)
    authors = read_authors_points(Path(args.authors_points), name)
    title = (f"{name}: our rerun (lines; m = {m}, {epochs} epochs, hidden {hidden}, max||x|| "
             f"{'per pixel (code)' if args.channel_norm_max_x else 'of the image'}) over the "
             f"authors' committed figures (markers)")
    if not authors_sizes:
        title += " - quick run, not the authors' sizes"
    fig = plot_curves(table, authors, title)
    fig.savefig(out / "mbp_curves.png", dpi=120)
    config = {"dataset": name, "data_directory": str(args.mnist or args.cifar10), "m": m,
              "validation_left_out": n_val, "widths": widths, "epochs": epochs,
              "batch_size": setup["batch_size"], "lr": setup["lr"],
              "lr_milestones": list(setup["milestones"]), "weight_decay": WEIGHT_DECAY,
              "momentum": 0.0, "augmentation": setup["augment"],
              "channel_norm_max_x": bool(args.channel_norm_max_x), "n_d": len(ds),
              "seed": args.seed, "split_seed": args.split_seed, "mask_seed": args.mask_seed,
              "authors_sizes": authors_sizes, "final_loss": hist[-1]["loss"],
              "train_accuracy": train_acc, "test_accuracy": test_acc,
              "seconds_training": round(t_train, 1), "seconds_total": round(t_total, 1),
              "device": str(dev), "threads": torch.get_num_threads(),
              "torch": torch.__version__}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    _print_comparison(table, authors)
    print(f"total {t_total:.1f} s; wrote {out / 'mbp_curves.csv'}, {out / 'mbp_curves.png'}")
    return 0


def _print_comparison(table: pd.DataFrame, authors: pd.DataFrame) -> None:
    """Ours beside the authors' at a few d (their nearest grid point)."""
    piv = authors.pivot_table(index="d", columns="quantity", values="value")
    lines = []
    picks = dict.fromkeys(int(np.argmin(np.abs(table.d.to_numpy() - d)))
                          for d in (0.1, 1.0, 2.0, 5.0, 10.0))
    for k in picks:
        ours = table.iloc[k]
        d = ours.d
        row = {"d (ours)": ours.d, "gamma_req": ours.gamma_req, "true error": ours.true_error,
               "j_r": ours.jr}
        if len(piv):
            ref = piv.iloc[int(np.argmin(np.abs(piv.index.to_numpy() - d)))]
            row.update({"d (authors)": ref.name, "authors gamma_req": ref.get("bound"),
                        "authors true error": ref.get("true_error"),
                        "authors j_r": ref.get("measured_jr")})
        lines.append(row)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(lines).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


# ------------------------------------------------------------------------------------------
# digits check (docs/companion_papers.md §1.8)


def digits_check(a: argparse.Namespace) -> int:
    """The digits check of the module docstring (prints its tables)."""
    from empirical.fit import train_classifier
    from empirical.models import MLP

    _set_threads(1 if a.threads is None else a.threads)
    epochs = 400 if a.epochs is None else a.epochs
    t0 = time.perf_counter()
    data = B.digits_unit_interval(a.seed)
    net = MLP([64, 256, 256, 10], activation="relu", seed=a.seed)
    hist = train_classifier(net, data, epochs=epochs, batch_size=200, lr=1e-3, seed=a.seed,
                            device="cpu", progress=False)
    X, y = data.X_train, data.y_train
    m = len(y)
    marg = B.margins(net, X, y)
    print(f"digits [0, 1], 70/30 split: m = {m} training, {len(data.y_test)} test points; "
          f"MLP (64, 256, 256, 10) ReLU, Adam, batch 200, {epochs} epochs "
          f"({time.perf_counter() - t0:.1f} s)")
    print(f"train error {hist['train_error'][-1]:.4f}, test error {hist['test_error'][-1]:.4f}, "
          f"min training margin {marg.min():.4f}, max input norm "
          f"{np.linalg.norm(X, axis=1).max():.3f}\n")

    rows = []
    for d in (0.1, 1.0, 2.0, 10.0):
        gb = B.generalization_bound(net, X, y, d, seed=a.mask_seed, X_test=data.X_test,
                                    y_test=data.y_test)
        lins = B._linears(B.mbp_prune_mlp(net, d, seed=a.mask_seed))
        widest = max(lins, key=lambda lin: lin.in_features)
        j_r, j_c = row_col_counts(widest.weight.detach().numpy())
        rows.append({"d": d, "density": gb["density"], "kappa(d)": gb["kappa"],
                     "j_r,j_c (256x256)": f"{j_r},{j_c}",
                     "3*256*kappa": predicted_max_row_nonzeros(widest.in_features, d),
                     "true max logit change": gb["pruning_error"],
                     "gamma_req": gb["gamma_req"], "sqrt(Q/m)": gb["sqrt_q_over_m"],
                     "margin loss at gamma_req": gb["margin_loss"], "bound": gb["bound"],
                     "pruned test error": gb["pruned_test_error"]})
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print("MBP bound per compression parameter d (§1.5; one mask draw per d, seed "
              f"{a.mask_seed}):")
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    ch = B.choose_d(net, X, y, seed=a.mask_seed)
    gb = B.generalization_bound(net, X, y, ch["d"], seed=a.mask_seed, X_test=data.X_test,
                                y_test=data.y_test)
    print(f"\nchoose_d on [1e-3, 10]: d = {ch['d']:.4g} (bracketed: {ch['bracketed']}), "
          f"gamma_req = {ch['gamma_req']:.4g} vs min margin {ch['min_margin']:.4g}")
    wide = B.choose_d(net, X, y, seed=a.mask_seed, lo=1e-8)
    print(f"  (on [1e-8, 10]: d = {wide['d']:.4g}, bracketed: {wide['bracketed']}, "
          f"kept fraction kappa(d) = {kept_fraction(wide['d']):.4f})")
    print(f"  our bound at that d: margin loss {gb['margin_loss']:.4f} + sqrt(Q/m) "
          f"{gb['sqrt_q_over_m']:.4g} = {gb['bound']:.4g}; pruned test error "
          f"{gb['pruned_test_error']:.4f}")
    print(f"  baselines at gamma = min margin {gb['gamma_baselines']:.4g}, sqrt(term/(gamma^2 m))"
          f" (capacity term/gamma^2):")
    for k in ("neyshabur2015", "bartlett2017", "neyshabur2017"):
        print(f"    {k:14s} {gb[k]:.4g}  ({gb[k + '_capacity']:.4g})")

    ds = (1e-9, 0.5, 1.0, 2.0, 5.0, 10.0)
    curve = pd.DataFrame({"d": ds, "kappa(d)": [kept_fraction(d) for d in ds],
                          "3*784*kappa": [predicted_max_row_nonzeros(784, d) for d in ds],
                          "3*3072*kappa": [predicted_max_row_nonzeros(3072, d) for d in ds]})
    print("\npredicted max non-zeros per row 3 n kappa(d) (the authors' numcounts curves):")
    print(curve.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
