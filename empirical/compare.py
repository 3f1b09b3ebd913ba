"""Theory against experiment: torch networks, pruned by every method, measured and predicted.

:func:`real_data_table` (comparison (b)): MLPs trained on a real data set (digits by default),
one hidden layer pruned by every method at matched levels, with and without reweighting,
optionally fine-tuned, test error against the share of the network's parameters kept, over
several seeds; :func:`summarise` gives mean ± std over seeds.

:func:`teacher_student_table` (comparison (a)): torch students trained by online SGD
with the theory's scalings (:func:`empirical.training.train_online`; all seeds trained at once
as one ensemble), their order parameters measured, every method at the matched node ↔ edge
levels applied to the torch weights (:func:`empirical.pruning.prune_committee`), the pruned
½·MSE measured on fresh samples against the noiseless teacher (and against noisy labels, beside
ε_g + σ²/2; :func:`empirical.pruning.measure_losses`, its inputs shared by all the methods and
levels of one seed, see :func:`teacher_student_table`), and the prediction of
:func:`statmech.prune_theory` (large N from the order parameters; finite N from the weights for
edge methods).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import statmech
from statmech._validation import (
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Options,
    Real,
    check,
    check_keys,
    validate_params,
)
from statmech.pruning import NodeMethod

from ._checks import DEVICE, PATH, check_device, check_sequence, mlp_parameter_count
from .data import Dataset
from .fit import OPTIMIZERS, train_classifier
from .models import ACTIVATIONS, INITS, CommitteeMachine, order_parameters
from .pruning import METHOD_NAMES, prune_committee
from .training import train_online

SEQUENCE = [InstanceOf((list, tuple), "a non-empty list or tuple")]

__all__ = ["teacher_student_table", "real_data_table", "summarise", "REAL_DATA_DEFAULTS",
           "node_count_for_edges"]

#: The methods compared: the registry's gallery methods, in display order.
METHODS = statmech.method_names(gallery=True)


@validate_params({"N": [Integer(1)], "K": [Integer(1)], "M": [Integer(1)], "v_star": [Real()],
                  "eta": [Real(0.0, closed="neither")], "alpha": [Real(0.0, closed="neither")],
                  "noise": [Real(0.0)], "seeds": SEQUENCE, "levels": SEQUENCE,
                  "methods": SEQUENCE, "n_masks": [Integer(1)], "n_samples": [Integer(1)],
                  "progress": [None, Boolean()]},
                 func_name="teacher_student_table")
def teacher_student_table(*, N: int = 200, K: int = 6, M: int = 2, v_star: float = 4.0,
                          eta: float = 0.5, alpha: float = 50.0, noise: float = 0.0,
                          seeds: tuple[int, ...] = (0, 1, 2), levels: tuple[int, ...] = (1, 3, 5),
                          methods: tuple[str, ...] = METHODS, n_masks: int = 10,
                          n_samples: int = 4000, progress: bool | None = None) -> Any:
    """Measured pruned loss of trained torch students against theory (module docstring).

    For every seed s: a teacher (M units, weights N(0, 1) from ``default_rng(s)``, second-layer
    weights v*) and a student (K units, v from the same generator, W from torch seed s + 1000,
    :class:`~empirical.models.CommitteeMachine`'s default) trained by
    :func:`~empirical.training.train_online` for α·N steps on the data of seed s + 2000. The
    students of all the seeds are trained together as one ensemble (one torch model, member e
    with its own teacher and its own data stream), which gives each seed the same student as a
    run with that seed alone. Every method prunes the student ``n_masks`` times at every level
    (seed s + 3000; node methods keep k units, edge methods the matched number of edges per
    unit), and the pruned ½·MSE is measured on ``n_samples`` Gaussian inputs per mask (seed
    s + 4000, :func:`~empirical.pruning.measure_losses`).

    The inputs: mask m of every (method, level) is measured on the same input set x_m, and
    the noiseless and noisy losses on the same inputs (the noisy labels add σ z_m); different
    masks have independent input sets, all drawn in one call per chunk. Within one row the
    masks and their input sets are independent and identically distributed, so the per-mask
    losses are i.i.d. and ``eg_measured_se`` = std over masks (ddof 1) / √n_masks is an honest
    standard error of ``eg_measured`` for the row's estimand, the mask-averaged ε_g of that
    trained student — it includes both the mask-to-mask spread and the finite-sample noise.
    The shared inputs correlate different rows of one seed (common random numbers: their
    differences are measured more precisely), which leaves every row's own SE unchanged; the
    family-wise (Bonferroni) threshold ``empirical compare`` prints holds under any such
    dependence. Seeds are independent of each other.

    Parameters
    ----------
    N, K, M, v_star, eta, alpha, noise
        Input dimension, student and teacher units, teacher second-layer weights, learning
        rate, training time α (steps = α·N) and the label-noise standard deviation σ.
    seeds, levels, methods
        Seeds, kept units k (1 <= k <= K) and pruning methods.
    n_masks, n_samples
        Masks per (method, level), and test inputs per mask. Use a few dozen masks: a discrete
        kept-set distribution makes the SE of a handful of masks unreliable.
    progress : bool, optional
        Progress bars (training: SGD steps; then the comparisons measured), shown on a
        terminal by default and as plain lines where :func:`statmech._progress.
        plain_progress_lines` asks for them (the command-line tools).

    Returns
    -------
    pandas.DataFrame
        One row per seed, method and level: ``keep``, ``eg_measured`` (± ``eg_measured_se``),
        ``loss_noisy_measured``, ``theory`` (large N, from the order parameters),
        ``theory_finite_n`` (from the weights for edge methods), ``theory_noisy``
        (= finite-N ε_g + σ²/2) and ``eg_unpruned``.
    """
    import pandas as pd
    import torch

    from statmech._progress import ProgressBar

    from .pruning import measure_losses

    func = "teacher_student_table"
    seeds = check_sequence(seeds, "seeds", func, [Integer(0)])
    levels = check_sequence(levels, "levels", func, [Integer(1, K)])
    methods = check_sequence(methods, "methods", func, [Options(METHOD_NAMES)])
    E = len(seeds)
    teacher_W, student_W, student_v = [], [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        teacher_W.append(rng.standard_normal((M, N)))
        student_v.append(rng.standard_normal(K))
        # the default initial weights of a one-seed student (torch generator, seed + 1000)
        student_W.append(CommitteeMachine(N, K, seed=seed + 1000).W[0].detach())
    teacher = CommitteeMachine(N, M, ensemble=E, W=np.stack(teacher_W), v=np.full(M, v_star),
                               train_second_layer=False)
    student = CommitteeMachine(N, K, ensemble=E, W=torch.stack(student_W),
                               v=np.stack(student_v))
    steps = int(round(alpha * N))
    with ProgressBar(steps, f"teacher-student: training {E} torch student"
                     f"{'s at once' if E > 1 else ''} (N={N}, K={K})", progress,
                     unit="SGD steps") as bar:
        train_online(student, teacher, eta=eta, steps=steps, noise=noise,
                     seed=[s + 2000 for s in seeds], progress=bar)
    ops = order_parameters(student, teacher)
    plan = [(method, k) for method in methods for k in levels]
    rows = []
    with ProgressBar(E * len(plan), "teacher-student: pruning and measuring", progress,
                     unit="comparisons (seed × method × level)") as bar:
        for e, seed in enumerate(seeds):
            op = ops if E == 1 else ops[e]
            W, Ws = student.W[e].detach().double().cpu().numpy(), teacher_W[e]
            one_teacher = CommitteeMachine(N, M, W=Ws, v=np.full(M, v_star),
                                           train_second_layer=False)
            eg0 = float(statmech.generalization_error(op))
            pruned, keeps = [], []
            for method, k in plan:
                keep = statmech.PRUNING_METHODS[method].matched_keep(k, K, N)
                pruned.append(prune_committee(student, method, keep=keep, member=e,
                                              n_masks=n_masks, seed=seed + 3000)[0])
                keeps.append(keep)
            clean, noisy = measure_losses(pruned, one_teacher, n_samples=n_samples,
                                          noise=noise, seed=seed + 4000)
            for (method, k), keep, eg, loss in zip(plan, keeps, clean, noisy, strict=True):
                node = isinstance(statmech.PRUNING_METHODS[method], NodeMethod)
                th = statmech.prune_theory(op, method, keep, N=N)
                th_n = th if node else statmech.prune_theory(op, method, keep, weights=W,
                                                             teacher_weights=Ws)
                rows.append({
                    "seed": seed, "method": method, "level": k, "keep": keep, "noise": noise,
                    "eg_measured": float(eg.mean()),
                    "eg_measured_se": float(eg.std(ddof=1) / np.sqrt(eg.size)) if eg.size > 1
                    else float("nan"),
                    "loss_noisy_measured": float(loss.mean()),
                    "theory": th.mean_eg, "theory_finite_n": th_n.mean_eg,
                    "theory_noisy": th_n.mean_eg + noise**2 / 2, "eg_unpruned": eg0,
                })
            bar.update(len(plan))
    return pd.DataFrame(rows)


#: Networks of at most this many parameters are trained and pruned by :func:`real_data_table`
#: on one thread (see :func:`_one_thread`).
SMALL_NETWORK = 2**17


@contextlib.contextmanager
def _one_thread(enabled: bool = True) -> Iterator[None]:
    """Inside the block (when ``enabled``): one torch intra-op thread and one BLAS/OpenMP
    thread (through ``threadpoolctl`` when installed; scikit-learn brings it), restored after.

    For small networks (the digits MLP 64-100-10: mini-batches of 32, 64×64 eigenproblems in
    the DPP samplers) every operation is too small for a second thread to pay for waking it.
    On a busy 2-core machine (other processes running) one digits seed of
    :func:`real_data_table` took 30–50 s on two threads and 3–3.7 s on one, with identical
    results.
    """
    if not enabled:
        yield
        return
    import torch

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - torch alone is limited
        limits: Any = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1)
    old = torch.get_num_threads()
    with limits:
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(old)


#: Defaults of :func:`real_data_table` for scikit-learn's digits (justified in docs/empirical.md:
#: a one-hidden-layer sigmoid MLP as in the seed paper, wide enough that pruning 10–90 % of it
#: matters, trained to ~0 training error in about a second).
REAL_DATA_DEFAULTS: dict[str, Any] = {
    "hidden": (100,), "activation": "sigmoid", "init": "xavier", "epochs": 40, "batch_size": 32,
    "optimizer": "adam", "lr": 1e-3, "test_fraction": 0.25,
    "fractions": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "kernel": "rbf", "beta": None, "jitter": 0.01, "seeds": (0, 1, 2),
}


@validate_params({"e": [Integer(0)], "H": [Integer(1)], "D": [Integer(1)], "C": [Integer(1)],
                  "bias": [Boolean()]}, func_name="node_count_for_edges")
def node_count_for_edges(e: int, H: int, D: int, C: int, bias: bool = True) -> int:
    """Units k whose parameter count matches e edges per unit (inverse of
    :func:`statmech.match_parameters`, rounded to the nearest unit, in [1, H])."""
    b = 1 if bias else 0
    k = round(H * (e + b + C) / (D + b + C))
    return int(min(max(k, 1), H))


@validate_params({"data": [Options(("digits", "mnist1d")), InstanceOf(Dataset, "a Dataset")],
                  "hidden": [None, *SEQUENCE], "activation": [None, Options(ACTIVATIONS)],
                  "layer": [Integer(0)], "methods": SEQUENCE, "fractions": [None, *SEQUENCE],
                  "reweight": SEQUENCE, "seeds": [None, *SEQUENCE],
                  "epochs": [None, Integer(1)], "batch_size": [None, Integer(1)],
                  "optimizer": [None, Options(OPTIMIZERS)],
                  "lr": [None, Real(0.0, closed="neither")], "finetune_epochs": [Integer(0)],
                  "kernel": [None, Options(("linear", "rbf"))],
                  "beta": [None, Real(0.0, closed="neither")], "jitter": [None, Real(0.0)],
                  "device": DEVICE, "progress": [None, Boolean()],
                  "checkpoint_dir": [None, *PATH], "init": [None, Options(INITS)],
                  "train_options": [None, InstanceOf(dict, "a dict")], "double": [Boolean()],
                  "node_levels": [Options(("matched", "fraction"))]},
                 func_name="real_data_table")
def real_data_table(data: Any = "digits", *, hidden: tuple[int, ...] | None = None,
                    activation: str | None = None, layer: int = 0,
                    methods: tuple[str, ...] = METHODS,
                    fractions: tuple[float, ...] | None = None,
                    reweight: tuple[bool, ...] = (False, True),
                    seeds: tuple[int, ...] | None = None,
                    epochs: int | None = None, batch_size: int | None = None,
                    optimizer: str | None = None, lr: float | None = None,
                    finetune_epochs: int = 0, kernel: str | None = None,
                    beta: float | None = None, jitter: float | None = None,
                    device: Any = None, progress: bool | None = None,
                    checkpoint_dir: Any = None, init: str | None = None,
                    train_options: dict | None = None, double: bool = True,
                    node_levels: str = "matched") -> Any:
    """Test error of pruned MLPs on real data against the share of parameters kept.

    For every seed an MLP (``hidden`` widths, ``activation``) is trained on ``data`` with that
    seed (initialisation and shuffling), then hidden layer ``layer`` is pruned by every method:
    edge methods keep e = ⌈p·D⌉ incoming edges per unit for each fraction p in ``fractions``
    (as the seed paper), node methods keep the number of units with the same parameter count
    (:func:`node_count_for_edges`, biases counted). ``reweight`` lists the passes: without, and
    with least-squares reweighting (node methods: the kept units' outgoing weights on the
    activations, with intercept; edge methods: the kept incoming weights on the inputs).
    ``spectral_node`` always reconstructs, so it appears only in the pass without reweighting.
    The data statistics are measured on the whole training set. With ``finetune_epochs`` > 0
    every pruned network is also trained further (masks kept) and measured again.

    Parameters
    ----------
    data : Dataset or {"digits", "mnist1d"}
    hidden, activation, epochs, batch_size, optimizer, lr, fractions, seeds, kernel, beta,
    jitter
        Default: :data:`REAL_DATA_DEFAULTS`. ``kernel``/``beta``/``jitter`` are the DPP-node
        kernel options (β None: the median heuristic).
    layer : int
        The hidden layer pruned (0: the first).
    methods : tuple of str
    finetune_epochs : int
    device : str, optional
    progress : bool, optional
    checkpoint_dir : path, optional
        Save each seed's trained network there (:func:`empirical.save_checkpoint`).
    init : {"xavier", "default"}, optional
        The MLP initialisation (default :data:`REAL_DATA_DEFAULTS`).
    train_options : dict, optional
        Further keywords of :func:`empirical.train_classifier` (``momentum``,
        ``weight_decay``, ``stop_at_train_accuracy``).
    double : bool
        Train in float64 (default; float32 for large networks).
    node_levels : {"matched", "fraction"}
        Node methods keep the parameter-matched number of units (default), or ⌈p·H⌉ units, as
        the seed paper's May-2020 real-data runs (``docs/seed_paper.md`` §3.4).

    Networks of at most :data:`SMALL_NETWORK` parameters (the digits default has 7,510) are
    trained and pruned with one torch thread and one BLAS thread (:func:`_one_thread`).

    Returns
    -------
    pandas.DataFrame
        One row per seed, method, reweighting and level (plus an ``"unpruned"`` row per seed):
        ``fraction``, ``keep`` (units or edges per unit), ``params_kept``, ``params_total``,
        ``params_kept_pct``, ``test_error``, ``test_loss`` and, when fine-tuning,
        ``test_error_finetuned``. ``DataFrame.attrs["config"]`` holds the configuration.
    """
    import pandas as pd

    from .data import load_digits, load_mnist1d
    from .fit import evaluate, save_checkpoint
    from .models import MLP
    from .pruning import count_parameters, prune_mlp

    func = "real_data_table"
    d = REAL_DATA_DEFAULTS
    hidden = check_sequence(d["hidden"] if hidden is None else hidden, "hidden", func,
                            [Integer(1)])
    activation = d["activation"] if activation is None else activation
    fractions = check_sequence(d["fractions"] if fractions is None else fractions, "fractions",
                               func, [Real(0.0, 1.0, "right")])
    seeds = check_sequence(d["seeds"] if seeds is None else seeds, "seeds", func,
                           [Integer(0, 2**63 - 1)])
    methods = check_sequence(methods, "methods", func, [Options(METHOD_NAMES)])
    reweight = check_sequence(reweight, "reweight", func, [Boolean()], unique=True)
    epochs = d["epochs"] if epochs is None else epochs
    batch_size = d["batch_size"] if batch_size is None else batch_size
    optimizer = d["optimizer"] if optimizer is None else optimizer
    lr = d["lr"] if lr is None else lr
    kernel = d["kernel"] if kernel is None else kernel
    jitter = d["jitter"] if jitter is None else jitter
    init = d["init"] if init is None else init
    train_options = dict(train_options or {})
    check_keys(train_options, ("momentum", "weight_decay", "stop_at_train_accuracy"),
               "train_options key", func)
    for key, value in train_options.items():  # train_classifier's own constraints, checked now
        check(value, key, func, train_classifier.__validated_params__[key])
    check(layer, "layer", func, [Integer(0, len(hidden) - 1)])
    check_device(device, func)
    if isinstance(data, str):
        loaders = {"digits": lambda: load_digits(test_fraction=d["test_fraction"]),
                   "mnist1d": lambda: load_mnist1d(standardise=True)}
        data = loaders[data]()
    sizes = [data.n_features, *hidden, data.n_classes]
    D, H, C = sizes[layer], sizes[layer + 1], sizes[layer + 2]
    config = {"data": data.name, "data_meta": data.meta, "sizes": sizes,
              "activation": activation, "layer": layer, "methods": list(methods),
              "fractions": list(fractions), "reweight": list(reweight), "seeds": list(seeds),
              "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
              "finetune_epochs": finetune_epochs, "kernel": kernel, "beta": beta,
              "jitter": jitter, "init": init, "train_options": train_options,
              "double": double, "node_levels": node_levels}
    train_kw = dict(batch_size=batch_size, optimizer=optimizer, lr=lr, device=device,
                    progress=False, **train_options)
    X_stats = data.X_train
    rows: list[dict[str, Any]] = []
    plan = [(m, rw, p) for rw in reweight for m in methods
            if not (rw and statmech.PRUNING_METHODS[m].reconstructs) for p in fractions]
    from statmech._progress import ProgressBar

    small = mlp_parameter_count(sizes) <= SMALL_NETWORK
    with ProgressBar(len(seeds) * (len(plan) + 1), "real-data pruning", progress) as bar, \
            _one_thread(small):
        for seed in seeds:
            net = MLP(sizes, activation=activation, init=init, seed=seed)
            net = net.double() if double else net
            train_classifier(net, data, epochs=epochs, seed=seed, **train_kw)
            net.eval()
            if checkpoint_dir is not None:
                from pathlib import Path

                save_checkpoint(Path(checkpoint_dir) / f"{data.name}_seed{seed}.pt", net,
                                {**config, "seed": seed})
            total = count_parameters(net)
            base = evaluate(net, data.X_test, data.y_test)
            rows.append({"seed": seed, "method": "unpruned", "reweight": False, "fraction": 1.0,
                         "keep": H, "params_kept": total, "params_total": total,
                         "params_kept_pct": 100.0, "test_error": base["error"],
                         "test_loss": base["loss"],
                         **({"test_error_finetuned": base["error"]} if finetune_epochs else {})})
            bar.update(1)
            for method, rw, p in plan:
                node = isinstance(statmech.PRUNING_METHODS[method], NodeMethod)
                e = math.ceil(p * D - 1e-9)
                if not node:
                    keep = e
                elif node_levels == "matched":
                    keep = node_count_for_edges(e, H, D, C)
                else:
                    keep = max(1, math.ceil(p * H - 1e-9))
                options = {k: v for k, v in (("kernel", kernel), ("beta", beta),
                                                    ("jitter", jitter))
                           if k in statmech.PRUNING_METHODS[method].options}
                mode = None if not rw else ("activations" if node else "preactivations")
                pruned, _ = prune_mlp(net, method, keep=keep, layer=layer, X=X_stats, seed=seed,
                                      reweight=mode, **options)
                pruned.eval()
                kept = count_parameters(pruned)
                res = evaluate(pruned, data.X_test, data.y_test)
                row = {"seed": seed, "method": method, "reweight": bool(rw), "fraction": p,
                       "keep": keep, "params_kept": kept, "params_total": total,
                       "params_kept_pct": 100.0 * kept / total, "test_error": res["error"],
                       "test_loss": res["loss"]}
                if finetune_epochs:
                    train_classifier(pruned, data, epochs=finetune_epochs, seed=seed, **train_kw)
                    pruned.eval()
                    row["test_error_finetuned"] = evaluate(pruned, data.X_test,
                                                           data.y_test)["error"]
                rows.append(row)
                bar.update(1)
    table = pd.DataFrame(rows)
    table.attrs["config"] = config
    return table


def summarise(table: Any) -> Any:
    """Mean ± std (ddof 1) over seeds of :func:`real_data_table`'s rows, per method,
    reweighting and level."""
    import pandas as pd

    check(table, "table", "summarise", [InstanceOf(pd.DataFrame, "a pandas DataFrame")])
    need = ("method", "reweight", "fraction", "test_error", "params_kept_pct")
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise InvalidParameterError.build(
            "summarise", "table", "a table of real_data_table (columns "
            + ", ".join(map(repr, need)) + ")", f"a DataFrame without {missing}")
    cols = [c for c in ("test_error", "test_error_finetuned", "params_kept_pct")
            if c in table.columns]
    g = table.groupby(["method", "reweight", "fraction"], sort=False)[cols]
    out = g.agg(["mean", "std", "count"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    return out.reset_index()
