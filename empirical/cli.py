"""The empirical command: train, prune and compare real PyTorch networks with statmech's theory.

``empirical compare`` with no options runs the digits comparison (test error against the share
of parameters kept, every method, with and without reweighting, 5 seeds) and a CPU-sized
teacher–student comparison (torch students, measured pruned loss against ``statmech``'s theory),
writing CSV tables, ``config.json`` and figures to ``statmech-output/empirical/compare/``
(under ``$STATMECH_OUTPUT`` when set).

Every mistake — a bad option value, a missing or malformed data file or checkpoint, an output
path that cannot be written, a data set that does not fit the model — ends in one line on
stderr naming the option (``empirical train: error: --epochs must be an int >= 1; got 2.5``)
and exit status 2, checked before any training where possible.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import statmech
from statmech._validation import Integer, InvalidParameterError, check
from statmech.cli.errors import (
    OneLineArgumentParser,
    check_output_path,
    run_reporting,
    subparser,
)
from statmech.paths import output_dir
from statmech.pruning import NodeMethod

# torch, SciPy, pandas and matplotlib are imported by the functions that use them, so that
# ``empirical --help`` and a mistyped option answer at once (no torch import).

#: The pruning methods of ``empirical compare`` (the registry's gallery methods) and the
#: training defaults shown in ``--help``; the same values as empirical.compare.METHODS and
#: REAL_DATA_DEFAULTS (a test checks), kept here because that module imports torch.
METHODS = statmech.method_names(gallery=True)
TRAIN_DEFAULTS: dict[str, Any] = {"hidden": (100,), "activation": "sigmoid", "init": "xavier",
                                  "epochs": 40, "batch_size": 32}

DATA_HELP = ("'digits' (scikit-learn's bundled digits), 'mnist1d' (the mnist1d generator), "
             "'mnist:DIR' (MNIST IDX files in DIR) or 'cifar10:DIR' (CIFAR-10 python batches)")

#: The teacher–student part of ``empirical compare`` (CPU-sized; seconds on 2 cores).
TS_DEFAULTS: dict[str, Any] = {"N": 200, "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5,
                               "alpha": 50.0, "noise": 0.25, "seeds": (0, 1, 2),
                               "levels": (1, 3, 5), "n_masks": 40, "n_samples": 4000}


def load_data(spec: str, seed: int = 0):
    """A :class:`~empirical.data.Dataset` from a command-line spec (:data:`DATA_HELP`)."""
    from .data import load_cifar10, load_digits, load_idx, load_mnist1d

    name, where = check_data_spec(spec)
    if name == "digits":
        return load_digits(seed=seed)
    if name == "mnist1d":
        return load_mnist1d(standardise=True)
    if name == "mnist":
        return load_idx(where)
    return load_cifar10(where)


def check_data_spec(spec: object, param: str = "data") -> tuple[str, str]:
    """(name, directory) of a ``--data`` spec, or :class:`InvalidParameterError`."""
    if isinstance(spec, str):
        name, _, where = spec.partition(":")
        if (name in ("digits", "mnist1d") and not where) or (name in ("mnist", "cifar10")
                                                             and where):
            return name, where
    raise InvalidParameterError.build("load_data", param, DATA_HELP, spec)


# ------------------------------------------------------------------------------ errors


_DESCRIPTION = ("Train, prune and compare real PyTorch networks with statmech's theory: "
                "'empirical train' saves a checkpoint, 'empirical prune' prunes one, "
                "'empirical compare' runs the comparisons with the theory.")
_COMPARE_DESCRIPTION = (
    "With no options: the digits comparison (test error against the share of parameters kept, "
    "every method, with and without reweighting, 5 seeds) and a CPU-sized teacher-student "
    "comparison (torch students, measured pruned loss against statmech's theory). Writes CSV "
    "tables, config.json and figures to the output directory and prints a few lines of "
    "results (--print-table: the whole real-data summary).")


def _number(text: str) -> int | float:
    """An int-valued option read leniently (``2.5`` reaches the declared constraint, which then
    says what is allowed, instead of argparse's "invalid int value")."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _keep(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--keep must be a number, got {text!r}") from None
    return int(value) if np.isfinite(value) and value >= 1 and value == int(value) else value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``empirical``."""
    p = OneLineArgumentParser(prog="empirical", description=_DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train an MLP on a data set and save a checkpoint",
                       description="Train an MLP on a data set by mini-batch SGD or Adam and "
                                   "save a checkpoint (and its configuration as "
                                   "<checkpoint>.config.json).")
    t.add_argument("--data", default="digits", help=DATA_HELP)
    t.add_argument("--hidden", type=_number, nargs="+", default=list(TRAIN_DEFAULTS["hidden"]),
                   help="hidden-layer widths")
    t.add_argument("--activation", default=TRAIN_DEFAULTS["activation"],
                   choices=["sigmoid", "relu", "erf", "linear"], help="hidden-unit activation")
    t.add_argument("--init", default=TRAIN_DEFAULTS["init"], choices=["xavier", "default"],
                   help="weight initialisation (xavier, or torch's default)")
    t.add_argument("--epochs", type=_number, default=TRAIN_DEFAULTS["epochs"],
                   help="training epochs (at most)")
    t.add_argument("--batch-size", type=_number, default=TRAIN_DEFAULTS["batch_size"],
                   help="mini-batch size")
    t.add_argument("--optimizer", default="adam", choices=["adam", "sgd"], help="optimiser")
    t.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 1e-3 for Adam, 0.05 for SGD)")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    t.add_argument("--stop-at-train-accuracy", type=float, default=None,
                   help="stop after the epoch whose training accuracy reaches this "
                        "(default: train every epoch)")
    t.add_argument("--seed", type=_number, default=0,
                   help="seed of the initial weights, the shuffling and the digits split")
    t.add_argument("--float32", action="store_true",
                   help="train in float32 (default: float64)")
    t.add_argument("--device", default=None,
                   help="torch device (default: CUDA if present, else CPU)")
    t.add_argument("--output", type=Path, default=output_dir("empirical", "model.pt"),
                   help="checkpoint path")

    r = sub.add_parser("prune", help="prune one hidden layer of a checkpoint and measure it",
                       description="Prune one hidden layer of a checkpoint with one method, "
                                   "print the parameters kept and the test error before and "
                                   "after, and optionally save the pruned network.")
    r.add_argument("checkpoint", type=Path, help="a checkpoint written by 'empirical train'")
    r.add_argument("--data", default=None,
                   help="data for statistics and testing (default: the checkpoint's)")
    r.add_argument("--method", default="dpp_node", choices=list(statmech.PRUNING_METHODS),
                   help="pruning method")
    r.add_argument("--keep", type=_keep, default=0.5,
                   help="units (node) or edges per unit (edge) kept, or a fraction")
    r.add_argument("--layer", type=_number, default=0, help="hidden layer (0: the first)")
    r.add_argument("--reweight", action="store_true",
                   help="least-squares reweighting (node: activations; edge: inputs)")
    r.add_argument("--fold", default="mean", choices=["mean", "bias", "none"],
                   help="what the removed units leave in the next layer's bias: their mean "
                        "activation over the data (mean), their bias-only output g(b) (bias), "
                        "or nothing (none)")
    r.add_argument("--seed", type=_number, default=0, help="seed of the random methods")
    r.add_argument("--output", type=Path, default=None,
                   help="write the pruned checkpoint here (default: not written)")

    c = sub.add_parser("compare", help="theory vs experiment: digits and teacher-student",
                       description=_COMPARE_DESCRIPTION)
    c.add_argument("--data", default="digits", help=DATA_HELP)
    c.add_argument("--seeds", type=_number, nargs="+", default=[0, 1, 2, 3, 4],
                   help="real-data seeds")
    c.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                   metavar="METHOD", help="pruning methods, of " + ", ".join(METHODS))
    c.add_argument("--finetune-epochs", type=_number, default=0,
                   help="fine-tune every pruned network for this many epochs")
    c.add_argument("--ts-N", type=_number, default=TS_DEFAULTS["N"],
                   help="teacher-student input dimension")
    c.add_argument("--ts-seeds", type=_number, default=len(TS_DEFAULTS["seeds"]),
                   help="number of teacher-student seeds")
    c.add_argument("--skip-real-data", action="store_true", help="no real-data comparison")
    c.add_argument("--skip-teacher-student", action="store_true",
                   help="no teacher-student comparison")
    c.add_argument("--output-dir", type=Path, default=output_dir("empirical", "compare"),
                   help="directory for the tables, figures and config.json")
    c.add_argument("--print-table", action="store_true",
                   help="print the whole real-data summary table (default: a few lines and "
                        "the path of the table)")
    c.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


#: API parameter names that differ from the dest of the option that sets them, per command.
ALIASES = {
    "train": {"sizes": "hidden", "directory": "data", "X": "data", "path": "output",
              "checkpoint": "output"},
    "prune": {"directory": "data", "X": "data", "path": "checkpoint"},
    "compare": {"directory": "data", "X": "data", "N": "ts_N", "path": "output_dir"},
}


def _preflight(args: argparse.Namespace, fn: Any, names: tuple[str, ...]) -> None:
    """Check option values against the declared constraints of the API function they feed
    (``fn.__validated_params__``), before any data is loaded or any network trained."""
    table = fn.__validated_params__
    for name in names:
        check(getattr(args, name), name, fn.__name__, table[name])


def run_train(args: argparse.Namespace) -> int:
    """``empirical train``."""
    from ._checks import check_device, check_sequence
    from .fit import save_checkpoint, train_classifier
    from .models import MLP

    check_data_spec(args.data)
    check_sequence(args.hidden, "hidden", "empirical train", [Integer(1)])
    _preflight(args, train_classifier, ("epochs", "batch_size", "optimizer", "lr", "momentum",
                                        "stop_at_train_accuracy", "seed"))
    check_device(args.device, "train_classifier")
    check_output_path(args.output, "output", "empirical train")
    data = load_data(args.data, seed=args.seed)
    sizes = [data.n_features, *args.hidden, data.n_classes]
    net = MLP(sizes, activation=args.activation, init=args.init, seed=args.seed)
    net = net if args.float32 else net.double()
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    hist = train_classifier(net, data, epochs=args.epochs, batch_size=args.batch_size,
                            optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                            stop_at_train_accuracy=args.stop_at_train_accuracy, seed=args.seed,
                            device=args.device, checkpoint=args.output, config=config)
    print(f"{data.name}: {sizes}, {len(hist['epoch'])} epochs; train error "
          f"{hist['train_error'][-1]:.4f}, test error {hist['test_error'][-1]:.4f}")
    save_checkpoint(args.output, net, {**config, "epochs_done": len(hist["epoch"])}, hist)
    print(f"wrote {args.output}")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    """``empirical prune``."""
    from .fit import evaluate, load_checkpoint, save_checkpoint
    from .pruning import count_parameters, prune_mlp

    if args.data is not None:
        check_data_spec(args.data)
    _preflight(args, prune_mlp, ("keep", "layer"))
    check(args.seed, "seed", "prune_mlp", [Integer(0)])
    if args.output is not None:
        check_output_path(args.output, "output", "empirical prune")
    net, record = load_checkpoint(args.checkpoint)
    config = record["config"]
    spec = args.data or config.get("data", "digits")
    seed = config.get("seed", 0)
    if args.data is None:
        try:
            check_data_spec(spec)
        except InvalidParameterError:
            raise InvalidParameterError(
                f"{args.checkpoint}: its config names the data {spec!r:.80}, which is not a "
                "--data spec; give --data.", func="empirical prune", param="data") from None
    if not Integer(0).accepts(seed):
        seed = 0  # the seed of the digits split only; a bad stored one falls back to 0
    data = load_data(spec, seed=seed)
    if data.n_features != net.sizes[0] or data.n_classes > net.sizes[-1]:
        raise InvalidParameterError(
            f"the data {data.name!r} have {data.n_features} features and {data.n_classes} "
            f"classes but the checkpoint's model {net.sizes} expects {net.sizes[0]} features "
            f"and at most {net.sizes[-1]} classes.", func="empirical prune", param="data")
    net = net.to(next(net.parameters()).dtype).eval()
    node = isinstance(statmech.PRUNING_METHODS[args.method], NodeMethod)
    mode = None if not args.reweight else ("activations" if node else "preactivations")
    pruned, res = prune_mlp(net, args.method, keep=args.keep, layer=args.layer, X=data.X_train,
                            seed=args.seed, reweight=mode, fold=args.fold)
    pruned.eval()
    before, after = evaluate(net, data.X_test, data.y_test), evaluate(pruned, data.X_test,
                                                                      data.y_test)
    n0, n1 = count_parameters(net), count_parameters(pruned)
    print(f"{args.method} (keep {res.keep}{' + rwt' if mode else ''}): parameters {n1}/{n0} "
          f"({100 * n1 / n0:.1f} %); test error {before['error']:.4f} -> {after['error']:.4f}")
    if args.output is not None:
        save_checkpoint(args.output, pruned, {**record["config"], "pruned": {
            "method": args.method, "keep": res.keep, "layer": args.layer,
            "reweight": mode, "fold": args.fold, "seed": args.seed}})
        print(f"wrote {args.output}")
    return 0


def plot_real_data(table: Any, out: Path, stem: str = "real_data") -> list[Path]:
    """:func:`draw_real_data`, saved as PNG and PDF (drawn and saved in the house style)."""
    from statmech.plotting.style import house_style, save_figure

    with house_style():
        return save_figure(draw_real_data(table), out, stem)


def draw_real_data(table: Any):
    """Test error (%) against parameters kept (%), mean ± std over seeds; one panel without
    and one with reweighting (open markers, dashed), one legend below both."""
    from matplotlib.lines import Line2D

    from statmech.plotting.style import method_style, new_figure, plain_log_ticks

    from .compare import summarise

    s = summarise(table)
    fig, axes = new_figure(2, sharey=True, height=2.9)
    base = s[s.method == "unpruned"]
    methods = [m for m in s.method.unique() if m != "unpruned"]
    for ax, rw in zip(axes, (False, True), strict=True):
        for method in methods:
            part = s[(s.method == method) & (s.reweight == rw)]
            if part.empty:
                continue
            st = method_style(method, rw)
            ax.errorbar(part.params_kept_pct_mean, 100 * part.test_error_mean,
                        yerr=100 * part.test_error_std.fillna(0), ms=3, lw=0.8, capsize=1.5,
                        **st)
        if not base.empty:
            ax.axhline(100 * base.test_error_mean.iloc[0], color="k", ls=":", lw=0.8,
                       zorder=0)
        ax.set_xlabel("parameters kept (%)")
        ax.set_title("with reweighting (open markers, dashed)" if rw
                     else "without reweighting")
        ax.set_yscale("log")
        plain_log_ticks(ax, "y")
    axes[0].set_ylabel("test error (%)")
    handles, labels = [], []
    for method in methods:
        st = method_style(method)
        handles.append(Line2D([], [], color=st["color"], marker=st["marker"], ms=3, lw=0.8))
        labels.append(st["label"])
    if not base.empty:
        handles.append(Line2D([], [], color="k", ls=":", lw=0.8))
        labels.append("unpruned")
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    cfg = table.attrs.get("config", {})
    sizes = cfg.get("sizes")
    arch = f" MLP, layer sizes {', '.join(map(str, sizes))}" if sizes else ""
    fig.suptitle(f"{cfg.get('data', '')}{arch}: mean ± std over {table.seed.nunique()} seeds",
                 fontsize=8)
    return fig


def plot_teacher_student(table: Any, out: Path, stem: str = "teacher_student") -> list[Path]:
    """:func:`draw_teacher_student`, saved as PNG and PDF (drawn and saved in the house
    style)."""
    from statmech.plotting.style import house_style, save_figure

    with house_style():
        return save_figure(draw_teacher_student(table), out, stem)


def draw_teacher_student(table: Any):
    """Left: measured pruned ε_g of torch students against statmech's finite-N theory
    (log-log, 1:1 line). Right: the standardised differences z = (measured − theory)/SE with
    the family-wise (Bonferroni, 0.27 %) band. One marker per method; one legend below."""
    from matplotlib.lines import Line2D
    from scipy import stats

    from statmech.plotting.style import method_style, new_figure, plain_log_ticks

    fig, (ax, az) = new_figure(2, height=3.0)
    n = len(table)
    z_crit = float(stats.norm.isf(0.0027 / (2 * n)))
    z = (table.eg_measured - table.theory_finite_n) / table.eg_measured_se
    handles, labels = [], []
    for method in table.method.unique():
        sel = (table.method == method).to_numpy()
        part = table[sel]
        st = method_style(method)
        st.pop("ls")
        label = st.pop("label")
        ax.errorbar(part.theory_finite_n, part.eg_measured, yerr=part.eg_measured_se, ls="none",
                    ms=3.5, lw=0.8, **st)
        az.plot(part.theory_finite_n, z[sel], ls="none", ms=3.5, **st)
        handles.append(Line2D([], [], ls="none", ms=3.5, **st))
        labels.append(label)
    az.axhspan(-z_crit, z_crit, color="0.9", zorder=0)
    az.axhline(0, color="0.5", lw=0.6)
    az.set_xscale("log")
    plain_log_ticks(az, "x")
    az.set_xlabel("theory: expected pruned $\\epsilon_g$")
    az.set_ylabel("z = (measured − theory) / SE")
    az.set_title(f"{n} comparisons; grey: |z| < {z_crit:.2f} (family-wise 0.27 %)",
                 fontsize=7)
    lo = float(min(table.theory_finite_n.min(), table.eg_measured.min())) * 0.8
    hi = float(max(table.theory_finite_n.max(), table.eg_measured.max())) * 1.2
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.6, zorder=0)
    handles.append(Line2D([], [], color="0.5", lw=0.6))
    labels.append("measured = theory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax)
    ax.set_xlabel("theory: expected pruned $\\epsilon_g$")
    ax.set_ylabel("torch students: measured pruned $\\epsilon_g$")
    ax.set_title("measured against theory (finite N), ± SE", fontsize=7)
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    settings = []
    for col, name in (("K", "K"), ("M", "M"), ("N", "N"), ("v_star", "v*"), ("eta", "η"),
                      ("alpha", "α"), ("noise", "σ")):
        if col in table.columns:
            vals = sorted(table[col].dropna().unique())
            settings.append(f"{name} = {'/'.join(f'{v:g}' for v in vals)}")
    seeds = f", {table.seed.nunique()} seeds" if "seed" in table.columns else ""
    fig.suptitle("teacher–student pruning, torch students against statmech's theory"
                 + (f"\n{', '.join(settings)}{seeds}" if settings else seeds), fontsize=7)
    return fig


def real_data_digest(summary: Any) -> str:
    """A few lines of a :func:`~empirical.compare.summarise` table for the terminal: the
    unpruned test error, and each method's test error (without / with reweighting) at the
    level that keeps the share of parameters nearest one half."""
    lines = []
    base = summary[summary.method == "unpruned"]
    if not base.empty:
        lines.append(f"unpruned: test error {base.test_error_mean.iloc[0]:.4f}")
    pruned = summary[summary.method != "unpruned"]
    if pruned.empty:
        return "\n".join(lines)
    fractions = np.array(sorted(pruned.fraction.unique()), dtype=float)
    mid = fractions[np.argmin(np.abs(fractions - 0.5))]
    lines.append(f"test error at fraction {mid:g} (without / with reweighting):")
    at = pruned[np.isclose(pruned.fraction.astype(float), mid)]
    for method in at.method.unique():
        part = at[at.method == method]
        errors = [part[part.reweight == rw].test_error_mean for rw in (False, True)]
        text = " / ".join(f"{e.iloc[0]:.4f}" if not e.empty else "-" for e in errors)
        kept = part.params_kept_pct_mean.iloc[0]
        lines.append(f"  {method:15s} {text}  ({kept:.0f} % of parameters kept)")
    return "\n".join(lines)


def run_compare(args: argparse.Namespace) -> int:
    """``empirical compare``: tables, config.json and figures."""
    import pandas as pd
    from scipy import stats

    from ._checks import check_sequence
    from .compare import real_data_table, summarise, teacher_student_table

    if not args.skip_real_data:
        check_data_spec(args.data)
        check_sequence(args.seeds, "seeds", "empirical compare", [Integer(0)])
        check(args.finetune_epochs, "finetune_epochs", "empirical compare", [Integer(0)])
    if not args.skip_teacher_student:
        check(args.ts_N, "ts_N", "empirical compare", [Integer(1)])
        check(args.ts_seeds, "ts_seeds", "empirical compare", [Integer(1)])
    out = check_output_path(args.output_dir, "output_dir", "empirical compare", directory=True)
    out.mkdir(parents=True, exist_ok=True)
    progress = False if args.quiet else None
    config: dict[str, Any] = {"command": " ".join(sys.argv), "statmech": statmech.__version__}
    timings = {}
    if not args.skip_real_data:
        t0 = time.perf_counter()
        data = load_data(args.data)
        table = real_data_table(data, seeds=tuple(args.seeds), methods=tuple(args.methods),
                                finetune_epochs=args.finetune_epochs, progress=progress)
        timings["real_data_s"] = round(time.perf_counter() - t0, 1)
        table.to_csv(out / "real_data.csv", index=False)
        summary = summarise(table)
        summary.to_csv(out / "real_data_summary.csv", index=False)
        config["real_data"] = table.attrs["config"]
        plot_real_data(table, out)
        if args.print_table:
            with pd.option_context("display.width", 200, "display.max_rows", None):
                print(summary.round(4).to_string(index=False))
        else:
            print(real_data_digest(summary))
        print(f"wrote {out / 'real_data_summary.csv'} ({len(summary)} rows) and "
              f"{out / 'real_data.csv'} ({len(table)} rows)")
    if not args.skip_teacher_student:
        t0 = time.perf_counter()
        ts = dict(TS_DEFAULTS, N=args.ts_N, seeds=tuple(range(args.ts_seeds)))
        table = teacher_student_table(methods=tuple(args.methods), progress=progress, **ts)
        timings["teacher_student_s"] = round(time.perf_counter() - t0, 1)
        table["z"] = (table.eg_measured - table.theory_finite_n) / table.eg_measured_se
        table.to_csv(out / "teacher_student.csv", index=False)
        config["teacher_student"] = {k: list(v) if isinstance(v, tuple) else v
                                     for k, v in ts.items()}
        plot_teacher_student(table.assign(**{k: ts[k] for k in ("K", "M", "N", "v_star", "eta",
                                                                 "alpha")
                                             if k not in table.columns}), out)
        n = len(table)
        z_crit = float(stats.norm.isf(0.0027 / (2 * n)))
        print(f"teacher-student: {n} comparisons, max |z| = {np.abs(table.z).max():.2f} "
              f"(Bonferroni threshold {z_crit:.2f})")
    config["timings"] = timings
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    print(f"wrote tables, figures and config.json to {out} ({timings})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``empirical`` console script (exit status 2 on any usage error: one
    line on stderr naming the option, :mod:`statmech.cli.errors`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error already printed as one line (2)
        return int(exc.code or 0)
    prog = f"empirical {args.command}"
    run = {"train": run_train, "prune": run_prune, "compare": run_compare}[args.command]
    if args.command == "compare":  # the command that draws: files only, no window
        import matplotlib

        matplotlib.use("Agg")
    try:
        return run_reporting(lambda: run(args), subparser(parser, args.command), prog=prog,
                             aliases=ALIASES[args.command]) or 0
    except OSError as exc:  # e.g. a disk full or a directory made read-only during the run
        message = (f"{exc.strerror}: {exc.filename!r}" if exc.filename and exc.strerror
                   else str(exc))
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
